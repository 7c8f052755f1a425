//! The import-export service beside the client and card services it creates clients through, as
//! `loyalty dev up` runs them, and the helpers its tests share: uploading a file, waiting for a
//! job, reading its reports and error file.
#![allow(dead_code)]
use futures::StreamExt;
use loyalty_api::client::v1 as clients;
use loyalty_api::importexport::v1 as pb;
use loyalty_api::importexport::v1::start_import_request::Part;
use loyalty_platform::config::PlatformSettings;
use loyalty_platform::server::Services;
use loyalty_testkit::TestApp;
use loyalty_testkit::support::{self, ImportExport};
use std::time::{Duration, Instant};

#[allow(unused_imports)]
pub use loyalty_testkit::support::{Clients, TENANT, fields};

pub async fn start() -> TestApp {
    peers(loyalty_testkit::test_settings().await.expect("a test database"), true).await
}

/// The suite with the segment service following the feeds too.
pub async fn start_with_segments() -> TestApp {
    start_with_clock(std::sync::Arc::new(loyalty_platform::clock::SystemClock)).await
}

/// The suite with segments and the ledger, and import-export on `clock` (its 24-hour files).
pub async fn start_with_clock(clock: loyalty_platform::clock::SharedClock) -> TestApp {
    let settings = loyalty_testkit::test_settings().await.expect("a test database");
    TestApp::start_with(settings, move |settings| async move {
        let mut services = Services::new();
        loyalty_client::register(&loyalty_client::Settings::with_platform(&settings), &mut services).await?;
        loyalty_card::register(&loyalty_card::Settings::with_platform(&settings), &mut services).await?;
        loyalty_ledger::register(&loyalty_ledger::Settings::with_platform(&settings), &mut services).await?;
        let mut segment = loyalty_segment::Settings::with_platform(&settings);
        segment.segments.follow_every_ms = 20;
        segment.segments.automatic_every_s = 0;
        loyalty_segment::register(&segment, &mut services).await?;
        let mut imports = loyalty_import_export::Settings::with_platform(&settings);
        imports.importexport.poll_every_ms = 20;
        imports.importexport.purge_every_s = 1;
        imports.importexport.pdf_max_rows = 60;
        loyalty_import_export::register_with_clock(&imports, &mut services, clock).await?;
        Ok(services)
    })
    .await
    .expect("the suite starts against a real Postgres")
}

/// The client and card services on `settings`, with the ledger and import-export in-process when
/// `with_imports`.
pub async fn peers(settings: PlatformSettings, with_imports: bool) -> TestApp {
    TestApp::start_with(settings, move |settings| async move {
        let mut services = Services::new();
        loyalty_client::register(&loyalty_client::Settings::with_platform(&settings), &mut services).await?;
        loyalty_card::register(&loyalty_card::Settings::with_platform(&settings), &mut services).await?;
        if with_imports {
            loyalty_ledger::register(&loyalty_ledger::Settings::with_platform(&settings), &mut services).await?;
            let mut imports = loyalty_import_export::Settings::with_platform(&settings);
            imports.importexport.poll_every_ms = 20;
            imports.importexport.batch_rows = 3;
            loyalty_import_export::register(&imports, &mut services).await?;
        }
        Ok(services)
    })
    .await
    .expect("the suite starts against a real Postgres")
}

pub fn api(app: &TestApp, token: &str) -> ImportExport {
    support::import_export(app, token)
}

pub fn admin(app: &TestApp) -> ImportExport {
    api(app, &app.admin_token(TENANT))
}

pub fn client_api(app: &TestApp) -> Clients {
    support::clients(app, &app.admin_token(TENANT))
}

/// A header for a client file with an upload id of its own.
pub fn header(upload_id: &str) -> pb::ImportHeader {
    pb::ImportHeader {
        kind: pb::ImportKind::Clients as i32,
        format: pb::FileFormat::Csv as i32,
        file_name: "klientai.csv".into(),
        upload_id: upload_id.into(),
        ..Default::default()
    }
}

