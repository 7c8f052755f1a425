//! `loyalty export …`: an audience (or its loyalty operations) out as CSV, XLSX, PDF or an e-mail list, followed to its end with
//! progress, then downloaded (a broken download resumes where the file on disk ends).
use crate::connection::Connection;
use crate::format::Tenant;
use crate::output::Output;
use anyhow::Context;
use futures::StreamExt;
use loyalty_api::filter::v1::{AllClients, Audience, ClientIds, audience::Source};
use loyalty_api::importexport::v1 as pb;
use loyalty_api::importexport::v1::import_export_service_client::ImportExportServiceClient;
use loyalty_api::segment::v1::segment_service_client::SegmentServiceClient;
use sha2::Digest;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub connection: Connection,
    #[command(subcommand)]
    pub command: ExportCommand,
}

/// Whom an export is of: everyone unless one of these is given.
#[derive(clap::Args)]
pub struct AudienceArgs {
    /// A filter, e.g. 'purchases.sum(last 30 days) >= 100.00'.
    #[arg(long, default_value = "")]
    filter: String,
    /// A saved or built-in segment's id instead ("auto:vip").
    #[arg(long)]
    segment: Option<String>,
    /// Clients by id instead, comma separated.
    #[arg(long, value_delimiter = ',')]
    clients: Vec<String>,
}

#[derive(clap::Subcommand)]
pub enum ExportCommand {
    /// Export clients: everyone, a filter (text form, see `loyalty segments facts`), a segment or
    /// named clients.
    Clients {
        /// The file to write; its extension picks the format: .csv, .xlsx, .pdf (for print, at
        /// most 20,000 clients) or .txt (an e-mail list).
        out: PathBuf,
        #[command(flatten)]
        audience: AudienceArgs,
        /// Columns, facts of the catalogue, comma separated (default: names, email, phone, birth
        /// date, city, registration, points, purchases).
        #[arg(long, value_delimiter = ',')]
        columns: Vec<String>,
        /// Data groups besides: personal, financial, behavioural, historical (purchase and return
        /// totals over --from/--to).
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
        /// The first day of the historical group's period (YYYY-MM-DD, the tenant's time zone).
        #[arg(long)]
        from: Option<String>,
        /// The last day of the period, included.
        #[arg(long)]
        to: Option<String>,
        /// Drop names, e-mails, phones, card numbers and addresses.
        #[arg(long)]
        anonymise: bool,
        /// Only clients subscribed to e-mail.
        #[arg(long)]
        only_consented: bool,
        /// The header row's language: en, lt, ru, pl, ro.
        #[arg(long, default_value = "en")]
        language: String,
        /// CSV: no byte-order mark (Excel needs it to read the letters right; other programs may not).
        #[arg(long)]
        no_bom: bool,
    },
    /// Export loyalty operations (IE-5) of everyone, a filter, a segment or named clients, for a
    /// period; needs `ledger.read` besides `clients.export`.
    Operations {
        /// The file to write: .csv, .xlsx or .pdf.
        out: PathBuf,
        #[command(flatten)]
        audience: AudienceArgs,
        /// The first day (YYYY-MM-DD, in the tenant's time zone).
        #[arg(long)]
        from: Option<String>,
        /// The last day, included.
        #[arg(long)]
        to: Option<String>,
        /// Leave out e-mails and names.
        #[arg(long)]
        anonymise: bool,
        #[arg(long, default_value = "en")]
        language: String,
    },
    /// Download a finished export again (kept 24 hours); resumes a partial file.
    Download { job_id: String, out: PathBuf },
}

/// The days `from` to `to` (both included, either left open) as the half-open period of the
/// tenant's time zone they span.
fn period(
    tenant: &Tenant,
    from: &Option<String>,
    to: &Option<String>,
) -> anyhow::Result<loyalty_api::common::v1::TimeRange> {
    let day = |d: &Option<String>, flag: &str, after: i64| -> anyhow::Result<Option<prost_types::Timestamp>> {
        let Some(d) = d else { return Ok(None) };
        let date: jiff::civil::Date = d.parse().with_context(|| format!("--{flag}: not a date (YYYY-MM-DD)"))?;
        let start = date.checked_add(jiff::Span::new().days(after))?.to_zoned(tenant.zone.clone())?;
        Ok(Some(prost_types::Timestamp { seconds: start.timestamp().as_second(), nanos: 0 }))
    };
    Ok(loyalty_api::common::v1::TimeRange { start: day(from, "from", 0)?, end: day(to, "to", 1)? })
}

