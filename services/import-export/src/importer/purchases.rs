//! A batch of a purchase-history file: each check recorded for its holder through the ledger as
//! history (`AddManualPurchase` with `history`): its time, store, total and lines (SKU, name,
//! category, quantity, amount) for filters and reports, no points earned or spent. A file with a
//! product code column lists one line per row, a check's rows one after another, its total their
//! sum; a wrong line refuses its whole check. A store's check recorded before is a duplicate, so
//! a file imported twice records nothing twice.
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
        let checks = checks_of(layout, batch);
        let write = |row| self.purchase_write(job, layout, currency, row);
        tally(checks, |rows| self.purchase_row(job, layout, rows), write).await
    }

    /// The tenant's currency, for rows that name none.
    async fn currency(&self, job: &Job) -> Result<String, Stop> {
        let request = loyalty_api::client::v1::GetTenantSettingsRequest::default();
        let answer =
            self.clients.clone().get_tenant_settings(self.identity.request(job.tenant.as_str(), request)?).await;
        let currency = Stop::from_peer(answer, "the client service")?.currency;
        Ok(if currency.is_empty() { "EUR".into() } else { currency })
    }

    /// A check's rows read (one row, or the lines of a file with lines), its store checked
    /// against the scope and its holder found. A wrong line refuses its whole check.
    async fn purchase_row(&self, job: &Job, layout: &Layout, rows: Vec<Item>) -> Result<Step<Row<Check>>, Stop> {
        let now = time::OffsetDateTime::now_utc();
        let mut read: Vec<(i64, Vec<String>, Result<PurchaseRow, Outcome>)> = Vec::with_capacity(rows.len());
        for item in rows {
            match row_of::<()>(item) {
                Ok((number, cells)) => {
                    let parsed = purchase(layout, &cells, self.settings.max_cell_chars, now)
                        .map_err(|problems| Outcome::Report(super::error(number, cells.clone(), problems)));
                    read.push((number, cells, parsed));
                }
                Err(Step::Done(Some(outcome))) => read.push((0, Vec::new(), Err(outcome))),
                Err(_) => {}
            }
        }
        if read.iter().any(|(_, _, r)| r.is_err()) {
            return Ok(Step::Done(Some(refused_whole(layout, read))));
        }
        self.check_of(job, layout, read).await
    }

    /// A check whose every row was read: its holder, its lines and its total.
    async fn check_of(
        &self,
        job: &Job,
        layout: &Layout,
        read: Vec<(i64, Vec<String>, Result<PurchaseRow, Outcome>)>,
    ) -> Result<Step<Row<Check>>, Stop> {
        let rows: Vec<(i64, Vec<String>, PurchaseRow)> =
            read.into_iter().filter_map(|(n, c, r)| r.ok().map(|p| (n, c, p))).collect();
        let Some((number, cells, mut head)) = rows.first().cloned() else { return Ok(Step::Done(None)) };
        let whole = |field: Field, why: String| {
            let outcomes = rows.iter().map(|(n, c, _)| Outcome::error(*n, c, layout.column_of(field), why.clone()));
            Ok(Step::Done(Some(Outcome::Rows(outcomes.collect()))))
        };
        if let Err(why) = within_scope(job, &mut head.store_id) {
            return whole(Field::Store, why);
        }
        let total = rows.iter().try_fold(0i64, |sum, (_, _, p)| sum.checked_add(p.amount_minor));
        let Some(total) = total.filter(|t| *t > 0) else {
            return whole(Field::Amount, "the check's lines add up to no amount a check can hold".into());
        };
        let Some(client_id) = self.holder(job, &head.holder).await? else {
            return whole(field_of(&head.holder), not_found(job));
        };
        let lines = rows
            .iter()
            .enumerate()
            .filter_map(|(i, (_, _, p))| {
                let line = p.line.as_ref()?;
                Some(lpb::PurchaseLine {
                    line_no: i as i32 + 1,
                    sku: line.sku.clone(),
                    name: line.name.clone(),
                    category: line.category.clone(),
                    quantity_milli: line.quantity_milli,
                    amount: Some(Money { minor_units: p.amount_minor, currency: String::new() }),
                    ..Default::default()
                })
            })
            .collect();
        let lane = format!("{}/{}", head.store_id, head.check_id);
        let rows = rows.into_iter().map(|(n, c, _)| (n, c)).collect();
        Ok(Step::Write { lane, work: Row { number, cells, client_id, parsed: Check { head, total, lines, rows } } })
    }

    /// Records a check as history (a dry run only reads it); every row of it gets the outcome.
    async fn purchase_write(
        &self,
        job: &Job,
        layout: &Layout,
        currency: &str,
        row: Row<Check>,
    ) -> Result<Option<Outcome>, Stop> {
        let Row { number, client_id, parsed: check, .. } = &row;
        let each = |outcome: &dyn Fn(i64, &[String]) -> Outcome| {
            Ok(Some(Outcome::Rows(check.rows.iter().map(|(n, c)| outcome(*n, c)).collect())))
        };
        if job.request.dry_run {
            return each(&|_, _| Outcome::Created);
        }
        let head = &check.head;
        let context = RequestContext {
            idempotency_key: format!("import:{}:{number}", job.id),
            channel: Via::Import as i32,
            ..Default::default()
        };
        let currency = if head.currency.is_empty() { currency.to_string() } else { head.currency.clone() };
        let request = lpb::RecordPurchaseRequest {
            context: Some(context),
            buyer: Some(Buyer::ClientId(client_id.clone())),
            check_id: head.check_id.clone(),
            store_id: head.store_id.clone(),
            purchased_at: Some(prost_types::Timestamp { seconds: head.purchased_at.unix_timestamp(), nanos: 0 }),
            amount: Some(Money { minor_units: check.total, currency }),
            lines: check.lines.clone(),
            history: true,
            ..Default::default()
        };
        let answer =
            self.ledger.clone().add_manual_purchase(self.identity.request(job.tenant.as_str(), request)?).await;
        match answer {
            Ok(_) => each(&|_, _| Outcome::Created),
            Err(s) if s.code() == Code::AlreadyExists => {
                let why =
                    format!("the check {} of store {:?} was recorded already (skipped)", head.check_id, head.store_id);
                let column = layout.column_of(Field::CheckId);
                each(&|n, c| Outcome::duplicate(n, c, client_id, (column, why.clone())))
            }
            Err(s) if s.code() == Code::NotFound => {
                each(&|n, c| Outcome::error(n, c, layout.column_of(field_of(&head.holder)), not_found(job)))
            }
            Err(s) if matches!(s.code(), Code::InvalidArgument | Code::FailedPrecondition | Code::PermissionDenied) => {
                let message = s.message();
                let field = match message {
                    m if m.contains("currency") => Field::Currency,
                    m if m.contains("amount") || m.contains("lines") => Field::Amount,
                    m if m.contains("purchased_at") => Field::PurchasedAt,
                    m if m.contains("store_id") => Field::Store,
                    _ => Field::CheckId,
                };
                let column = layout.column_of(field).or(layout.column_of(Field::Amount));
                each(&|n, c| Outcome::error(n, c, column, message.to_string()))
            }
            Err(s) => Err(Stop::Passing(anyhow::anyhow!("the ledger: {s}"))),
        }
    }
}