/// The messages of an upload: the header, then `file` in chunks of `chunk` bytes from `from`.
pub fn messages(header: pb::ImportHeader, file: &[u8], chunk: usize, from: usize) -> Vec<pb::StartImportRequest> {
    let mut out = vec![pb::StartImportRequest { part: Some(Part::Header(header)) }];
    let mut at = from;
    while at < file.len() {
        let end = (at + chunk).min(file.len());
        let data = file[at..end].to_vec();
        out.push(pb::StartImportRequest {
            part: Some(Part::Chunk(loyalty_api::common::v1::FileChunk { data, offset: at as i64 })),
        });
        at = end;
    }
    out
}

/// Uploads `file` whole and answers the job it started.
pub async fn upload(api: &mut ImportExport, header: pb::ImportHeader, file: &[u8]) -> Result<pb::Job, tonic::Status> {
    let chunk = if file.len() > 100_000 { 1 << 20 } else { 100 };
    let stream = futures::stream::iter(messages(header, file, chunk, 0));
    api.start_import(stream).await.map(|r| r.into_inner())
}

/// The job once it ended (fails after 60 s).
pub async fn finished(api: &mut ImportExport, job_id: &str) -> pb::Job {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = api.get_job(pb::GetJobRequest { job_id: job_id.into() }).await.expect("job").into_inner();
        if ![pb::JobState::Queued, pb::JobState::Running].contains(&job.state()) {
            return job;
        }
        assert!(Instant::now() < deadline, "job {job_id} did not end within 60 s: {job:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Uploads `file` and waits for its job to end.
pub async fn import(api: &mut ImportExport, header: pb::ImportHeader, file: &[u8]) -> pb::Job {
    let job = upload(api, header, file).await.expect("upload accepted");
    finished(api, &job.id).await
}

/// A row's report: (row, severity, [(column, reason)], client id).
pub type RowReport = (i64, String, Vec<(String, String)>, String);

/// Every row report of a job.
pub async fn reports(api: &mut ImportExport, job_id: &str) -> Vec<RowReport> {
    let request = pb::ListRowReportsRequest {
        job_id: job_id.into(),
        page: Some(loyalty_api::common::v1::PageRequest { page_size: 1000, page_token: String::new() }),
    };
    let answer = api.list_row_reports(request).await.expect("reports").into_inner();
    answer
        .reports
        .into_iter()
        .map(|r| (r.row, r.severity, r.violations.into_iter().map(|v| (v.field, v.description)).collect(), r.client_id))
        .collect()
}

/// The error file of a job, as text without its byte-order mark.
pub async fn error_file(api: &mut ImportExport, job_id: &str) -> String {
    let mut stream = api
        .download_error_file(pb::DownloadExportRequest { job_id: job_id.into(), offset: 0 })
        .await
        .expect("file")
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("chunk");
        assert_eq!(chunk.offset as usize, bytes.len(), "chunks say where they start");
        bytes.extend(chunk.data);
    }
    let text = String::from_utf8(bytes).expect("UTF-8");
    text.strip_prefix('\u{feff}').expect("a byte-order mark for spreadsheets").to_string()
}

/// The tenant's clients as (first name, email), sorted.
pub async fn people(clients: &mut Clients) -> Vec<(String, String)> {
    let page = Some(loyalty_api::common::v1::PageRequest { page_size: 1000, page_token: String::new() });
    let request = clients::ListClientsRequest { page, ..Default::default() };
    let mut found: Vec<(String, String)> = clients
        .list_clients(request)
        .await
        .expect("clients")
        .into_inner()
        .clients
        .into_iter()
        .map(|c| (c.first_name, c.email))
        .collect();
    found.sort();
    found
}

/// Imports the client file `people` (all of it, or the test fails) and lists the clients.
pub async fn imported(app: &TestApp, people: &str) -> Vec<clients::Client> {
    let job = import(&mut admin(app), header("people"), people.as_bytes()).await;
    assert_eq!((job.rows_imported, job.rows_failed), (job.rows_total, 0), "{job:?}");
    let page = Some(loyalty_api::common::v1::PageRequest { page_size: 100, page_token: String::new() });
    let listed = client_api(app).list_clients(clients::ListClientsRequest { page, ..Default::default() }).await;
    listed.expect("list").into_inner().clients
}

/// What the report of `row` says: its severity, then each "column: why".
pub fn said(reports: &[RowReport], row: i64) -> String {
    let found = reports.iter().find(|r| r.0 == row).unwrap_or_else(|| panic!("row {row}: {reports:?}"));
    format!("{} {}", found.1, found.2.iter().map(|(c, w)| format!("{c}: {w}")).collect::<Vec<_>>().join("; "))
}

/// Waits until the segment service counts `n` clients of the tenant.
pub async fn segment_counts(app: &TestApp, n: i64) {
    use loyalty_api::filter::v1::{AllClients, Audience, audience::Source};
    let mut seg = support::segments(app, &app.admin_token(TENANT));
    let everyone = Audience { source: Some(Source::AllClients(AllClients {})) };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let request = loyalty_api::segment::v1::CountClientsRequest { audience: Some(everyone.clone()) };
        let count = seg.count_clients(request).await.map(|c| c.into_inner().count);
        if count.as_ref().ok() == Some(&n) {
            return;
        }
        assert!(Instant::now() < deadline, "segment never counted {n} clients: {count:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An export to its end, then its file.
pub async fn export(api: &mut ImportExport, request: pb::StartExportRequest) -> (pb::Job, Vec<u8>) {
    let job = api.start_export(request).await.expect("export started").into_inner();
    let job = finished(api, &job.id).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{job:?}");
    let file = download(api, &job.id, 0).await.expect("download");
    (job, file)
}

/// The bytes of an export's file from `offset`.
pub async fn download(api: &mut ImportExport, job_id: &str, offset: i64) -> Result<Vec<u8>, tonic::Status> {
    let request = pb::DownloadExportRequest { job_id: job_id.into(), offset };
    let mut stream = api.download_export(request).await?.into_inner();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        assert_eq!(chunk.offset as usize, offset as usize + bytes.len(), "chunks say where they start");
        bytes.extend(chunk.data);
    }
    Ok(bytes)
}

/// LibreOffice Calc (headless) opening an XLSX and saving its first sheet as UTF-8 CSV.
pub fn spreadsheet_csv(xlsx: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("lo-{}", uuid_like()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("export.xlsx");
    std::fs::write(&path, xlsx).expect("written");
    let profile = format!("-env:UserInstallation=file://{}/profile", dir.display());
    let out = std::process::Command::new("soffice")
        .args([
            profile.as_str(),
            "--headless",
            "--norestore",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76,1",
        ])
        .arg("--outdir")
        .arg(&dir)
        .arg(&path)
        .output()
        .expect("soffice runs (.ci/ensure-tools installs libreoffice-calc-nogui)");
    let csv = std::fs::read_to_string(dir.join("export.csv"))
        .unwrap_or_else(|_| panic!("LibreOffice wrote no CSV: {}", String::from_utf8_lossy(&out.stderr)));
    let _ = std::fs::remove_dir_all(&dir);
    csv
}

/// A member of the XLSX archive, as text (unzip).
pub fn xlsx_part(xlsx: &[u8], part: &str) -> String {
    let path = std::env::temp_dir().join(format!("x-{}.xlsx", uuid_like()));
    std::fs::write(&path, xlsx).expect("written");
    let out = std::process::Command::new("unzip").arg("-p").arg(&path).arg(part).output().expect("unzip runs");
    let _ = std::fs::remove_file(&path);
    String::from_utf8(out.stdout).expect("XML")
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
    )
}