pub async fn run(args: ExportArgs, out: &Output) -> anyhow::Result<()> {
    let mut api = ImportExportServiceClient::new(args.connection.authed().await?);
    let tenant = Tenant::of(&args.connection).await;
    match args.command {
        ExportCommand::Clients {
            out: path,
            audience,
            columns,
            groups,
            from,
            to,
            anonymise,
            only_consented,
            language,
            no_bom,
        } => {
            let format = format_of(&path)?;
            let audience = audience.read(&args.connection).await?;
            let period = (from.is_some() || to.is_some()).then_some(period(&tenant, &from, &to)?);
            let request = pb::StartExportRequest {
                period,
                kind: pb::ExportKind::Clients as i32,
                format: format as i32,
                audience: Some(audience),
                columns,
                data_groups: groups,
                anonymise,
                only_consented,
                language,
                csv_bom: !no_bom,
                ..Default::default()
            };
            let last = follow(&mut api, request, out, "clients").await?;
            download(&mut api, &last, &path).await?;
            out.one(&last, || summary(&last, &path, &tenant, "clients"));
        }
        ExportCommand::Operations { out: path, audience, from, to, anonymise, language } => {
            let format = format_of(&path)?;
            anyhow::ensure!(format != pb::FileFormat::EmailList, "operations go to .csv, .xlsx or .pdf");
            let audience = audience.read(&args.connection).await?;
            let period = period(&tenant, &from, &to)?;
            let request = pb::StartExportRequest {
                kind: pb::ExportKind::LedgerOperations as i32,
                format: format as i32,
                audience: Some(audience),
                period: Some(period),
                anonymise,
                language,
                csv_bom: true,
                ..Default::default()
            };
            let last = follow(&mut api, request, out, "operations").await?;
            download(&mut api, &last, &path).await?;
            out.one(&last, || summary(&last, &path, &tenant, "operations"));
        }
        ExportCommand::Download { job_id, out: path } => {
            let job = api.get_job(pb::GetJobRequest { job_id }).await?.into_inner();
            download(&mut api, &job, &path).await?;
            let what = if job.kind == "export_operations" { "operations" } else { "clients" };
            out.one(&job, || summary(&job, &path, &tenant, what));
        }
    }
    Ok(())
}

/// The format a file's extension names.
fn format_of(path: &std::path::Path) -> anyhow::Result<pb::FileFormat> {
    Ok(match path.extension().and_then(|e| e.to_str()) {
        Some("xlsx") => pb::FileFormat::Xlsx,
        Some("pdf") => pb::FileFormat::Pdf,
        Some("txt") => pb::FileFormat::EmailList,
        Some("csv") => pb::FileFormat::Csv,
        other => anyhow::bail!("{}: name the file .csv, .xlsx, .pdf or .txt (got {other:?})", path.display()),
    })
}

impl AudienceArgs {
    /// The audience: a segment, named clients, a filter in its text form, or everyone.
    async fn read(self, connection: &Connection) -> anyhow::Result<Audience> {
        let AudienceArgs { filter, segment, clients } = self;
        Ok(match (segment, filter.trim()) {
            (Some(id), _) => Audience { source: Some(Source::SegmentId(id)) },
            (None, "") if !clients.is_empty() => {
                Audience { source: Some(Source::ClientIds(ClientIds { client_ids: clients })) }
            }
            (None, "") => Audience { source: Some(Source::AllClients(AllClients {})) },
            (None, text) => {
                let mut segments = SegmentServiceClient::new(connection.authed().await?);
                let request = loyalty_api::segment::v1::ParseFilterRequest { filter_text: text.into() };
                let parsed = segments.parse_filter(request).await?.into_inner().filter;
                Audience { source: parsed.map(Source::Filter) }
            }
        })
    }
}

/// Starts the export and follows it to its end with a progress line (rows, rows/s, expected end).
async fn follow(
    api: &mut ImportExportServiceClient<crate::connection::Authed>,
    request: pb::StartExportRequest,
    out: &Output,
    what: &str,
) -> anyhow::Result<pb::Job> {
    let job = api.start_export(request).await?.into_inner();
    let mut updates = api.watch_job(pb::GetJobRequest { job_id: job.id.clone() }).await?.into_inner();
    let (mut last, began) = (job, std::time::Instant::now());
    while let Some(next) = updates.next().await {
        last = next?;
        if !out.json() {
            let rate = last.rows_done as f64 / began.elapsed().as_secs_f64().max(0.001);
            let left = if rate > 0.0 { (last.rows_total - last.rows_done).max(0) as f64 / rate } else { 0.0 };
            eprint!(
                "\r{}: {} of {} {what} written, {rate:.0}/s, about {left:.0} s to go   ",
                state(&last),
                last.rows_done,
                last.rows_total
            );
        }
    }
    if !out.json() {
        eprintln!();
    }
    anyhow::ensure!(last.state() == pb::JobState::Succeeded, "the export ended {}: {}", state(&last), last.error);
    Ok(last)
}

/// Writes the export's file to `path`, resuming after the bytes already there, and checks its
/// SHA-256 against the job's.
async fn download(
    api: &mut ImportExportServiceClient<crate::connection::Authed>,
    job: &pb::Job,
    path: &PathBuf,
) -> anyhow::Result<()> {
    let have = std::fs::metadata(path).map(|m| m.len() as i64).unwrap_or(0);
    let offset = if have > 0 && have < job.file_size { have } else { 0 };
    let mut file = if offset > 0 {
        std::fs::OpenOptions::new().append(true).open(path)?
    } else {
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?
    };
    let mut stream =
        api.download_export(pb::DownloadExportRequest { job_id: job.id.clone(), offset }).await?.into_inner();
    while let Some(chunk) = stream.next().await {
        file.write_all(&chunk?.data)?;
    }
    file.flush()?;
    let written = std::fs::read(path)?;
    let sha: String = sha2::Sha256::digest(&written).iter().map(|b| format!("{b:02x}")).collect();
    anyhow::ensure!(
        sha == job.sha256,
        "{}: the checksum does not match the export's; download it again",
        path.display()
    );
    Ok(())
}

fn state(j: &pb::Job) -> String {
    crate::format::word(j.state().as_str_name(), "JOB_STATE_")
}

fn summary(j: &pb::Job, path: &std::path::Path, tenant: &Tenant, what: &str) -> String {
    format!(
        "export {}: {} {what}, {} bytes written to {} (checksum verified; downloadable until {})",
        j.id,
        j.rows_total,
        j.file_size,
        path.display(),
        tenant.time(j.expires_at.as_ref())
    )
}
