//! `import-1m`: a client file of seed 000's layout (1,000,000 rows by default, `BENCH_ROWS`)
//! uploaded to the import-export service and imported: every row validated, matched by email,
//! created through the client service and reported. The baselines in the same run: `COPY` of the
//! same file into a table with a unique `lower(email)` index (the yardstick), and binary
//! `COPY` of the same rows into a table like the client service's, every index of it included (the
//! floor: what the client table alone costs, with no service in the way).
use crate::harness::{development_auth, env_number, fresh_database, round, server_url};
use crate::segment_count::rss_mb;
use anyhow::Context;
use futures::{SinkExt, StreamExt};
use loyalty_api::common::v1::FileChunk;
use loyalty_api::importexport::v1 as pb;
use loyalty_api::importexport::v1::import_export_service_client::ImportExportServiceClient;
use loyalty_api::importexport::v1::start_import_request::Part;
use loyalty_platform::Secret;
use loyalty_platform::auth::{ALL_RIGHTS, BearerToken, Grant};
use loyalty_platform::config::PlatformSettings;
use loyalty_platform::server::Services;
use std::time::{Duration, Instant};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

const TENANT: &str = "bench";
const FIRST: [&str; 8] = ["Šarūnė", "Jonas", "Ona", "Rūta", "Mindaugas", "Eglė", "Žygimantas", "Aušra"];
const LAST: [&str; 8] =
    ["Žemaitė", "Jonaitis", "Kazlauskienė", "Petrauskas", "Čiurlionis", "Vaitkutė", "Šimkus", "Balčiūnas"];
const CITIES: [&str; 4] = ["Vilnius", "Kaunas", "Klaipėda", "Šiauliai"];

/// The file: a header and `rows` clients, every one with an email, a third with a phone.
pub fn file(rows: u64) -> Vec<u8> {
    let mut out = String::with_capacity(rows as usize * 110);
    out.push_str("Vardas;Pavardė;El. paštas;Telefonas;Gimimo data;Adresas;Miestas;Pastabos\n");
    for i in 0..rows {
        let (f, l, c) = (FIRST[(i % 8) as usize], LAST[(i / 8 % 8) as usize], CITIES[(i % 4) as usize]);
        let phone = if i % 3 == 0 { format!("+3706{:07}", i % 10_000_000) } else { String::new() };
        let birth = format!("{}-{:02}-{:02}", 1950 + i % 55, 1 + i % 12, 1 + i % 28);
        out.push_str(&format!(
            "{f};{l};klientas{i}@example.lt;{phone};{birth};Gedimino pr. {};{c};migruota\n",
            i % 200
        ));
    }
    out.into_bytes()
}

/// COPY of the same file into a table with a unique lower(email) index: rows per second.
async fn copy_floor(db: &tokio_postgres::Client, bytes: &[u8], rows: u64) -> anyhow::Result<f64> {
    db.batch_execute(
        "DROP TABLE IF EXISTS copy_floor;
         CREATE TABLE copy_floor (first_name text, last_name text, email text, phone text, birth_date date,
                                  address text, city text, notes text);
         CREATE UNIQUE INDEX ON copy_floor (lower(email));",
    )
    .await?;
    let started = Instant::now();
    let sink = db.copy_in("COPY copy_floor FROM STDIN (FORMAT csv, HEADER, DELIMITER ';')").await?;
    futures::pin_mut!(sink);
    for chunk in bytes.chunks(1 << 20) {
        sink.send(bytes::Bytes::copy_from_slice(chunk)).await?;
    }
    let copied = sink.finish().await?;
    anyhow::ensure!(copied == rows, "COPY wrote {copied} rows of {rows}");
    Ok(rows as f64 / started.elapsed().as_secs_f64())
}

/// The same rows written straight into a table like the client service's (every index of it,
/// trigram search indexes included) with binary COPY, parsed as the service parses them: what
/// the client table alone costs, with no service, no events and no report in the way.
async fn table_floor(settings: &PlatformSettings, rows: u64) -> anyhow::Result<f64> {
    use loyalty_client::domain::Profile;
    use loyalty_client::domain::profile::Rules;
    use loyalty_client::store::bulk::{NewClient, copy_clients};
    let admin = loyalty_platform::db::connect(&settings.database, "public").await?;
    admin
        .batch_execute(
            "DROP SCHEMA IF EXISTS floor_client CASCADE; CREATE SCHEMA floor_client;
             CREATE TABLE floor_client.clients (LIKE client.clients INCLUDING ALL);",
        )
        .await?;
    let db = loyalty_platform::db::connect(&settings.database, "floor_client").await?;
    let tenant = loyalty_platform::TenantId::trusted(TENANT);
    let rules = Rules { phone_region: "LT", latest_date: time::OffsetDateTime::now_utc().date() };
    let started = Instant::now();
    let mut at = 0;
    while at < rows {
        let end = (at + 50_000).min(rows);
        let mut batch = Vec::with_capacity((end - at) as usize);
        for i in at..end {
            let (f, l, c) = (FIRST[(i % 8) as usize], LAST[(i / 8 % 8) as usize], CITIES[(i % 4) as usize]);
            let wire = loyalty_api::client::v1::Client {
                first_name: f.into(),
                last_name: l.into(),
                email: format!("klientas{i}@example.lt"),
                phone: if i % 3 == 0 { format!("+3706{:07}", i % 10_000_000) } else { String::new() },
                city: c.into(),
                ..Default::default()
            };
            let profile = Profile::parse(&wire, "", &rules)
                .map_err(|v| anyhow::anyhow!("row {i}: {:?}", v.iter().collect::<Vec<_>>()))?;
            batch.push(NewClient::new(&tenant, uuid::Uuid::now_v7(), profile, time::OffsetDateTime::now_utc()));
        }
        copy_clients(&db, batch).await?;
        at = end;
    }
    let per_s = rows as f64 / started.elapsed().as_secs_f64();
    admin.batch_execute("DROP SCHEMA floor_client CASCADE").await?;
    Ok(per_s)
}

