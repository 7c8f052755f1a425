//! The import runner: takes a queued job (or one whose worker died), reads its file from the
//! start, skips the rows already committed, and sends the rest to the client service in batches.
//! Each batch's reports and figures are committed together, and each batch is sent with a key of
//! its own, so a job killed anywhere ends with the same result as one never interrupted.
use crate::config::JobSettings;
use crate::domain::layout::{Field, Layout};
use crate::domain::{cells, text};
use crate::reader::{self, Item};
use crate::runner::Stop;
use crate::store::jobs::{Advanced, Counts, Job};
use crate::store::reports::Report;
use crate::store::{jobs, reports, uploads};
use loyalty_api::card::v1::card_service_client::CardServiceClient;
use loyalty_api::client::v1 as pb;
use loyalty_api::client::v1::client_service_client::ClientServiceClient;
use loyalty_api::client::v1::import_client_result::Outcome;
use loyalty_api::common::v1::{Channel as Via, RequestContext};
use loyalty_api::ledger::v1::ledger_service_client::LedgerServiceClient;
use loyalty_platform::identity::ServiceIdentity;
use loyalty_platform::service::ServiceKit;
use prost::Message;
use tokio::sync::mpsc;
use tonic::transport::Channel;
use uuid::Uuid;

mod balances;
mod cards;
mod checks;
mod holders;
mod purchases;
pub use balances::KIND as BALANCES;
pub use cards::KIND as CARDS;
pub use purchases::KIND as PURCHASES;

/// The bytes of the file its encoding and delimiter are told from.
const SAMPLE: usize = 64 * 1024;
/// The most bytes of rows in one call (the gRPC limit is 4 MiB).
const BATCH_BYTES: usize = 3 * 1024 * 1024;

#[derive(Clone)]
pub struct Importer {
    pool: deadpool_postgres::Pool,
    clients: ClientServiceClient<Channel>,
    cards: CardServiceClient<Channel>,
    ledger: LedgerServiceClient<Channel>,
    identity: ServiceIdentity,
    settings: JobSettings,
}

/// A row on its way to the client service.
struct Pending {
    number: i64,
    cells: Vec<String>,
    client: pb::Client,
}

impl Importer {
    pub fn new(kit: &ServiceKit, settings: JobSettings) -> anyhow::Result<Self> {
        let clients = ClientServiceClient::new(kit.peer(&kit.settings.peers.client)?);
        let cards = CardServiceClient::new(kit.peer(&kit.settings.peers.card)?);
        let ledger = LedgerServiceClient::new(kit.peer(&kit.settings.peers.ledger)?);
        Ok(Self { pool: kit.pool.clone(), clients, cards, ledger, identity: kit.identity()?, settings })
    }

    /// Reads the file and imports every row after the ones committed; the rows of the file.
    pub async fn run(&self, job: &Job) -> Result<i64, Stop> {
        let upload = job.upload_id.clone().ok_or_else(|| Stop::Refused("the job has no upload".into()))?;
        if job.request.format == "xlsx" {
            let path = std::path::Path::new(&self.settings.temp_dir).join(format!("import-{}.xlsx", job.id));
            let result = self.run_workbook(job, &upload, &path).await;
            let _ = std::fs::remove_file(&path);
            return result;
        }
        let spec = self.format(job, &upload).await?;
        let (chunks_in, chunks) = mpsc::channel(4);
        let feeder = Some(tokio::spawn(feed(self.pool.clone(), job.tenant.clone(), upload, chunks_in)));
        self.rows(job, reader::read(chunks, spec), feeder, spec.encoding.name()).await
    }

