//! `loyalty export …`: an audience out as CSV, XLSX or an e-mail list, followed to its end with
//! progress, then downloaded (a broken download resumes where the file on disk ends).
use crate::connection::Connection;
use crate::format::Tenant;
use crate::output::Output;
use anyhow::Context;
use futures::StreamExt;
use loyalty_api::filter::v1::{AllClients, Audience, audience::Source};
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

#[derive(clap::Subcommand)]
pub enum ExportCommand {
    /// Export clients: everyone, a filter (text form, see `loyalty segments facts`) or a segment.
    Clients {
        /// The file to write; its extension picks the format: .csv, .xlsx, .pdf (for print, at
        /// most 20,000 clients) or .txt (an e-mail list).
        out: PathBuf,
        /// A filter, e.g. 'purchases.sum(last 30 days) >= 100.00'.
        #[arg(long, default_value = "")]
        filter: String,
        /// A saved or built-in segment's id instead ("auto:vip").
        #[arg(long)]
        segment: Option<String>,
        /// Columns, facts of the catalogue, comma separated (default: names, email, phone, birth
        /// date, city, registration, points, purchases).
        #[arg(long, value_delimiter = ',')]
        columns: Vec<String>,
        /// Data groups besides: personal, financial, behavioural.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
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
    /// Download a finished export again (kept 24 hours); resumes a partial file.
    Download { job_id: String, out: PathBuf },
}

pub async fn run(args: ExportArgs, out: &Output) -> anyhow::Result<()> {
    let mut api = ImportExportServiceClient::new(args.connection.authed().await?);
    let tenant = Tenant::of(&args.connection).await;
    match args.command {
        ExportCommand::Clients {
            out: path,
            filter,
            segment,
            columns,
            groups,
            anonymise,
            only_consented,
            language,
            no_bom,
        } => {
            let format = match path.extension().and_then(|e| e.to_str()) {
                Some("xlsx") => pb::FileFormat::Xlsx,
                Some("pdf") => pb::FileFormat::Pdf,
                Some("txt") => pb::FileFormat::EmailList,
                Some("csv") => pb::FileFormat::Csv,
                other => anyhow::bail!("{}: name the file .csv, .xlsx, .pdf or .txt (got {other:?})", path.display()),
            };
            let audience = match (segment, filter.trim()) {
                (Some(id), _) => Audience { source: Some(Source::SegmentId(id)) },
                (None, "") => Audience { source: Some(Source::AllClients(AllClients {})) },
                (None, text) => {
                    let mut segments = SegmentServiceClient::new(args.connection.authed().await?);
                    let request = loyalty_api::segment::v1::ParseFilterRequest { filter_text: text.into() };
                    let parsed = segments.parse_filter(request).await?.into_inner().filter;
                    Audience { source: parsed.map(Source::Filter) }
                }
            };
            let request = pb::StartExportRequest {
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
            let job = api.start_export(request).await?.into_inner();
            let mut updates = api.watch_job(pb::GetJobRequest { job_id: job.id.clone() }).await?.into_inner();
            let mut last = job;
            while let Some(next) = updates.next().await {
                last = next?;
                if !out.json() {
                    eprint!("\r{}: {} of {} clients written   ", state(&last), last.rows_done, last.rows_total);
                }
            }
            if !out.json() {
                eprintln!();
            }
            anyhow::ensure!(
                last.state() == pb::JobState::Succeeded,
                "the export ended {}: {}",
                state(&last),
                last.error
            );
            download(&mut api, &last, &path).await?;
            out.one(&last, || summary(&last, &path, &tenant));
        }
        ExportCommand::Download { job_id, out: path } => {
            let job = api.get_job(pb::GetJobRequest { job_id }).await?.into_inner();
            download(&mut api, &job, &path).await?;
            out.one(&job, || summary(&job, &path, &tenant));
        }
    }
    Ok(())
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

fn summary(j: &pb::Job, path: &std::path::Path, tenant: &Tenant) -> String {
    format!(
        "export {}: {} clients, {} bytes written to {} (checksum verified; downloadable until {})",
        j.id,
        j.rows_total,
        j.file_size,
        path.display(),
        tenant.time(j.expires_at.as_ref())
    )
}
