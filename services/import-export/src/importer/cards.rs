//! A batch of a card file: each row's card issued to its holder through the card service, with
//! the day the other system issued it. A card already held by the same client is a duplicate (so
//! a file imported twice changes nothing); held by someone else, an error naming them.
use super::Importer;
use super::holders::{Outcome, Row, Step, field_of, not_found, row_of, tally, within_scope};
use crate::domain::holdings::{CardRow, card};
use crate::domain::layout::{Field, Layout};
use crate::reader::Item;
use crate::runner::Stop;
use crate::store::jobs::Job;
use crate::store::reports::Report;
use loyalty_api::card::v1 as cpb;
use loyalty_api::common::v1::{Channel as Via, RequestContext};
use tonic::Code;

pub const KIND: &str = "import_cards";

impl Importer {
    /// The reports of a batch of card rows, how many cards it issued and how many it skipped.
    pub(super) async fn card_reports(
        &self,
        job: &Job,
        layout: &Layout,
        batch: Vec<Item>,
    ) -> Result<(Vec<Report>, i64, i64), Stop> {
        tally(batch, |item| self.card_row(job, layout, item), |row| self.card_write(job, layout, row)).await
    }

    /// A card row read, its store checked against the scope and its holder found.
    async fn card_row(&self, job: &Job, layout: &Layout, item: Item) -> Result<Step<Row<CardRow>>, Stop> {
        let (number, cells) = match row_of(item) {
            Ok(row) => row,
            Err(step) => return Ok(step),
        };
        let fail = |field: Field, why: String| {
            Ok(Step::Done(Some(Outcome::error(number, &cells, layout.column_of(field), why))))
        };
        let mut parsed = match card(layout, &cells, self.settings.max_cell_chars, time::OffsetDateTime::now_utc()) {
            Ok(parsed) => parsed,
            Err(problems) => return Ok(Step::Done(Some(Outcome::Report(super::error(number, cells, problems))))),
        };
        if let Err(why) = within_scope(job, &mut parsed.store_id) {
            return fail(Field::Store, why);
        }
        let Some(client_id) = self.holder(job, &parsed.holder).await? else {
            return fail(field_of(&parsed.holder), not_found(job));
        };
        Ok(Step::Write { lane: parsed.number.clone(), work: Row { number, cells, client_id, parsed } })
    }

    /// Issues a row's card (a dry run asks who holds the number instead).
    async fn card_write(&self, job: &Job, layout: &Layout, row: Row<CardRow>) -> Result<Option<Outcome>, Stop> {
        let Row { number, cells, client_id, parsed } = &row;
        let fail = |field: Field, why: String| Ok(Some(Outcome::error(*number, cells, layout.column_of(field), why)));
        let already = |holder: Option<String>, otherwise: String| match holder {
            Some(holder) if &holder == client_id => {
                let why = format!("the client {client_id} already holds this card (skipped)");
                Ok(Some(Outcome::duplicate(*number, cells, client_id, (layout.column_of(Field::CardNumber), why))))
            }
            Some(holder) => {
                fail(Field::CardNumber, format!("the card {} is already held by the client {holder}", parsed.number))
            }
            None => fail(Field::CardNumber, otherwise),
        };
        if job.request.dry_run {
            return match self.card_holder(job, &parsed.number).await? {
                None => Ok(Some(Outcome::Created)),
                holder => already(holder, String::new()),
            };
        }
        match self.issue(job, *number, parsed, client_id).await {
            Ok(()) => Ok(Some(Outcome::Created)),
            Err(s) if s.code() == Code::AlreadyExists => {
                already(self.card_holder(job, &parsed.number).await?, s.message().into())
            }
            Err(s) if matches!(s.code(), Code::InvalidArgument | Code::FailedPrecondition | Code::PermissionDenied) => {
                let message = s.message();
                let field = match message {
                    m if m.contains("created_at") => Field::IssuedAt,
                    m if m.contains("store_id") => Field::Store,
                    m if m.contains("client_id") || m.contains("merged") => field_of(&parsed.holder),
                    _ => Field::CardNumber,
                };
                fail(field, message.to_string())
            }
            Err(s) => Err(Stop::Passing(anyhow::anyhow!("the card service: {s}"))),
        }
    }

    /// Who holds card `number`, if anyone.
    async fn card_holder(&self, job: &Job, number: &str) -> Result<Option<String>, Stop> {
        let request = cpb::LookupCardRequest {
            key: Some(cpb::lookup_card_request::Key::Number(number.to_string())),
            any_status: true,
            with_points: false,
        };
        match self.cards.clone().lookup_card(self.identity.request(job.tenant.as_str(), request)?).await {
            Ok(found) => Ok(Some(found.into_inner().client_id)),
            Err(s) if s.code() == Code::NotFound => Ok(None),
            Err(s) => Err(Stop::Passing(anyhow::anyhow!("the card service: {s}"))),
        }
    }

    /// Issues the row's card, with a key of the row's own so a resumed job never issues it twice.
    async fn issue(&self, job: &Job, row: i64, card: &CardRow, client_id: &str) -> Result<(), tonic::Status> {
        let context = RequestContext {
            idempotency_key: format!("import:{}:{row}", job.id),
            channel: Via::Import as i32,
            ..Default::default()
        };
        let created_at = card.issued_at.map(|t| prost_types::Timestamp { seconds: t.unix_timestamp(), nanos: 0 });
        let card = cpb::Card {
            number: card.number.clone(),
            client_id: client_id.to_string(),
            store_id: card.store_id.clone(),
            created_at,
            ..Default::default()
        };
        let request = cpb::IssueCardRequest { context: Some(context), card: Some(card) };
        let call = self
            .identity
            .request(job.tenant.as_str(), request)
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        self.cards.clone().issue_card(call).await.map(|_| ())
    }
}
