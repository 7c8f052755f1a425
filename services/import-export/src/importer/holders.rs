//! What the card, balance and purchase-history files share: each row's holder found through the
//! client service (within the stores of whoever started the job), rows worked on a few at a time,
//! and what became of each counted.
use super::Importer;
use crate::domain::holdings::Holder;
use crate::domain::layout::Field;
use crate::reader::Item;
use crate::runner::Stop;
use crate::store::jobs::Job;
use crate::store::reports::Report;
use loyalty_api::client::v1 as pb;
use loyalty_api::common::v1::PageRequest;
use std::future::Future;

/// Rows a batch works on at once.
const IN_FLIGHT: usize = 16;

/// What became of one row.
pub enum Outcome {
    Created,
    Report(Report),
    /// What became of each row of a unit of several rows (a check's lines).
    Rows(Vec<Outcome>),
}

impl Outcome {
    /// A row's error: `why`, in `column` (or "row").
    pub fn error(row: i64, cells: &[String], column: Option<&str>, why: String) -> Outcome {
        Outcome::Report(super::error(row, cells.to_vec(), vec![(column.unwrap_or("row").to_string(), why)]))
    }

    /// A row that changed nothing because it was done before: a warning naming the client.
    pub fn duplicate(row: i64, cells: &[String], client_id: &str, (column, why): (Option<&str>, String)) -> Outcome {
        Outcome::Report(Report {
            row,
            severity: "duplicate_warning",
            violations: vec![(column.unwrap_or("row").to_string(), why)],
            client_id: uuid::Uuid::parse_str(client_id).ok(),
            cells: cells.to_vec(),
        })
    }
}

/// What a row's first step found: its outcome already, or a write to make, in the lane of the
/// key it writes (a card number, a client).
pub enum Step<T> {
    Done(Option<Outcome>),
    Write { lane: String, work: T },
}

/// A row's parts the write needs.
pub struct Row<T> {
    pub number: i64,
    pub cells: Vec<String>,
    pub client_id: String,
    pub parsed: T,
}

/// The outcomes of a batch, in two steps: every row read and its holder found, `IN_FLIGHT` at a
/// time; then the writes, rows of one lane one after another in the file's order (so the first of
/// two rows giving one card, or one client's balance, wins as it would one row at a time) and the
/// lanes side by side. The reports, and how many rows were created and skipped as duplicates.
pub async fn tally<I, T, P, PF, W, WF>(batch: Vec<I>, prepare: P, write: W) -> Result<(Vec<Report>, i64, i64), Stop>
where
    P: Fn(I) -> PF,
    PF: Future<Output = Result<Step<T>, Stop>>,
    W: Fn(T) -> WF,
    WF: Future<Output = Result<Option<Outcome>, Stop>>,
{
    use futures::StreamExt;
    let steps: Vec<_> = futures::stream::iter(batch.into_iter().map(prepare)).buffered(IN_FLIGHT).collect().await;
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(steps.len());
    let mut lanes: Vec<Vec<(usize, T)>> = (0..IN_FLIGHT).map(|_| Vec::new()).collect();
    for (i, step) in steps.into_iter().enumerate() {
        outcomes.push(None);
        match step? {
            Step::Done(outcome) => outcomes[i] = outcome,
            Step::Write { lane, work } => {
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                std::hash::Hash::hash(&lane, &mut hasher);
                lanes[std::hash::Hasher::finish(&hasher) as usize % IN_FLIGHT].push((i, work));
            }
        }
    }
    let write = &write;
    let written = futures::future::join_all(lanes.into_iter().map(|lane| async move {
        let mut done = Vec::with_capacity(lane.len());
        for (i, work) in lane {
            done.push((i, write(work).await));
        }
        done
    }))
    .await;
    for (i, outcome) in written.into_iter().flatten() {
        outcomes[i] = outcome?;
    }
    let (mut found, mut created, mut duplicates) = (Vec::new(), 0, 0);
    let mut each: Vec<Outcome> = outcomes.into_iter().flatten().collect();
    each.reverse();
    while let Some(outcome) = each.pop() {
        match outcome {
            Outcome::Created => created += 1,
            Outcome::Report(report) => {
                duplicates += i64::from(report.severity == "duplicate_warning");
                found.push(report);
            }
            Outcome::Rows(rows) => each.extend(rows.into_iter().rev()),
        }
    }
    Ok((found, created, duplicates))
}

/// A data row's number and cells; any other item is the step it ends in (a refused row's error).
pub fn row_of<T>(item: Item) -> Result<(i64, Vec<String>), Step<T>> {
    match item {
        Item::Refused { number, cells, reason } => Err(Step::Done(Some(Outcome::error(number, &cells, None, reason)))),
        Item::Row { number, cells } => Ok((number, cells)),
        _ => Err(Step::Done(None)),
    }
}

/// The store a row acts in, within the starter's stores: the one it names, else the scope's
/// first; why not when it names a store outside the scope.
pub fn within_scope(job: &Job, store: &mut String) -> Result<(), String> {
    let Some(scope) = &job.store_scope else { return Ok(()) };
    if store.is_empty() {
        *store = scope.first().cloned().unwrap_or_default();
    } else if !scope.contains(store) {
        return Err(format!("must be one of the stores the import may act in: {}", scope.join(", ")));
    }
    Ok(())
}

/// The field a holder was named by.
pub fn field_of(holder: &Holder) -> Field {
    match holder {
        Holder::Id(_) => Field::ClientId,
        Holder::Email(_) => Field::Email,
        Holder::Phone(_) => Field::Phone,
    }
}

/// Why a holder was not found.
pub fn not_found(job: &Job) -> String {
    match job.store_scope {
        Some(_) => "names no client of the stores the import may act in".into(),
        None => "names no client of this tenant".into(),
    }
}

impl Importer {
    /// The id of the one client `holder` names, found within the starter's stores.
    pub(super) async fn holder(&self, job: &Job, holder: &Holder) -> Result<Option<String>, Stop> {
        let key = match holder {
            Holder::Id(k) | Holder::Email(k) | Holder::Phone(k) => k.clone(),
        };
        let request = pb::ListClientsRequest {
            page: Some(PageRequest { page_size: 10, page_token: String::new() }),
            query: key.replace(['\n', ';'], " "),
            store_ids: job.store_scope.clone().unwrap_or_default(),
            ..Default::default()
        };
        let answer = self.clients.clone().list_clients(self.identity.request(job.tenant.as_str(), request)?).await;
        let found = Stop::from_peer(answer, "the client service")?.clients;
        let digits = |t: &str| t.chars().filter(char::is_ascii_digit).collect::<String>();
        let same = |c: &pb::Client| match holder {
            Holder::Id(id) => c.id.eq_ignore_ascii_case(id),
            Holder::Email(email) => c.email.eq_ignore_ascii_case(email),
            Holder::Phone(phone) => {
                let (theirs, given) = (digits(&c.phone), digits(phone).trim_start_matches('0').to_string());
                given.len() >= 7 && theirs.ends_with(&given)
            }
        };
        let mut matching = found.into_iter().filter(same);
        Ok(match (matching.next(), matching.next()) {
            (Some(c), None) => Some(c.id),
            _ => None,
        })
    }
}
