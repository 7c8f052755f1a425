//! A batch of a balance file: each row's points credited to its holder through the ledger as the
//! client's opening balance, with the expiry they had in the other system. A client has at most
//! one opening balance, so a file imported twice credits nothing twice.
use super::Importer;
use super::holders::{Outcome, Row, Step, field_of, not_found, row_of, tally};
use crate::domain::holdings::{BalanceRow, balance};
use crate::domain::layout::{Field, Layout};
use crate::reader::Item;
use crate::runner::Stop;
use crate::store::jobs::Job;
use crate::store::reports::Report;
use loyalty_api::common::v1::{Channel as Via, PageRequest, RequestContext};
use loyalty_api::ledger::v1 as lpb;
use tonic::Code;

pub const KIND: &str = "import_balances";

impl Importer {
    /// The reports of a batch of balance rows, how many it credited and how many it skipped.
    pub(super) async fn balance_reports(
        &self,
        job: &Job,
        layout: &Layout,
        batch: Vec<Item>,
    ) -> Result<(Vec<Report>, i64, i64), Stop> {
        tally(batch, |item| self.balance_row(job, layout, item), |row| self.balance_write(job, layout, row)).await
    }

    /// A balance row read and its holder found.
    async fn balance_row(&self, job: &Job, layout: &Layout, item: Item) -> Result<Step<Row<BalanceRow>>, Stop> {
        let (number, cells) = match row_of(item) {
            Ok(row) => row,
            Err(step) => return Ok(step),
        };
        let parsed = match balance(layout, &cells, self.settings.max_cell_chars, time::OffsetDateTime::now_utc()) {
            Ok(parsed) => parsed,
            Err(problems) => return Ok(Step::Done(Some(Outcome::Report(super::error(number, cells, problems))))),
        };
        let Some(client_id) = self.holder(job, &parsed.holder).await? else {
            let column = layout.column_of(field_of(&parsed.holder));
            return Ok(Step::Done(Some(Outcome::error(number, &cells, column, not_found(job)))));
        };
        Ok(Step::Write { lane: client_id.clone(), work: Row { number, cells, client_id, parsed } })
    }

    /// Credits a row's opening balance (a dry run asks whether the client has one instead).
    async fn balance_write(&self, job: &Job, layout: &Layout, row: Row<BalanceRow>) -> Result<Option<Outcome>, Stop> {
        let Row { number, cells, client_id, parsed } = &row;
        let fail = |field: Field, why: String| Ok(Some(Outcome::error(*number, cells, layout.column_of(field), why)));
        let skipped = |entry: &str| {
            let why = format!("the client already has an opening balance ({entry}); skipped");
            Ok(Some(Outcome::duplicate(*number, cells, client_id, (layout.column_of(Field::Points), why))))
        };
        if job.request.dry_run {
            return match self.opening_balance(job, client_id).await? {
                Some(entry) => skipped(&format!("entry {entry}")),
                None => Ok(Some(Outcome::Created)),
            };
        }
        match self.credit(job, *number, parsed, client_id).await {
            Ok(()) => Ok(Some(Outcome::Created)),
            Err(s) if s.code() == Code::AlreadyExists => skipped(s.message().rsplit(": ").next().unwrap_or("")),
            Err(s) if s.code() == Code::NotFound => fail(field_of(&parsed.holder), not_found(job)),
            Err(s) if matches!(s.code(), Code::InvalidArgument | Code::FailedPrecondition | Code::PermissionDenied) => {
                let field = if s.message().contains("expires_at") { Field::ExpiresAt } else { Field::Points };
                fail(field, s.message().to_string())
            }
            Err(s) => Err(Stop::Passing(anyhow::anyhow!("the ledger: {s}"))),
        }
    }

    /// The client's opening-balance entry, if the ledger holds one (a dry run's question).
    async fn opening_balance(&self, job: &Job, client_id: &str) -> Result<Option<String>, Stop> {
        let request = lpb::ListEntriesRequest {
            client_id: client_id.to_string(),
            page: Some(PageRequest { page_size: 1000, page_token: String::new() }),
            ..Default::default()
        };
        let answer = self.ledger.clone().list_entries(self.identity.request(job.tenant.as_str(), request)?).await;
        let entries = match answer {
            Err(s) if s.code() == Code::NotFound => return Ok(None),
            answer => Stop::from_peer(answer, "the ledger")?.entries,
        };
        Ok(entries.into_iter().find(|e| e.source == "opening").map(|e| e.id))
    }

    /// Credits the row's points as the opening balance, with a key of the row's own so a resumed
    /// job never credits them twice.
    async fn credit(&self, job: &Job, row: i64, balance: &BalanceRow, client_id: &str) -> Result<(), tonic::Status> {
        let context = RequestContext {
            idempotency_key: format!("import:{}:{row}", job.id),
            channel: Via::Import as i32,
            ..Default::default()
        };
        let expires_at = balance.expires_at.map(|t| prost_types::Timestamp { seconds: t.unix_timestamp(), nanos: 0 });
        let request = lpb::AdjustPointsRequest {
            context: Some(context),
            client_id: client_id.to_string(),
            points: balance.points,
            comment: format!("opening balance from {}", job.request.file_name),
            expires_at,
            notify_by_sms: false,
            opening_balance: true,
        };
        let call = self
            .identity
            .request(job.tenant.as_str(), request)
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        self.ledger.clone().adjust_points(call).await.map(|_| ())
    }
}