pub async fn run() -> anyhow::Result<()> {
    let rows = env_number("BENCH_ROWS", 1_000_000)?;
    eprintln!("import-1m: writing a {rows}-row file");
    let bytes = file(rows);
    let admin = tokio::task::spawn_blocking(server_url).await??;
    let mut settings = PlatformSettings::default();
    settings.database.url = Secret::new(fresh_database(&admin, "bench_import").await?);
    settings.database.max_size = 16;
    settings.server.listen = "127.0.0.1:0".into();
    settings.server.metrics_listen = String::new();
    let signer = development_auth(&mut settings);
    let floor_db = loyalty_platform::db::connect(&settings.database, "public").await?;
    let copy_rows_per_s = copy_floor(&floor_db, &bytes, rows).await?;
    eprintln!("COPY floor: {copy_rows_per_s:.0} rows/s ({:.1} MB)", bytes.len() as f64 / 1e6);
    floor_db.batch_execute("DROP TABLE copy_floor").await?;

    let bound = loyalty_platform::server::bind(&settings.server).await?;
    settings.server.listen = bound.addr.to_string();
    let mut services = Services::new();
    loyalty_client::register(&loyalty_client::Settings::with_platform(&settings), &mut services).await?;
    loyalty_card::register(&loyalty_card::Settings::with_platform(&settings), &mut services).await?;
    let mut imports = loyalty_import_export::Settings::with_platform(&settings);
    imports.importexport.batch_rows = env_number("BENCH_BATCH", 1000)? as usize;
    imports.importexport.poll_every_ms = 20;
    loyalty_import_export::register(&imports, &mut services).await?;
    let server = loyalty_platform::server::serve(bound, &settings.server, &settings.auth, services).await?;
    let table_rows_per_s = table_floor(&settings, rows).await?;
    eprintln!("the client table alone (COPY with its indexes): {table_rows_per_s:.0} rows/s");
    let token = signer.mint(&Grant::new(TENANT, &[ALL_RIGHTS]))?;
    let channel = Channel::from_shared(format!("http://{}", server.addr))?.connect().await?;
    let mut api = ImportExportServiceClient::new(InterceptedService::new(channel, BearerToken::new(&token)?));

    let rss_before = rss_mb();
    let started = Instant::now();
    let header = pb::ImportHeader {
        kind: pb::ImportKind::Clients as i32,
        format: pb::FileFormat::Csv as i32,
        file_name: "million.csv".into(),
        upload_id: "bench-million".into(),
        ..Default::default()
    };
    let mut parts = vec![pb::StartImportRequest { part: Some(Part::Header(header)) }];
    for (i, chunk) in bytes.chunks(1 << 20).enumerate() {
        let chunk = FileChunk { data: chunk.to_vec(), offset: (i << 20) as i64 };
        parts.push(pb::StartImportRequest { part: Some(Part::Chunk(chunk)) });
    }
    let job = api.start_import(futures::stream::iter(parts)).await.context("uploading")?.into_inner();
    let upload_s = started.elapsed().as_secs_f64();
    eprintln!("uploaded in {upload_s:.1} s; importing");
    let mut updates = api.watch_job(pb::GetJobRequest { job_id: job.id.clone() }).await?.into_inner();
    let (mut last, mut shown, mut peak) = (job, Instant::now(), rss_mb());
    while let Some(next) = updates.next().await {
        last = next?;
        peak = peak.max(rss_mb());
        if shown.elapsed() > Duration::from_secs(2) {
            eprintln!(
                "  {} rows done ({:.0}/s)",
                last.rows_done,
                last.rows_done as f64 / started.elapsed().as_secs_f64()
            );
            shown = Instant::now();
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(last.state() == pb::JobState::Succeeded, "the import ended {:?}: {}", last.state(), last.error);
    anyhow::ensure!(last.rows_imported as u64 == rows, "imported {} of {rows}: {last:?}", last.rows_imported);
    let rows_per_s = rows as f64 / seconds;
    println!(
        "{}",
        serde_json::json!({
            "scenario": "import-1m",
            "rows": rows,
            "rows_per_s": round(rows_per_s),
            "copy_rows_per_s": round(copy_rows_per_s),
            "client_table_copy_rows_per_s": round(table_rows_per_s),
            "ratio_to_client_table": round(rows_per_s / table_rows_per_s),
            "ratio": round(rows_per_s / copy_rows_per_s),
            "goal_ratio": 0.5,
            "seconds": round(seconds),
            "upload_s": round(upload_s),
            "batch_rows": imports.importexport.batch_rows,
            "rss_growth_mb": round(peak - rss_before),
        })
    );
    Ok(())
}
