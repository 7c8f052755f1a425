//! The export runner: asks the segment service for the audience's clients page by page (under
//! this service's identity, narrowed to the stores of whoever started the job), writes each page
//! to the file as it comes (constant memory), then stores the file in chunks with its checksum,
//! downloadable until it expires.
use crate::config::JobSettings;
use crate::domain::export::{self, Cell};
use crate::runner::Stop;
use crate::sheets;
use crate::store::jobs::{ExportRequest, Job};
use crate::store::{files, jobs};
use base64::Engine;
use loyalty_api::common::v1::TimeRange;
use loyalty_api::filter::v1::{Audience, Fact, FactType};
use loyalty_api::ledger::v1::ledger_service_client::LedgerServiceClient;
use loyalty_api::segment::v1 as spb;
use loyalty_api::segment::v1::segment_service_client::SegmentServiceClient;
use loyalty_platform::clock::SharedClock;
use loyalty_platform::identity::ServiceIdentity;
use loyalty_platform::service::ServiceKit;
use prost::Message;
use sha2::Digest;
use std::io::Read;
use tonic::transport::Channel;

mod operations;
pub use operations::KIND as OPERATIONS;

/// Clients asked for per page of an export of clients.
const PAGE: i32 = 5000;
/// How often a running export records its progress and looks whether it was cancelled.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_millis(250);
/// Bytes per stored chunk.
const CHUNK: usize = 1 << 20;

#[derive(Clone)]
pub struct Exporter {
    pool: deadpool_postgres::Pool,
    segments: SegmentServiceClient<Channel>,
    ledger: LedgerServiceClient<Channel>,
    identity: ServiceIdentity,
    settings: JobSettings,
    clock: SharedClock,
}

impl Exporter {
    pub fn new(kit: &ServiceKit, settings: JobSettings, clock: SharedClock) -> anyhow::Result<Self> {
        let segments = SegmentServiceClient::new(kit.peer(&kit.settings.peers.segment)?);
        let ledger = LedgerServiceClient::new(kit.peer(&kit.settings.peers.ledger)?);
        Ok(Self { pool: kit.pool.clone(), segments, ledger, identity: kit.identity()?, settings, clock })
    }

    /// The facts of the catalogue by name, labelled in `language`.
    pub async fn catalogue(&self, tenant: &str, language: &str) -> anyhow::Result<Vec<Fact>> {
        let request = spb::ListFactsRequest { language: language.into() };
        let mut segments = self.segments.clone();
        Ok(segments.list_facts(self.identity.request(tenant, request)?).await?.into_inner().facts)
    }

