//! `loyalty import …`: a client file into the suite, with progress while it runs; the row reports
//! and the error file after. Running the same command again resumes an upload a lost connection
//! broke (the upload is named after the file's checksum) and answers the job it started.
use crate::connection::Connection;
use crate::format::Tenant;
use crate::output::{Output, Table};
use anyhow::Context;
use futures::StreamExt;
use loyalty_api::common::v1::{FileChunk, PageRequest};
use loyalty_api::importexport::v1 as pb;
use loyalty_api::importexport::v1::import_export_service_client::ImportExportServiceClient;
use loyalty_api::importexport::v1::start_import_request::Part;
use sha2::Digest;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

type Api = ImportExportServiceClient<crate::connection::Authed>;

/// Bytes per message of an upload.
const CHUNK: usize = 1 << 20;

#[derive(clap::Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub connection: Connection,
    #[command(subcommand)]
    pub command: ImportCommand,
}

#[derive(clap::Subcommand)]
pub enum ImportCommand {
    /// Import a CSV or XLSX of clients (seed 000's layout: Vardas, Pavardė, El. paštas, Telefonas,
    /// Gimimo data, Adresas, Miestas, Pastabos; or map your columns with --map).
    Clients {
        #[command(flatten)]
        file: FileArgs,
        /// What finds an existing client: email (default) or phone.
        #[arg(long, default_value = "email")]
        match_key: String,
        /// An existing client is "skip" (a warning, default) or "fail" (an error row).
        #[arg(long, default_value = "skip")]
        existing: String,
    },
    /// Import a CSV or XLSX of cards from another system: Kortelės numeris (the number), the
    /// holder by Kliento ID, El. paštas or Telefonas, Išdavimo data (kept as the issue date) and
    /// Parduotuvė; or map your columns with --map (card_number, client_id, email, phone,
    /// issued_at, registration_store_id).
    Cards {
        #[command(flatten)]
        file: FileArgs,
    },
    /// Import a CSV or XLSX of points balances from another system as opening balances: the
    /// holder by Kliento ID, El. paštas or Telefonas, Taškai (whole points) and Galioja iki (the
    /// day they expire there); or map your columns with --map (client_id, email, phone, points,
    /// expires_at). A client has one opening balance: the same file twice credits nothing twice.
    Balances {
        #[command(flatten)]
        file: FileArgs,
    },
    /// Import a CSV or XLSX of past purchases from another system as history: the holder by
    /// Kliento ID, El. paštas or Telefonas, Čekio nr., Pirkimo data, Suma, Parduotuvė and
    /// optionally Valiuta; or map your columns with --map (check_id, purchased_at, amount,
    /// currency, registration_store_id). History earns no points; a store's check is recorded once.
    Purchases {
        #[command(flatten)]
        file: FileArgs,
    },
    /// Import jobs, newest first.
    Jobs,
    /// One job's figures.
    Show { job_id: String },
    /// The rows a job refused or skipped, with column and reason.
    Reports { job_id: String },
    /// Save the refused rows in the uploaded layout with a reason column, to fix and import again.
    Errors {
        job_id: String,
        #[arg(long, default_value = "errors.csv")]
        out: PathBuf,
    },
    /// Stop a running job (the rows committed stay).
    Cancel { job_id: String },
}

/// What every import takes: the file and how to read it.
#[derive(clap::Args)]
pub struct FileArgs {
    file: PathBuf,
    /// Check every row and report; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Column mapping, "File column=field", repeatable (fields: first_name, last_name, email,
    /// phone, birth_date, gender, address, city, region, notes, registration_store_id,
    /// registered_at, email_consent, sms_consent, consent_changed_at, card_number, issued_at, ...).
    #[arg(long = "map")]
    mapping: Vec<String>,
    /// The delimiter; detected when left out.
    #[arg(long, default_value = "")]
    delimiter: String,
    /// utf-8, windows-1257, windows-1251 or windows-1252; detected when left out.
    #[arg(long, default_value = "")]
    encoding: String,
    /// XLSX: the sheet to read (default the first).
    #[arg(long, default_value = "")]
    sheet: String,
    /// Names the upload (default: from the file's checksum, so the same command resumes).
    #[arg(long)]
    upload_id: Option<String>,
    /// Start the job and return at once instead of following it.
    #[arg(long)]
    no_wait: bool,
}

