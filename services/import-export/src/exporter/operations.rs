//! The loyalty operations of an audience for a period (IE-5, seed 001's "Export" of a client's
//! operations, for many clients at once): the audience's clients a page at a time from the segment
//! service, and their entries from the ledger's `ListOperations`, a thousand clients a call.
use super::{Exporter, decode_audience, too_long_for_print};
use crate::domain::export::Cell;
use crate::runner::Stop;
use crate::sheets;
use crate::store::jobs::{ExportRequest, Job};
use loyalty_api::common::v1::{PageRequest, TimeRange};
use loyalty_api::ledger::v1 as lpb;
use loyalty_platform::convert::{from_timestamp, to_timestamp};

/// The job kind of an operations export.
pub const KIND: &str = "export_operations";

/// Operations asked of the ledger per call.
const OPERATIONS_PAGE: i32 = 5000;

/// The columns, in order: (English, Lithuanian, Russian, Polish, Romanian) labels.
const COLUMNS: &[[&str; 5]] = &[
    ["Client", "Klientas", "Клиент", "Klient", "Client"],
    ["E-mail", "El. paštas", "E-mail", "E-mail", "E-mail"],
    ["Name", "Vardas, pavardė", "Имя", "Imię i nazwisko", "Nume"],
    ["Time (UTC)", "Laikas (UTC)", "Время (UTC)", "Czas (UTC)", "Ora (UTC)"],
    ["Operation", "Operacija", "Операция", "Operacja", "Operațiune"],
    ["Points", "Taškai", "Баллы", "Punkty", "Puncte"],
    ["Source", "Šaltinis", "Источник", "Źródło", "Sursă"],
    ["Store", "Parduotuvė", "Магазин", "Sklep", "Magazin"],
    ["Comment", "Komentaras", "Комментарий", "Komentarz", "Comentariu"],
    ["Purchase", "Pirkimas", "Покупка", "Zakup", "Achiziție"],
];

/// The columns an anonymised export drops: the e-mail and the name.
const IDENTIFYING: [usize; 2] = [1, 2];

fn labels(language: &str, anonymise: bool) -> Vec<String> {
    let at = ["en", "lt", "ru", "pl", "ro"].iter().position(|l| *l == language).unwrap_or(0);
    let kept = (0..COLUMNS.len()).filter(|i| !(anonymise && IDENTIFYING.contains(i)));
    kept.map(|i| COLUMNS[i][at].to_string()).collect()
}

/// "Operations" in the export's language, above a PDF's table.
fn title_word(language: &str) -> &'static str {
    match language {
        "lt" => "Lojalumo operacijos",
        "ru" => "Операции программы лояльности",
        "pl" => "Operacje lojalnościowe",
        "ro" => "Operațiuni de fidelitate",
        _ => "Loyalty operations",
    }
}

/// An entry kind as a person reads it ("earned", "cancelled by return").
fn kind_text(kind: i32) -> String {
    let name = lpb::EntryKind::try_from(kind).map(|k| k.as_str_name()).unwrap_or("ENTRY_KIND_UNSPECIFIED");
    name.trim_start_matches("ENTRY_KIND_").to_lowercase().replace('_', " ")
}

/// The period stored with the job, as the ledger reads it.
pub fn period(ask: &ExportRequest) -> Option<TimeRange> {
    let at = |s: Option<i64>| s.and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok()).map(to_timestamp);
    (ask.period_start.is_some() || ask.period_end.is_some())
        .then(|| TimeRange { start: at(ask.period_start), end: at(ask.period_end) })
}

/// The client facts beside each operation, in the order of a page's values.
const PEOPLE: [&str; 3] = ["client.email", "client.first_name", "client.last_name"];
const EMAIL_AT: usize = 0;
const FIRST_NAME_AT: usize = 1;
const LAST_NAME_AT: usize = 2;