    pub async fn run(&self, job: &Job) -> Result<(), Stop> {
        let ask = job.export.clone().ok_or_else(|| Stop::Refused("the job holds no export request".into()))?;
        if job.kind == operations::KIND {
            return self.run_operations(job, &ask).await;
        }
        let audience = decode_audience(&ask)?;
        let catalogue = self.catalogue(job.tenant.as_str(), &ask.language).await?;
        let mut columns: Vec<Fact> = Vec::new();
        for name in &ask.columns {
            let fact = catalogue.iter().find(|f| &f.name == name);
            let fact = fact.ok_or_else(|| Stop::Refused(format!("{name:?} is not a fact of the catalogue")))?;
            if !(ask.anonymise && export::identifies(fact)) {
                columns.push(fact.clone());
            }
        }
        let mut asked: Vec<String> = columns.iter().map(|f| f.name.clone()).collect();
        if ask.only_consented {
            asked.push("consent.email".into());
        }
        let email_column = columns.iter().position(|f| f.name == "client.email");
        let at = |s: Option<i64>| s.map(|seconds| prost_types::Timestamp { seconds, nanos: 0 });
        let in_period = ask.period_start.is_some() || ask.period_end.is_some();
        let period = in_period.then(|| TimeRange { start: at(ask.period_start), end: at(ask.period_end) });
        let labels: Vec<String> = columns
            .iter()
            .map(|f| {
                let label = if f.label.is_empty() { f.name.clone() } else { f.label.clone() };
                let summed = in_period && export::HISTORICAL.contains(&f.name.as_str());
                if summed { format!("{label} {}", period_words(&ask.language)) } else { label }
            })
            .collect();
        let layout = sheets::Layout { bom: ask.csv_bom, email_column, sheet_name: "Klientai" };
        let mut file = self.open(job, &ask, layout, (&labels, title_word(&ask.language)))?;
        // The next page is asked for while this one is written: the segment service works on it
        // meanwhile.
        let fetch = |token: String| {
            let (me, job, audience, asked, period) =
                (self.clone(), job.clone(), audience.clone(), asked.clone(), period);
            tokio::spawn(async move { me.clients_page(&job, (&audience, period), &asked, (token, PAGE)).await })
        };
        let kinds: Vec<FactType> = columns.iter().map(Fact::r#type).collect();
        let (mut next, mut rows) = (Some(fetch(String::new())), 0i64);
        let mut reported = std::time::Instant::now();
        while let Some(pending) = next.take() {
            let answer = pending.await.map_err(anyhow::Error::from)??;
            let token = answer.page.as_ref().map(|p| p.next_page_token.clone()).unwrap_or_default();
            let last_page = token.is_empty();
            if !last_page {
                next = Some(fetch(token));
            }
            let total = answer.page.as_ref().map(|p| p.total_size).unwrap_or(rows);
            if ask.format == "pdf" && total > self.settings.pdf_max_rows {
                return Err(file.refuse(too_long_for_print(self.settings.pdf_max_rows, total, "clients")));
            }
            for client in answer.clients {
                // The values come in the order asked: the columns, then the consent when asked.
                if ask.only_consented && client.values.get(kinds.len()).map(String::as_str) != Some("subscribed") {
                    continue;
                }
                let cells: Vec<Cell> = kinds.iter().zip(client.values).map(|(k, v)| export::cell(*k, v)).collect();
                file.sheet.row(&cells)?;
                rows += 1;
            }
            // Progress (and a cancellation) a few times a second, not once a page.
            if last_page || reported.elapsed() >= PROGRESS_EVERY {
                File::progress(&file.path, self, job, (rows, total)).await?;
                reported = std::time::Instant::now();
            }
        }
        self.keep(job, file, rows).await
    }

    /// One page of `size` of the audience's clients, each with the values of `facts` in their
    /// order, as the segment service answers it under this service's identity, narrowed to the
    /// stores of whoever started the job.
    async fn clients_page(
        &self,
        job: &Job,
        (audience, period): (&Audience, Option<TimeRange>),
        facts: &[String],
        (page_token, size): (String, i32),
    ) -> Result<spb::ListMatchingClientsResponse, Stop> {
        let request = spb::ListMatchingClientsRequest {
            audience: Some(audience.clone()),
            page: Some(loyalty_api::common::v1::PageRequest { page_size: size, page_token }),
            facts: facts.to_vec(),
            order_by: String::new(),
            within_stores: job.store_scope.clone().unwrap_or_default(),
            period,
            as_rows: true,
        };
        let mut segments = self.segments.clone();
        let answer = segments.list_matching_clients(self.identity.request(job.tenant.as_str(), request)?).await;
        Stop::from_peer(answer, "the segment service")
    }

    /// The job's file in the temporary directory, its header and title written.
    fn open(
        &self,
        job: &Job,
        ask: &ExportRequest,
        layout: sheets::Layout<'_>,
        (labels, title): (&[String], &str),
    ) -> anyhow::Result<File> {
        let temp = std::path::PathBuf::from(&self.settings.temp_dir);
        std::fs::create_dir_all(&temp)?;
        let path = temp.join(format!("export-{}.{}", job.id, extension(&ask.format)));
        let mut sheet = sheets::open(&ask.format, &path, &temp, layout)?;
        sheet.header(labels)?;
        sheet.title(&format!("{title} · {}", self.clock.now().date()));
        Ok(File { sheet, path })
    }

    /// Closes the file, keeps it in the job's chunks and marks the job done.
    async fn keep(&self, job: &Job, file: File, rows: i64) -> Result<(), Stop> {
        let File { sheet, path } = file;
        tokio::task::spawn_blocking(move || sheet.finish()).await.map_err(anyhow::Error::from)??;
        let stored = self.store(job, &path).await;
        let _ = std::fs::remove_file(&path);
        let (size, sha256) = stored?;
        let expires_at = self.clock.now() + time::Duration::hours(self.settings.retention_hours);
        jobs::finish_export(&self.pool.get().await?, job, rows, (size, &sha256), expires_at).await?;
        tracing::info!(job = %job.id, rows, bytes = size, "export written");
        Ok(())
    }

    /// Copies the written file into the job's chunks; its size and SHA-256.
    async fn store(&self, job: &Job, path: &std::path::Path) -> anyhow::Result<(i64, String)> {
        let db = self.pool.get().await?;
        files::drop_file(&db, &job.tenant, job.id).await?;
        let mut file = std::fs::File::open(path)?;
        let mut hash = sha2::Sha256::new();
        let (mut at, mut buf) = (0i64, vec![0u8; CHUNK]);
        loop {
            let mut filled = 0;
            while filled < CHUNK {
                let n = file.read(&mut buf[filled..])?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if filled == 0 {
                break;
            }
            hash.update(&buf[..filled]);
            files::put_chunk(&db, &job.tenant, job.id, at, &buf[..filled]).await?;
            at += filled as i64;
        }
        Ok((at, hash.finalize().iter().map(|b| format!("{b:02x}")).collect()))
    }
}

/// An export's file while it is written.
struct File {
    sheet: Box<dyn sheets::Sheet>,
    path: std::path::PathBuf,
}

impl File {
    /// Records progress; a cancelled job's file is deleted.
    async fn progress(
        path: &std::path::Path,
        exporter: &Exporter,
        job: &Job,
        (rows, total): (i64, i64),
    ) -> Result<(), Stop> {
        let db = exporter.pool.get().await.map_err(anyhow::Error::from)?;
        if jobs::export_progress(&db, job, rows, total, exporter.settings.lease_s).await? {
            Ok(())
        } else {
            let _ = std::fs::remove_file(path);
            Err(Stop::Cancelled)
        }
    }

    /// Deletes the file of an export refused halfway.
    fn refuse(self, why: String) -> Stop {
        let _ = std::fs::remove_file(&self.path);
        Stop::Refused(why)
    }
}

fn too_long_for_print(max: i64, total: i64, what: &str) -> String {
    format!("a PDF is for print: at most {max} {what}, and this export has {total}; export XLSX or CSV")
}

/// "Clients" in the export's language, above a PDF's table.
/// What a period total's header says after its label.
fn period_words(language: &str) -> &'static str {
    match language {
        "lt" => "per laikotarpį",
        "ru" => "за период",
        "pl" => "w okresie",
        "ro" => "în perioadă",
        _ => "in the period",
    }
}

fn title_word(language: &str) -> &'static str {
    match language {
        "lt" => "Klientai",
        "ru" => "Клиенты",
        "pl" => "Klienci",
        "ro" => "Clienți",
        _ => "Clients",
    }
}

pub fn extension(format: &str) -> &'static str {
    match format {
        "xlsx" => "xlsx",
        "pdf" => "pdf",
        "emails" => "txt",
        _ => "csv",
    }
}

pub fn encode_audience(a: &Audience) -> String {
    base64::engine::general_purpose::STANDARD.encode(a.encode_to_vec())
}

fn decode_audience(ask: &ExportRequest) -> Result<Audience, Stop> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(&ask.audience).map_err(anyhow::Error::from)?;
    Ok(Audience::decode(bytes.as_slice()).map_err(anyhow::Error::from)?)
}