impl FileArgs {
    /// The upload's header for a file of `kind`.
    fn header(&self, kind: pb::ImportKind) -> anyhow::Result<pb::ImportHeader> {
        let file = &self.file;
        let xlsx = file.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
        let mut header = pb::ImportHeader {
            kind: kind as i32,
            format: if xlsx { pb::FileFormat::Xlsx } else { pb::FileFormat::Csv } as i32,
            sheet: self.sheet.clone(),
            file_name: file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default(),
            dry_run: self.dry_run,
            delimiter: self.delimiter.clone(),
            encoding: self.encoding.clone(),
            ..Default::default()
        };
        for pair in &self.mapping {
            let (column, field) =
                pair.split_once('=').with_context(|| format!("--map {pair:?}: write it as \"Column=field\""))?;
            header.column_mapping.insert(column.to_string(), field.to_string());
        }
        header.upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => checksum_id(file, self.dry_run)?,
        };
        Ok(header)
    }

    /// Uploads the file and, unless told not to, follows its job to the end.
    async fn import(&self, api: &mut Api, header: pb::ImportHeader, out: &Output) -> anyhow::Result<pb::Job> {
        let job = upload(api, header, &self.file, out).await?;
        if self.no_wait { Ok(job) } else { follow(api, &job.id, out).await }
    }
}

pub async fn run(args: ImportArgs, out: &Output) -> anyhow::Result<()> {
    let mut api = ImportExportServiceClient::new(args.connection.authed().await?);
    let tenant = Tenant::of(&args.connection).await;
    match args.command {
        ImportCommand::Clients { file, match_key, existing } => {
            let header = pb::ImportHeader {
                match_key: match match_key.as_str() {
                    "email" => loyalty_api::client::v1::MatchKey::Email,
                    "phone" => loyalty_api::client::v1::MatchKey::Phone,
                    other => anyhow::bail!("--match-key {other:?}: email or phone"),
                } as i32,
                existing: match existing.as_str() {
                    "skip" => pb::ExistingClients::Skip,
                    "fail" => pb::ExistingClients::Fail,
                    other => anyhow::bail!("--existing {other:?}: skip or fail"),
                } as i32,
                ..file.header(pb::ImportKind::Clients)?
            };
            let job = file.import(&mut api, header, out).await?;
            out.one(&job, || summary(&job, &tenant));
        }
        ImportCommand::Cards { file } => {
            let job = file.import(&mut api, file.header(pb::ImportKind::Cards)?, out).await?;
            out.one(&job, || summary(&job, &tenant));
        }
        ImportCommand::Balances { file } => {
            let job = file.import(&mut api, file.header(pb::ImportKind::Balances)?, out).await?;
            out.one(&job, || summary(&job, &tenant));
        }
        ImportCommand::Purchases { file } => {
            let job = file.import(&mut api, file.header(pb::ImportKind::Purchases)?, out).await?;
            out.one(&job, || summary(&job, &tenant));
        }
        ImportCommand::Jobs => {
            let page = Some(PageRequest { page_size: 100, page_token: String::new() });
            let r = api.list_jobs(pb::ListJobsRequest { page }).await?.into_inner();
            out.list(
                &r.jobs,
                || {
                    let mut t =
                        Table::new(&["id", "file", "state", "rows", "imported", "duplicates", "errors", "started"]);
                    for j in &r.jobs {
                        t.row(vec![
                            j.id.clone(),
                            j.file_name.clone(),
                            state(j),
                            format!("{}/{}", j.rows_done, j.rows_total),
                            j.rows_imported.to_string(),
                            j.duplicate_warnings.to_string(),
                            j.rows_failed.to_string(),
                            tenant.time(j.created_at.as_ref()),
                        ]);
                    }
                    t
                },
                &format!("{} jobs", r.page.map(|p| p.total_size).unwrap_or_default()),
            );
        }
        ImportCommand::Show { job_id } => {
            let job = api.get_job(pb::GetJobRequest { job_id }).await?.into_inner();
            out.one(&job, || summary(&job, &tenant));
        }
        ImportCommand::Reports { job_id } => {
            let mut all = Vec::new();
            let mut token = String::new();
            loop {
                let page = Some(PageRequest { page_size: 1000, page_token: token });
                let r = api
                    .list_row_reports(pb::ListRowReportsRequest { job_id: job_id.clone(), page })
                    .await?
                    .into_inner();
                all.extend(r.reports);
                token = r.page.map(|p| p.next_page_token).unwrap_or_default();
                if token.is_empty() {
                    break;
                }
            }
            out.list(
                &all,
                || {
                    let mut t = Table::new(&["row", "severity", "column", "reason", "client"]);
                    for r in &all {
                        for v in &r.violations {
                            t.row(vec![
                                r.row.to_string(),
                                r.severity.clone(),
                                v.field.clone(),
                                v.description.clone(),
                                r.client_id.clone(),
                            ]);
                        }
                    }
                    t
                },
                &format!("{} rows reported", all.len()),
            );
        }
        ImportCommand::Errors { job_id, out: path } => {
            let mut stream =
                api.download_error_file(pb::DownloadExportRequest { job_id, offset: 0 }).await?.into_inner();
            let mut file = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
            let mut size = 0;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                size += chunk.data.len();
                std::io::Write::write_all(&mut file, &chunk.data)?;
            }
            out.value(
                serde_json::json!({ "file": path, "bytes": size }),
                &format!("wrote {} ({size} bytes)", path.display()),
            );
        }
        ImportCommand::Cancel { job_id } => {
            let job = api.cancel_job(pb::CancelJobRequest { job_id }).await?.into_inner();
            out.one(&job, || summary(&job, &tenant));
        }
    }
    Ok(())
}

