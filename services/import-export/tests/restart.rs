//! Killed mid-file (IE-2): the import-export service runs as its own process, is killed with
//! SIGKILL while a job is part-way through a file, and started again; the job resumes where its
//! last batch was committed and ends with the figures of an uninterrupted run: every good row one
//! client, every bad row one report.
mod support;

use loyalty_api::importexport::v1 as pb;
use loyalty_api::importexport::v1::import_export_service_client::ImportExportServiceClient;
use loyalty_platform::auth::BearerToken;
use loyalty_testkit::TestApp;
use loyalty_testkit::support::TENANT;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::*;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

type Api = ImportExportServiceClient<InterceptedService<Channel, BearerToken>>;

const ROWS: usize = 900;

/// Rows 0..ROWS: every 10th has a malformed email, every 15th repeats the row before it.
fn file() -> (Vec<u8>, usize, usize, usize) {
    let mut text = "Vardas,Pavardė,El. paštas\n".to_string();
    let (mut good, mut bad, mut repeated) = (0, 0, 0);
    for i in 0..ROWS {
        if i % 10 == 9 {
            text.push_str(&format!("Blogas{i},Pavardenis,blogas{i}(at)example.lt\n"));
            bad += 1;
        } else if i % 15 == 14 {
            text.push_str(&format!("Vėl{i},Pavardenis,v{}@example.lt\n", i - 1));
            repeated += 1;
        } else {
            text.push_str(&format!("Vardenis{i},Pavardenis,v{i}@example.lt\n"));
            good += 1;
        }
    }
    (text.into_bytes(), good, bad, repeated)
}

fn spawn(app: &TestApp, port: u16) -> Child {
    let s = &app.settings;
    Command::new(env!("CARGO_BIN_EXE_loyalty-import-export"))
        .env("LOYALTY_IMPORTEXPORT__DATABASE__URL", s.database.url.expose())
        .env("LOYALTY_IMPORTEXPORT__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("LOYALTY_IMPORTEXPORT__SERVER__METRICS_LISTEN", "")
        .env("LOYALTY_IMPORTEXPORT__AUTH__JWKS_FILE", &s.auth.jwks_file)
        .env("LOYALTY_IMPORTEXPORT__AUTH__ISSUER", &s.auth.issuer)
        .env("LOYALTY_IMPORTEXPORT__IDENTITY__SIGNING_KEY", s.identity.signing_key.expose())
        .env("LOYALTY_IMPORTEXPORT__IDENTITY__SIGNING_KID", &s.identity.signing_kid)
        .env("LOYALTY_IMPORTEXPORT__PEERS__CLIENT", format!("http://{}", app.addr))
        .env("LOYALTY_IMPORTEXPORT__IMPORTEXPORT__POLL_EVERY_MS", "20")
        .env("LOYALTY_IMPORTEXPORT__IMPORTEXPORT__BATCH_ROWS", "10")
        .env("LOYALTY_IMPORTEXPORT__IMPORTEXPORT__LEASE_S", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the loyalty-import-export binary starts")
}

async fn connect(port: u16, token: &str) -> Api {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(channel) = Channel::from_shared(format!("http://127.0.0.1:{port}")).expect("url").connect().await {
            return ImportExportServiceClient::new(InterceptedService::new(
                channel,
                BearerToken::new(token).expect("token"),
            ));
        }
        assert!(Instant::now() < deadline, "loyalty-import-export did not listen on {port} within 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

async fn job(api: &mut Api, id: &str) -> pb::Job {
    api.get_job(pb::GetJobRequest { job_id: id.into() }).await.expect("job").into_inner()
}

#[tokio::test]
async fn killed_mid_file_it_resumes_and_ends_as_if_never_interrupted() {
    let app = peers(loyalty_testkit::test_settings().await.expect("a test database"), false).await;
    let (bytes, good, bad, repeated) = file();
    let (port, token) = (free_port(), app.admin_token(TENANT));
    let mut process = spawn(&app, port);
    let mut api = connect(port, &token).await;
    let stream = futures::stream::iter(messages(header("killed"), &bytes, 4096, 0));
    let started = api.start_import(stream).await.expect("upload").into_inner();

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = job(&mut api, &started.id).await;
        if now.rows_done >= 100 {
            break;
        }
        assert!(Instant::now() < deadline, "the job never got going: {now:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    process.kill().expect("SIGKILL");
    process.wait().expect("reaped");
    let db = loyalty_testkit::support::sql(&app, "importexport").await;
    let at_kill: i64 = db.query_one("SELECT rows_done FROM jobs", &[]).await.expect("job row").get(0);
    assert!((at_kill as usize) < ROWS, "killed part-way: {at_kill} of {ROWS} rows done");

    let mut process = spawn(&app, port);
    let mut api = connect(port, &token).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let done = loop {
        let now = job(&mut api, &started.id).await;
        if now.state() == pb::JobState::Succeeded {
            break now;
        }
        assert_ne!(now.state(), pb::JobState::Failed, "{now:?}");
        assert!(Instant::now() < deadline, "the job did not finish after the restart: {now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    process.kill().expect("stopped");
    let _ = process.wait();
    assert_eq!(
        (done.rows_total, done.rows_done, done.rows_imported, done.rows_failed, done.duplicate_warnings),
        (ROWS as i64, ROWS as i64, good as i64, bad as i64, repeated as i64),
        "{done:?}"
    );
    let reported: i64 = db.query_one("SELECT count(*) FROM row_reports", &[]).await.expect("count").get(0);
    assert_eq!(reported as usize, bad + repeated, "one report per bad or repeated row");
    let clients = loyalty_testkit::support::sql(&app, "client").await;
    let created: i64 = clients.query_one("SELECT count(*) FROM clients", &[]).await.expect("count").get(0);
    assert_eq!(created as usize, good, "every good row is one client, none twice");
}