impl Exporter {
    pub(super) async fn run_operations(&self, job: &Job, ask: &ExportRequest) -> Result<(), Stop> {
        let audience = decode_audience(ask)?;
        let facts: Vec<String> = PEOPLE.map(String::from).into();
        let layout = sheets::Layout { bom: ask.csv_bom, email_column: None, sheet_name: "Operacijos" };
        let mut file =
            self.open(job, ask, layout, (&labels(&ask.language, ask.anonymise), title_word(&ask.language)))?;
        let (mut token, mut rows, mut clients_done) = (String::new(), 0i64, 0i64);
        loop {
            // A page of clients is as many as the ledger takes in one listing of operations.
            let answer = self.clients_page(job, (&audience, None), &facts, (token, 1000)).await?;
            let people: std::collections::HashMap<&str, &loyalty_api::segment::v1::ClientFacts> =
                answer.clients.iter().map(|c| (c.client_id.as_str(), c)).collect();
            let ids: Vec<String> = answer.clients.iter().map(|c| c.client_id.clone()).collect();
            let mut page = String::new();
            while !ids.is_empty() {
                let answer = self.operations_page(job, ask, &ids, page).await?;
                for entry in &answer.entries {
                    let fact = |at: usize| people.get(entry.client_id.as_str()).and_then(|c| c.values.get(at));
                    let text = |t: &str| if t.is_empty() { Cell::Empty } else { Cell::Text(t.to_string()) };
                    let name = [fact(FIRST_NAME_AT), fact(LAST_NAME_AT)]
                        .into_iter()
                        .flatten()
                        .filter(|t| !t.is_empty())
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" ");
                    let mut cells = vec![text(&entry.client_id)];
                    if !ask.anonymise {
                        cells.push(fact(EMAIL_AT).map_or(Cell::Empty, |e| text(e)));
                        cells.push(text(&name));
                    }
                    let at = entry.at.as_ref().and_then(from_timestamp);
                    cells.extend([
                        at.map_or(Cell::Empty, Cell::Time),
                        Cell::Text(kind_text(entry.kind)),
                        Cell::Number(entry.points as f64),
                        text(&entry.source),
                        text(&entry.store_id),
                        text(&entry.comment),
                        text(&entry.purchase_id),
                    ]);
                    file.sheet.row(&cells)?;
                    rows += 1;
                }
                if ask.format == "pdf" && rows > self.settings.pdf_max_rows {
                    return Err(file.refuse(too_long_for_print(self.settings.pdf_max_rows, rows, "operations")));
                }
                page = answer.next_page_token;
                if page.is_empty() {
                    break;
                }
            }
            clients_done += answer.clients.len() as i64;
            let clients_total = answer.page.as_ref().map(|p| p.total_size).unwrap_or(clients_done);
            // How many operations the whole audience will have, at the rate of the clients so far.
            let projected = if clients_done > 0 { rows * clients_total.max(clients_done) / clients_done } else { 0 };
            super::File::progress(&file.path, self, job, (rows, projected.max(rows))).await?;
            token = answer.page.map(|p| p.next_page_token).unwrap_or_default();
            if token.is_empty() {
                break;
            }
        }
        self.keep(job, file, rows).await
    }

    /// One page of the entries of `clients` in the job's period, from the ledger.
    async fn operations_page(
        &self,
        job: &Job,
        ask: &ExportRequest,
        clients: &[String],
        page_token: String,
    ) -> Result<lpb::ListOperationsResponse, Stop> {
        let request = lpb::ListOperationsRequest {
            client_ids: clients.to_vec(),
            period: period(ask),
            kinds: vec![],
            page: Some(PageRequest { page_size: OPERATIONS_PAGE, page_token }),
        };
        let mut ledger = self.ledger.clone();
        let answer = ledger.list_operations(self.identity.request(job.tenant.as_str(), request)?).await;
        Stop::from_peer(answer, "the ledger")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_the_language_and_anonymising_drops_the_person() {
        assert_eq!(labels("lt", false)[3], "Laikas (UTC)");
        assert_eq!(labels("xx", false)[0], "Client");
        let anonymous = labels("en", true);
        assert_eq!(anonymous.len(), COLUMNS.len() - 2);
        assert!(!anonymous.iter().any(|l| l == "E-mail" || l == "Name"));
        assert_eq!(kind_text(lpb::EntryKind::CancelledByReturn as i32), "cancelled by return");
    }
}
