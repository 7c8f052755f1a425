//! `export-1m`: on the `segment-count` data (1,000,000 clients by default, `BENCH_CLIENTS`), the
//! import-export service exports everyone's profile columns to CSV (the segment service pages the
//! clients, the file is written and stored with its checksum), beside `COPY (SELECT …) TO STDOUT`
//! of the same columns of the same clients from a plain table in the same run (the issue's
//! yardstick: no service, no paging, no storing). Then XLSX of ~100,000 clients (one city) and of
//! everyone (twice), with the process's peak resident memory during each (the goal: flat in the
//! row count) and the XLSX writer's own peak in a process of its own at 100,000 and 1,000,000
//! rows ([`crate::xlsx_writer`]), and a PDF of one tag's women (~11,000; a PDF takes at most 20,000), in rows per second.
use crate::harness::round;
use crate::segment_count::{Segments, Started, rss_mb, start_suite};
use anyhow::Context;
use futures::StreamExt;
use loyalty_api::filter::v1::{Audience, audience::Source};
use loyalty_api::importexport::v1 as pb;
use loyalty_api::importexport::v1::import_export_service_client::ImportExportServiceClient;
use loyalty_api::segment::v1 as spb;
use loyalty_platform::auth::BearerToken;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// The profile columns exported, and the same columns of the plain table.
const COLUMNS: [&str; 8] = [
    "client.id",
    "client.first_name",
    "client.gender",
    "client.birth_date",
    "client.city",
    "client.registration_store",
    "client.registered_at",
    "consent.email",
];
const COPY_TO: &str =
    "COPY (SELECT id, 'Client ' || id, gender, birth, city, reg_store, registered, email FROM raw.clients)
                       TO STDOUT (FORMAT csv, HEADER)";

type Exports = ImportExportServiceClient<InterceptedService<Channel, BearerToken>>;

/// What one export took.
struct Run {
    rows: i64,
    seconds: f64,
    bytes: i64,
    peak_rss_growth_mb: f64,
}

/// `COPY … TO STDOUT` of the plain table, every byte read: rows per second.
async fn copy_to(db: &tokio_postgres::Client) -> anyhow::Result<(u64, f64)> {
    let started = Instant::now();
    let stream = db.copy_out(COPY_TO).await?;
    futures::pin_mut!(stream);
    let (mut bytes, mut lines) = (0u64, 0u64);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        bytes += chunk.len() as u64;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!("COPY TO: {} rows, {:.1} MB in {seconds:.2} s", lines - 1, bytes as f64 / 1e6);
    Ok((lines - 1, seconds))
}