    /// An XLSX upload: copied to a file (a workbook is read from its end), its archive checked,
    /// then its sheet streamed as rows.
    async fn run_workbook(&self, job: &Job, upload: &str, path: &std::path::Path) -> Result<i64, Stop> {
        std::fs::create_dir_all(&self.settings.temp_dir)?;
        let mut file = std::fs::File::create(path)?;
        let (chunks_in, mut chunks) = mpsc::channel(4);
        let feeder = tokio::spawn(feed(self.pool.clone(), job.tenant.clone(), upload.to_string(), chunks_in));
        while let Some(data) = chunks.recv().await {
            std::io::Write::write_all(&mut file, &data)?;
        }
        feeder.await.map_err(anyhow::Error::from)??;
        drop(file);
        if let Some(why) = crate::xlsx::refuse(std::fs::File::open(path)?) {
            return Err(Stop::Refused(why));
        }
        jobs::set_format(&self.pool.get().await?, job, "xlsx", "").await?;
        let items =
            crate::xlsx::read(std::fs::File::open(path)?, job.request.sheet.clone(), self.settings.max_row_chars);
        self.rows(job, items, None, "UTF-8").await
    }

    /// Imports the rows `items` brings after the ones committed; the rows of the file. A CSV's
    /// `feeder` is checked before the last batch, so a read cut short never commits a partial row.
    async fn rows(
        &self,
        job: &Job,
        mut items: mpsc::Receiver<Item>,
        mut feeder: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
        encoding: &str,
    ) -> Result<i64, Stop> {
        let layout = match items.recv().await {
            Some(Item::Header(header)) if header.iter().any(|h| h.contains('\u{fffd}')) => {
                return Err(Stop::Refused(format!(
                    "the header row holds bytes that are not {encoding} text: name the file's encoding (windows-1257 for \
                     Lithuanian, windows-1251 for Cyrillic, windows-1252 for Western European)"
                )));
            }
            Some(Item::Header(header)) => {
                let read = match job.kind.as_str() {
                    CARDS => Layout::read_cards,
                    BALANCES => Layout::read_balances,
                    PURCHASES => Layout::read_purchases,
                    _ => Layout::read,
                };
                let layout = read(&header, &job.request.column_mapping).map_err(Stop::Refused)?;
                jobs::set_header(&self.pool.get().await?, job, &layout.header).await?;
                layout
            }
            Some(Item::Failed(why)) => return Err(Stop::Refused(why)),
            _ => return Err(Stop::Refused("the file is empty: it has no header row".into())),
        };
        let (mut seen, mut done, mut batch, mut bytes) = (0i64, job.rows_done, Vec::new(), 0usize);
        let mut checks = checks::Checks::default();
        loop {
            let item = items.recv().await;
            let end = match &item {
                Some(Item::Row { .. } | Item::Refused { .. }) => {
                    seen += 1;
                    if seen <= job.rows_done {
                        continue;
                    }
                    false
                }
                _ => true,
            };
            let item = match item {
                Some(row @ (Item::Row { .. } | Item::Refused { .. })) => {
                    // A full batch is committed before the row, unless the row goes on the last
                    // row's check: a check's lines are recorded together.
                    let full = batch.len() >= self.settings.batch_rows.min(1000) || bytes >= BATCH_BYTES;
                    if full && !checks.goes_on(&layout, &row) {
                        self.commit(job, &layout, &mut done, std::mem::take(&mut batch)).await?;
                        bytes = 0;
                    }
                    bytes += row.cells().iter().map(String::len).sum::<usize>();
                    checks.push(&layout, &mut batch, row);
                    None
                }
                other => other,
            };
            if matches!(item, Some(Item::End { .. })) {
                // A file cut short by a failed read must not commit its last, partial row.
                if let Some(feeder) = feeder.take() {
                    feeder.await.map_err(anyhow::Error::from)??;
                }
            }
            if !end {
                continue;
            }
            if !batch.is_empty() {
                self.commit(job, &layout, &mut done, std::mem::take(&mut batch)).await?;
            }
            return match item {
                Some(Item::End { rows }) => Ok(rows),
                Some(Item::Failed(why)) => Err(Stop::Refused(why)),
                _ => Err(Stop::Passing(anyhow::anyhow!("the file reader stopped"))),
            };
        }
    }