/// An upload id from the file's contents: the same file resumes its upload (and answers its job).
fn checksum_id(path: &Path, dry_run: bool) -> anyhow::Result<String> {
    let mut file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hash = sha2::Sha256::new();
    let mut buf = vec![0; CHUNK];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    let hex: String = hash.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect();
    Ok(format!("{}{hex}", if dry_run { "dry-" } else { "f-" }))
}

/// Sends the file from where the service's copy of this upload ends, in 1 MiB chunks.
async fn upload(api: &mut Api, header: pb::ImportHeader, path: &Path, out: &Output) -> anyhow::Result<pb::Job> {
    let held = api.get_upload(pb::GetUploadRequest { upload_id: header.upload_id.clone() }).await;
    let from = held.as_ref().map(|u| u.get_ref().received_bytes).unwrap_or(0);
    let mut file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let size = file.metadata()?.len() as i64;
    if from > 0 && !out.json() {
        eprintln!("resuming the upload at {from} of {size} bytes");
    }
    file.seek(std::io::SeekFrom::Start(from as u64))?;
    let first = pb::StartImportRequest { part: Some(Part::Header(header)) };
    let chunks = futures::stream::unfold((file, from), move |(mut file, at)| async move {
        let mut data = vec![0; CHUNK];
        let n = file.read(&mut data).ok()?;
        if n == 0 {
            return None;
        }
        data.truncate(n);
        let next = at + n as i64;
        eprint!("\ruploaded {next} of {size} bytes");
        Some((pb::StartImportRequest { part: Some(Part::Chunk(FileChunk { data, offset: at })) }, (file, next)))
    });
    let job = api.start_import(futures::stream::iter([first]).chain(chunks)).await?.into_inner();
    eprintln!();
    Ok(job)
}

/// Follows the job to its end, showing its progress on stderr.
async fn follow(api: &mut Api, id: &str, out: &Output) -> anyhow::Result<pb::Job> {
    let mut updates = api.watch_job(pb::GetJobRequest { job_id: id.into() }).await?.into_inner();
    let mut last = None;
    while let Some(job) = updates.next().await {
        let job = job?;
        if !out.json() {
            eprint!(
                "\r{}: {} rows read, {} imported, {} duplicates, {} errors   ",
                state(&job),
                job.rows_done,
                job.rows_imported,
                job.duplicate_warnings,
                job.rows_failed
            );
        }
        last = Some(job);
    }
    if !out.json() {
        eprintln!();
    }
    last.context("the job's progress stream ended without a figure")
}

fn state(j: &pb::Job) -> String {
    crate::format::word(j.state().as_str_name(), "JOB_STATE_")
}

fn summary(j: &pb::Job, tenant: &Tenant) -> String {
    let mut lines = vec![
        format!(
            "job {} ({}), {}{}",
            j.id,
            j.file_name,
            state(j),
            if j.dry_run { ", dry run: nothing written" } else { "" }
        ),
        format!(
            "{} rows: {} imported, {} duplicates skipped, {} refused (encoding {}, delimiter {:?})",
            j.rows_total.max(j.rows_done),
            j.rows_imported,
            j.duplicate_warnings,
            j.rows_failed,
            j.encoding,
            j.delimiter
        ),
        format!("started {}", tenant.time(j.created_at.as_ref())),
    ];
    if !j.error.is_empty() {
        lines.push(format!("error: {}", j.error));
    }
    if j.rows_failed > 0 || j.duplicate_warnings > 0 {
        lines.push(format!("see `loyalty import reports {}` and `loyalty import errors {}`", j.id, j.id));
    }
    lines.join("\n")
}