/// Starts an export of `audience` in `format` and follows it to its end, sampling this process's
/// resident memory (every service runs in it) as it goes.
async fn export(api: &mut Exports, format: pb::FileFormat, audience: Audience) -> anyhow::Result<Run> {
    let rss_before = rss_mb();
    let started = Instant::now();
    let request = pb::StartExportRequest {
        kind: pb::ExportKind::Clients as i32,
        format: format as i32,
        audience: Some(audience),
        columns: COLUMNS.iter().map(|c| c.to_string()).collect(),
        language: "lt".into(),
        ..Default::default()
    };
    let job = api.start_export(request).await.context("starting the export")?.into_inner();
    let mut updates = api.watch_job(pb::GetJobRequest { job_id: job.id.clone() }).await?.into_inner();
    let peak = Arc::new(Mutex::new(rss_before));
    let sampler = tokio::spawn({
        let peak = peak.clone();
        async move {
            loop {
                let now = rss_mb();
                if let Ok(mut p) = peak.lock() {
                    *p = p.max(now);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
    let (mut last, mut shown) = (job, Instant::now());
    while let Some(next) = updates.next().await {
        last = next?;
        if shown.elapsed().as_secs() >= 2 {
            let rate = last.rows_done as f64 / started.elapsed().as_secs_f64();
            eprintln!("  {format:?}: {} of {} rows ({rate:.0}/s)", last.rows_done, last.rows_total);
            shown = Instant::now();
        }
    }
    sampler.abort();
    let peak = peak.lock().map(|p| *p).unwrap_or(rss_before);
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        last.state() == pb::JobState::Succeeded,
        "the {format:?} export ended {:?}: {}",
        last.state(),
        last.error
    );
    Ok(Run { rows: last.rows_done, seconds, bytes: last.file_size, peak_rss_growth_mb: peak - rss_before })
}

/// The audience of a filter written in the filter language.
async fn filter(api: &mut Segments, text: &str) -> anyhow::Result<Audience> {
    let parsed = api.parse_filter(spb::ParseFilterRequest { filter_text: text.into() }).await?.into_inner();
    Ok(Audience { source: parsed.filter.map(Source::Filter) })
}

pub async fn run() -> anyhow::Result<()> {
    let Started { db, mut api, authed, server, written, .. } = start_suite("bench_export", true).await?;
    let mut exports = ImportExportServiceClient::new(authed);
    let everyone = Audience { source: Some(Source::AllClients(Default::default())) };
    let one_city = filter(&mut api, r#"client.city = "Vilnius""#).await?;
    let one_tag = filter(&mut api, r#"tags any of ("staff") and client.gender = "female""#).await?;
    let (copied, copy_s) = copy_to(&db).await?;
    let csv = export(&mut exports, pb::FileFormat::Csv, everyone.clone()).await?;
    let (copied_again, copy_again_s) = copy_to(&db).await?;
    anyhow::ensure!(
        copied == written.clients && copied_again == copied,
        "COPY TO gave {copied} rows of {}",
        written.clients
    );
    anyhow::ensure!(csv.rows as u64 == written.clients, "the CSV holds {} of {} clients", csv.rows, written.clients);
    let copy_to_rows_per_s = copied as f64 / copy_s.min(copy_again_s);
    let xlsx_city = export(&mut exports, pb::FileFormat::Xlsx, one_city).await?;
    let xlsx_all = export(&mut exports, pb::FileFormat::Xlsx, everyone.clone()).await?;
    // Once more: what the process keeps growing by when it has exported a million rows before
    // (the allocator's and the services' high-water marks are reached by then).
    let xlsx_again = export(&mut exports, pb::FileFormat::Xlsx, everyone).await?;
    let writer = [crate::xlsx_writer::peak_in_child(100_000)?, crate::xlsx_writer::peak_in_child(1_000_000)?];
    let pdf = export(&mut exports, pb::FileFormat::Pdf, one_tag).await?;
    let per_s = |r: &Run| round(r.rows as f64 / r.seconds);
    println!(
        "{}",
        serde_json::json!({
            "scenario": "export-1m",
            "clients": written.clients,
            "columns": COLUMNS.len(),
            "csv_rows_per_s": per_s(&csv),
            "csv_seconds": round(csv.seconds),
            "csv_mb": round(csv.bytes as f64 / 1e6),
            "copy_to_rows_per_s": round(copy_to_rows_per_s),
            "ratio": round(per_s(&csv) / copy_to_rows_per_s),
            "goal_ratio": 0.5,
            "xlsx_rows": [xlsx_city.rows, xlsx_all.rows],
            "xlsx_rows_per_s": [per_s(&xlsx_city), per_s(&xlsx_all)],
            "xlsx_peak_rss_mb": [round(xlsx_city.peak_rss_growth_mb), round(xlsx_all.peak_rss_growth_mb)],
            "xlsx_again_peak_rss_mb": round(xlsx_again.peak_rss_growth_mb),
            "xlsx_writer_peak_rss_mb": [round(writer[0]), round(writer[1])],
            "xlsx_mb": [round(xlsx_city.bytes as f64 / 1e6), round(xlsx_all.bytes as f64 / 1e6)],
            "csv_peak_rss_mb": round(csv.peak_rss_growth_mb),
            "pdf_rows": pdf.rows,
            "pdf_rows_per_s": per_s(&pdf),
            "pdf_mb": round(pdf.bytes as f64 / 1e6),
        })
    );
    server.stop().await
}