    /// The encoding and delimiter of the file: as the job first read them, else told now (or as
    /// the upload named them) and kept.
    async fn format(&self, job: &Job, upload: &str) -> Result<reader::Spec, Stop> {
        let db = self.pool.get().await?;
        let (encoding, delimiter) = if job.encoding.is_empty() {
            let head = uploads::head(&db, &job.tenant, upload, SAMPLE).await?;
            if let Some(why) = text::not_text(&head) {
                return Err(Stop::Refused(why.into()));
            }
            let asked = &job.request.encoding;
            let encoding = if asked.is_empty() {
                text::detect(&head, head.len() < SAMPLE)
            } else {
                text::named(asked)
                    .ok_or_else(|| Stop::Refused(format!("{asked:?} is not an encoding this service reads")))?
            };
            let (decoded, _, _) = encoding.decode(&head);
            let delimiter = match job.request.delimiter.as_bytes() {
                [d] => *d,
                _ => text::delimiter(&decoded),
            };
            let name = encoding.name().to_ascii_lowercase();
            jobs::set_format(&db, job, &name, &(delimiter as char).to_string()).await?;
            (encoding, delimiter)
        } else {
            let encoding = encoding_rs::Encoding::for_label(job.encoding.as_bytes()).unwrap_or(encoding_rs::UTF_8);
            (encoding, job.delimiter.bytes().next().unwrap_or(b','))
        };
        Ok(reader::Spec { encoding, delimiter, max_row_chars: self.settings.max_row_chars })
    }

    /// Imports one batch and commits its reports with the job's progress.
    async fn commit(&self, job: &Job, layout: &Layout, done: &mut i64, batch: Vec<Item>) -> Result<(), Stop> {
        let mut counts = Counts { rows: batch.len() as i64, ..Counts::default() };
        let found = match job.kind.as_str() {
            CARDS | BALANCES | PURCHASES => {
                let (found, created, duplicates) = match job.kind.as_str() {
                    CARDS => self.card_reports(job, layout, batch).await?,
                    BALANCES => self.balance_reports(job, layout, batch).await?,
                    _ => self.purchase_reports(job, layout, batch).await?,
                };
                (counts.imported, counts.duplicates) = (created, duplicates);
                found
            }
            _ => self.client_reports(job, layout, &mut counts, batch).await?,
        };
        counts.failed = found.iter().filter(|r| r.severity == "error").count() as i64;
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        reports::add(&tx, &job.tenant, job.id, &found).await?;
        let advanced = jobs::advance(&tx, job, *done, counts, self.settings.lease_s).await?;
        if advanced == Advanced::Lost {
            return Err(Stop::Lost);
        }
        tx.commit().await?;
        *done += counts.rows;
        if advanced == Advanced::Cancelled {
            return Err(Stop::Cancelled);
        }
        Ok(())
    }

    /// The reports of a batch of client rows, the clients created counted in `counts`.
    async fn client_reports(
        &self,
        job: &Job,
        layout: &Layout,
        counts: &mut Counts,
        batch: Vec<Item>,
    ) -> Result<Vec<Report>, Stop> {
        let mut found = Vec::new();
        let mut pending = Vec::new();
        let first_row = match batch.first() {
            Some(Item::Row { number, .. } | Item::Refused { number, .. }) => *number,
            _ => 0,
        };
        for item in batch {
            match item {
                Item::Refused { number, cells, reason } => {
                    found.push(error(number, cells, vec![("row".into(), reason)]))
                }
                Item::Row { number, cells } => match self.client_of(job, layout, &cells) {
                    Ok(client) => pending.push(Pending { number, cells, client }),
                    Err(problems) => found.push(error(number, cells, problems)),
                },
                _ => {}
            }
        }
        for (row, result) in self.send(job, first_row, &pending).await?.into_iter().enumerate() {
            let Pending { number, cells, .. } = &pending[row];
            let client_id = Uuid::parse_str(&result.client_id).ok();
            match result.outcome() {
                Outcome::Created => counts.imported += 1,
                Outcome::Duplicate if job.request.existing == "fail" => {
                    let column =
                        layout.column_for_path(result.violations.first().map(|v| v.field.as_str()).unwrap_or(""));
                    let why = format!("matches the existing client {}", result.client_id);
                    found.push(error(*number, cells.clone(), vec![(column, why)]));
                }
                Outcome::Duplicate => {
                    counts.duplicates += 1;
                    let matched = result.violations.first().map(|v| v.field.as_str()).unwrap_or("");
                    let why = format!("matches the existing client {} (skipped)", result.client_id);
                    let violations = vec![(layout.column_for_path(matched), why)];
                    found.push(Report {
                        row: *number,
                        severity: "duplicate_warning",
                        violations,
                        client_id,
                        cells: cells.clone(),
                    });
                }
                _ => {
                    let problems =
                        result.violations.iter().map(|v| (layout.column_for_path(&v.field), v.description.clone()));
                    found.push(error(*number, cells.clone(), problems.collect()));
                }
            }
        }
        Ok(found)
    }

