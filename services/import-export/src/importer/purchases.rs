//! A batch of a purchase-history file: each row's check recorded for its holder through the
//! ledger as history (`AddManualPurchase` with `history`): its time, store and total for filters
//! and reports, no points earned or spent. A store's check recorded before is a duplicate, so a
//! file imported twice records nothing twice.
use super::Importer;
use super::holders::{Outcome, Row, Step, field_of, not_found, row_of, tally, within_scope};
use crate::domain::holdings::{PurchaseRow, purchase};
use crate::domain::layout::{Field, Layout};
use crate::reader::Item;
use crate::runner::Stop;
use crate::store::jobs::Job;
use crate::store::reports::Report;
use loyalty_api::common::v1::{Channel as Via, Money, RequestContext};
use loyalty_api::ledger::v1 as lpb;
use loyalty_api::ledger::v1::record_purchase_request::Buyer;
use tonic::Code;

pub const KIND: &str = "import_purchases";

impl Importer {
    /// The reports of a batch of purchase rows, how many it recorded and how many it skipped.
    pub(super) async fn purchase_reports(
        &self,
        job: &Job,
        layout: &Layout,
        batch: Vec<Item>,
    ) -> Result<(Vec<Report>, i64, i64), Stop> {
        let currency = self.currency(job).await?;
        let currency = currency.as_str();
        tally(batch, |item| self.purchase_row(job, layout, item), |row| self.purchase_write(job, layout, currency, row))
            .await
    }

    /// The tenant's currency, for rows that name none.
    async fn currency(&self, job: &Job) -> Result<String, Stop> {
        let request = loyalty_api::client::v1::GetTenantSettingsRequest::default();
        let answer =
            self.clients.clone().get_tenant_settings(self.identity.request(job.tenant.as_str(), request)?).await;
        let currency = Stop::from_peer(answer, "the client service")?.currency;
        Ok(if currency.is_empty() { "EUR".into() } else { currency })
    }

    /// A purchase row read, its store checked against the scope and its holder found.
    async fn purchase_row(&self, job: &Job, layout: &Layout, item: Item) -> Result<Step<Row<PurchaseRow>>, Stop> {
        let (number, cells) = match row_of(item) {
            Ok(row) => row,
            Err(step) => return Ok(step),
        };
        let fail = |field: Field, why: String| {
            Ok(Step::Done(Some(Outcome::error(number, &cells, layout.column_of(field), why))))
        };
        let mut parsed = match purchase(layout, &cells, self.settings.max_cell_chars, time::OffsetDateTime::now_utc()) {
            Ok(parsed) => parsed,
            Err(problems) => return Ok(Step::Done(Some(Outcome::Report(super::error(number, cells, problems))))),
        };
        if let Err(why) = within_scope(job, &mut parsed.store_id) {
            return fail(Field::Store, why);
        }
        let Some(client_id) = self.holder(job, &parsed.holder).await? else {
            return fail(field_of(&parsed.holder), not_found(job));
        };
        let lane = format!("{}/{}", parsed.store_id, parsed.check_id);
        Ok(Step::Write { lane, work: Row { number, cells, client_id, parsed } })
    }

    /// Records a row's check as history (a dry run only reads it).
    async fn purchase_write(
        &self,
        job: &Job,
        layout: &Layout,
        currency: &str,
        row: Row<PurchaseRow>,
    ) -> Result<Option<Outcome>, Stop> {
        let Row { number, cells, client_id, parsed } = &row;
        if job.request.dry_run {
            return Ok(Some(Outcome::Created));
        }
        let fail = |field: Field, why: String| Ok(Some(Outcome::error(*number, cells, layout.column_of(field), why)));
        let context = RequestContext {
            idempotency_key: format!("import:{}:{number}", job.id),
            channel: Via::Import as i32,
            ..Default::default()
        };
        let currency = if parsed.currency.is_empty() { currency.to_string() } else { parsed.currency.clone() };
        let request = lpb::RecordPurchaseRequest {
            context: Some(context),
            buyer: Some(Buyer::ClientId(client_id.clone())),
            check_id: parsed.check_id.clone(),
            store_id: parsed.store_id.clone(),
            purchased_at: Some(prost_types::Timestamp { seconds: parsed.purchased_at.unix_timestamp(), nanos: 0 }),
            amount: Some(Money { minor_units: parsed.amount_minor, currency }),
            history: true,
            ..Default::default()
        };
        let answer =
            self.ledger.clone().add_manual_purchase(self.identity.request(job.tenant.as_str(), request)?).await;
        match answer {
            Ok(_) => Ok(Some(Outcome::Created)),
            Err(s) if s.code() == Code::AlreadyExists => {
                let why = format!(
                    "the check {} of store {:?} was recorded already (skipped)",
                    parsed.check_id, parsed.store_id
                );
                Ok(Some(Outcome::duplicate(*number, cells, client_id, (layout.column_of(Field::CheckId), why))))
            }
            Err(s) if s.code() == Code::NotFound => fail(field_of(&parsed.holder), not_found(job)),
            Err(s) if matches!(s.code(), Code::InvalidArgument | Code::FailedPrecondition | Code::PermissionDenied) => {
                let message = s.message();
                let field = match message {
                    m if m.contains("currency") => Field::Currency,
                    m if m.contains("amount") => Field::Amount,
                    m if m.contains("purchased_at") => Field::PurchasedAt,
                    m if m.contains("store_id") => Field::Store,
                    _ => Field::CheckId,
                };
                let column = layout.column_of(field).or(layout.column_of(Field::Amount));
                Ok(Some(Outcome::error(*number, cells, column, message.to_string())))
            }
            Err(s) => Err(Stop::Passing(anyhow::anyhow!("the ledger: {s}"))),
        }
    }
}