/// A check to record: its first row's holder, time, store and currency, its lines and total, and
/// the rows it came from.
pub(super) struct Check {
    head: PurchaseRow,
    total: i64,
    lines: Vec<lpb::PurchaseLine>,
    rows: Vec<(i64, Vec<String>)>,
}

/// The outcome of a check one of whose rows is wrong: that row's problems, and for the others
/// that the check was not recorded because of it.
fn refused_whole(layout: &Layout, read: Vec<(i64, Vec<String>, Result<PurchaseRow, Outcome>)>) -> Outcome {
    let wrong = read.iter().find_map(|(_, _, r)| match r {
        Err(Outcome::Report(report)) => Some(report.row),
        _ => None,
    });
    let column = layout.column_of(Field::CheckId);
    let outcomes = read.into_iter().map(|(number, cells, r)| match r {
        Err(outcome) => outcome,
        Ok(p) => {
            let why = format!(
                "check {:?} was not recorded: its line in row {} is wrong, and a check is imported whole",
                p.check_id,
                wrong.unwrap_or(0)
            );
            Outcome::error(number, &cells, column, why)
        }
    });
    Outcome::Rows(outcomes.collect())
}

/// A batch's rows as checks: with lines, the rows of one check one after another; else each row.
fn checks_of(layout: &Layout, batch: Vec<Item>) -> Vec<Vec<Item>> {
    let mut checks: Vec<Vec<Item>> = Vec::new();
    for item in batch {
        let key = layout.check_of(item.cells());
        let same = match (key, checks.last().and_then(|c| c.last())) {
            (Some(key), Some(last)) => layout.check_of(last.cells()) == Some(key),
            _ => false,
        };
        match checks.last_mut() {
            Some(check) if same => check.push(item),
            _ => checks.push(vec![item]),
        }
    }
    checks
}