    /// The client a row describes, within the store scope of whoever started the job.
    fn client_of(&self, job: &Job, layout: &Layout, row: &[String]) -> Result<pb::Client, Vec<cells::Problem>> {
        let mut client = cells::client(layout, row, self.settings.max_cell_chars)?;
        if let Some(scope) = &job.store_scope {
            if client.registration_store_id.is_empty() {
                client.registration_store_id = scope.first().cloned().unwrap_or_default();
            } else if !scope.contains(&client.registration_store_id) {
                let column = layout.column_of(Field::Store).unwrap_or("row").to_string();
                return Err(vec![(
                    column,
                    format!("must be one of the stores the import may act in: {}", scope.join(", ")),
                )]);
            }
        }
        Ok(client)
    }

    /// Asks the client service to create the batch's clients, under this service's identity for
    /// the job's tenant, with a key of the batch's own.
    async fn send(&self, job: &Job, first_row: i64, pending: &[Pending]) -> Result<Vec<pb::ImportClientResult>, Stop> {
        if pending.is_empty() {
            return Ok(vec![]);
        }
        let context = RequestContext {
            idempotency_key: format!("import:{}:{first_row}", job.id),
            channel: Via::Import as i32,
            ..Default::default()
        };
        let match_key = if job.request.match_key == "phone" { pb::MatchKey::Phone } else { pb::MatchKey::Email };
        let request = pb::ImportClientsRequest {
            context: Some(context),
            clients: pending.iter().map(|p| p.client.clone()).collect(),
            match_key: match_key as i32,
            validate_only: job.request.dry_run,
        };
        debug_assert!(request.encoded_len() < 4 * 1024 * 1024);
        let call = self.identity.request(job.tenant.as_str(), request)?;
        match self.clients.clone().import_clients(call).await {
            Ok(answer) => Ok(answer.into_inner().results),
            Err(s) if s.code() == tonic::Code::InvalidArgument || s.code() == tonic::Code::PermissionDenied => {
                Err(Stop::Refused(format!("the client service refused rows {first_row}..: {}", s.message())))
            }
            Err(s) => Err(Stop::Passing(anyhow::anyhow!("the client service: {s}"))),
        }
    }
}

fn error(row: i64, cells: Vec<String>, violations: Vec<cells::Problem>) -> Report {
    Report { row, severity: "error", violations, client_id: None, cells }
}

/// Sends the upload's chunks in order into `out` until the file ends or the reader stops.
async fn feed(
    pool: deadpool_postgres::Pool,
    tenant: loyalty_platform::TenantId,
    upload: String,
    out: mpsc::Sender<Vec<u8>>,
) -> anyhow::Result<()> {
    let mut from = 0;
    loop {
        let chunks = uploads::chunks(&pool.get().await?, &tenant, &upload, from, 8).await?;
        if chunks.is_empty() {
            return Ok(());
        }
        for (start, data) in chunks {
            from = start + 1;
            if out.send(data).await.is_err() {
                return Ok(());
            }
        }
    }
}
