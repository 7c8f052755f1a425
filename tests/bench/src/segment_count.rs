//! `segment-count`: 1,000,000 clients, about 10,000,000 purchase lines over two years, 50 stores,
//! 5,000 products. The seeds' questions counted through gRPC (p50, p99), and in the same run by
//! hand-written SQL over raw Postgres tables and by DuckDB over the same rows; the counts must
//! agree. Also the load of the read model from its facts table (a new replica, a rebuild) with
//! rows/s and memory, and the lag from a committed purchase to the segment's "entered" event at
//! 500 purchases/s. Goals: every count p99 <= 20 ms; geometric mean <= 0.2x DuckDB's time; no
//! median slower than DuckDB's; lag p99 <= 1 s.
use crate::harness::{Timings, development_auth, env_number, fresh_database, round, server_url};
use crate::segment_data::{self as data, Files, RAW_TABLES, TENANT};
use anyhow::Context;
use loyalty_api::filter::v1::{Audience, audience::Source};
use loyalty_api::segment::v1 as pb;
use loyalty_api::segment::v1::segment_service_client::SegmentServiceClient;
use loyalty_platform::Secret;
use loyalty_platform::auth::{ALL_RIGHTS, BearerToken, Grant};
use loyalty_platform::config::PlatformSettings;
use loyalty_platform::server::Services;
use std::time::{Duration, Instant};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub type Segments = SegmentServiceClient<InterceptedService<Channel, BearerToken>>;

/// A question: its name, its filter in the text form, its SQL (the same for Postgres and DuckDB).
pub struct Question {
    pub name: &'static str,
    pub filter: String,
    pub sql: String,
}

pub fn questions(today: i64) -> Vec<Question> {
    let t = data::date(today);
    let years_ago = |n: i32| t.replace_year(t.year() - n).unwrap_or(t);
    let birthdays: Vec<String> = (0..=7)
        .map(|d| {
            let day = data::date(today + d);
            (u8::from(day.month()) as u32 * 100 + day.day() as u32).to_string()
        })
        .collect();
    let per_client = |filter: &str, having: &str| {
        format!("SELECT count(*) FROM (SELECT client FROM raw.purchases {filter} GROUP BY client HAVING {having}) s")
    };
    let q = |name, filter: &str, sql: String| Question { name, filter: filter.to_string(), sql };
    vec![
        q(
            "bought-last-30-days",
            "purchases.count(last 30 days) >= 1",
            format!("SELECT count(DISTINCT client) FROM raw.purchases WHERE day >= {}", today - 29),
        ),
        q("sleeping-90-days", "purchases.days_since_last >= 90", per_client("", &format!("max(day) <= {}", today - 90))),
        q(
            "vip-last-30-days",
            "purchases.sum(last 30 days) >= 300.00 and purchases.count(last 30 days) >= 2",
            per_client(&format!("WHERE day >= {}", today - 29), "sum(amount) >= 30000 AND count(*) >= 2"),
        ),
        q(
            "birthday-within-7-days",
            "client.birth_date anniversary within 7 days",
            format!(
                "SELECT count(*) FROM raw.clients WHERE extract(month FROM birth) * 100 + extract(day FROM birth) IN ({})",
                birthdays.join(", ")
            ),
        ),
        q(
            "women-25-35-vilnius-email",
            r#"client.gender = "female" and client.age between 25 and 35 and client.city = "Vilnius" and consent.email = "subscribed""#,
            format!(
                "SELECT count(*) FROM raw.clients WHERE gender = 'female' AND city = 'Vilnius' AND email = 'subscribed'
                 AND birth > DATE '{}' AND birth <= DATE '{}'",
                years_ago(36),
                years_ago(25)
            ),
        ),
        q(
            "product-twice",
            r#"purchase_lines.sku any of ("SKU-0042") where (purchase_lines.count >= 2)"#,
            "SELECT count(*) FROM (SELECT client FROM raw.lines WHERE sku = 'SKU-0042' GROUP BY client HAVING count(*) >= 2) s"
                .into(),
        ),
        q("spend-between", "purchases.sum between 100.00 and 500.00", per_client("", "sum(amount) BETWEEN 10000 AND 50000")),
        q(
            "tags-a-or-b-not-c",
            r#"tags any of ("student", "pensioner") and not tags any of ("staff")"#,
            "SELECT count(DISTINCT client) FROM raw.tags WHERE tag IN ('student', 'pensioner')
             AND client NOT IN (SELECT client FROM raw.tags WHERE tag = 'staff')"
                .into(),
        ),
        q(
            "rfm-champions",
            "purchases.days_since_last <= 30 and purchases.count >= 6 and purchases.sum >= 600.00",
            per_client("", &format!("max(day) >= {} AND count(*) >= 6 AND sum(amount) >= 60000", today - 30)),
        ),
        q("second-purchase", "purchases.count >= 2", per_client("", "count(*) >= 2")),
        q("average-check", "purchases.average_check >= 150.00", per_client("", "avg(amount) >= 15000")),
        q(
            "registered-s01-bought-elsewhere",
            r#"client.registration_store = "S01" and purchase_lines.store none of ("S01")"#,
            "SELECT count(*) FROM raw.clients c WHERE reg_store = 'S01'
             AND EXISTS (SELECT 1 FROM raw.purchases p WHERE p.client = c.id AND p.store <> 'S01')"
                .into(),
        ),
    ]
}

/// The questions `BENCH_QUESTIONS` names (comma-separated), or all of them.
pub fn asked(all: Vec<Question>) -> Vec<Question> {
    let only = std::env::var("BENCH_QUESTIONS").unwrap_or_default();
    all.into_iter().filter(|q| only.is_empty() || only.split(',').any(|n| n.trim() == q.name)).collect()
}

pub fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().split(' ').next()?.parse().ok());
    kb.unwrap_or(0.0) / 1024.0
}

/// Minor page faults of this process so far (field 10 of `/proc/self/stat`): memory touched for
/// the first time, which a question pays for in the kernel.
pub fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    after_name.split_whitespace().nth(7).and_then(|f| f.parse().ok()).unwrap_or(0)
}

pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    if xs.is_empty() { f64::NAN } else { xs[xs.len() / 2] }
}

/// The suite serving the `segment-count` data: the segment service loaded from its facts, the raw
/// tables in Postgres and their CSV files for DuckDB.
pub struct Started {
    pub today: i64,
    pub written: data::Written,
    pub files: Files,
    pub db: tokio_postgres::Client,
    pub api: Segments,
    pub authed: InterceptedService<Channel, BearerToken>,
    pub server: loyalty_platform::server::RunningServer,
    /// Resident memory before the segment service loaded, and seconds it took.
    pub rss_before: f64,
    pub load_seconds: f64,
}

/// Writes the data, starts the services and waits until the segment service has loaded it.
pub async fn start(database: &str) -> anyhow::Result<Started> {
    start_suite(database, false).await
}

/// [`start`], with the import-export service beside the others when `exports` is set.
pub async fn start_suite(database: &str, exports: bool) -> anyhow::Result<Started> {
    let n = env_number("BENCH_CLIENTS", 1_000_000)?;
    let today = loyalty_segment::domain::evaluate::day_number(time::OffsetDateTime::now_utc().date());
    let admin = tokio::task::spawn_blocking(server_url).await??;
    let mut settings = PlatformSettings::default();
    settings.database.url = Secret::new(fresh_database(&admin, database).await?);
    settings.database.max_size = 16;
    settings.server.listen = "127.0.0.1:0".into();
    settings.server.metrics_listen = String::new();
    settings.server.max_concurrent_requests = 1024;
    let signer = development_auth(&mut settings);
    loyalty_platform::db::migrate(&settings.database, "segment", Some(loyalty_segment::migrations())).await?;
    let db = loyalty_platform::db::connect(&settings.database, "segment").await?;
    let started = Instant::now();
    let written = data::load_facts(&db, n, today).await?;
    // A table that grew by COPY has no statistics until autovacuum comes by; a live one has them.
    db.batch_execute("ANALYZE facts").await?;
    eprintln!("facts written in {:.0} s", started.elapsed().as_secs_f64());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-segment");
    let files = tokio::task::spawn_blocking(move || data::write_files(&dir, n, today)).await??;
    data::load_raw(&db, &files).await?;

    let rss_before = rss_mb();
    let bound = loyalty_platform::server::bind(&settings.server).await?;
    settings.server.listen = bound.addr.to_string();
    let mut services = Services::new();
    loyalty_client::register(&loyalty_client::Settings::with_platform(&settings), &mut services).await?;
    loyalty_card::register(&loyalty_card::Settings::with_platform(&settings), &mut services).await?;
    loyalty_ledger::register(&loyalty_ledger::Settings::with_platform(&settings), &mut services).await?;
    let loading = Instant::now();
    loyalty_segment::register(&loyalty_segment::Settings::with_platform(&settings), &mut services).await?;
    if exports {
        let mut jobs = loyalty_import_export::Settings::with_platform(&settings);
        jobs.importexport.poll_every_ms = 20;
        jobs.importexport.pdf_max_rows = env_number("BENCH_PDF_ROWS", 20_000)? as i64;
        loyalty_import_export::register(&jobs, &mut services).await?;
    }
    let server = loyalty_platform::server::serve(bound, &settings.server, &settings.auth, services).await?;
    let token = signer.mint(&Grant::new(TENANT, &[ALL_RIGHTS]))?;
    let channel = Channel::from_shared(format!("http://{}", server.addr))?.connect().await?;
    let authed = InterceptedService::new(channel, BearerToken::new(&token)?);
    let mut api = SegmentServiceClient::new(authed.clone());
    let everyone = Some(Audience { source: Some(Source::AllClients(Default::default())) });
    loop {
        match api.count_clients(pb::CountClientsRequest { audience: everyone.clone() }).await {
            Ok(c) if c.get_ref().count as u64 >= n => break,
            Ok(_) => {}
            Err(s) if s.code() == tonic::Code::Unavailable => eprintln!("{}", s.message()),
            Err(s) => return Err(s).context("counting everyone while the read model loads"),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let load_seconds = loading.elapsed().as_secs_f64();
    Ok(Started { today, written, files, db, api, authed, server, rss_before, load_seconds })
}

pub async fn run() -> anyhow::Result<()> {
    let repeats = env_number("BENCH_REPEATS", 50)?;
    let Started { today, written, files, db, mut api, authed, server, rss_before, load_seconds: took, .. } =
        start("bench_segment").await?;
    println!(
        "{}",
        serde_json::json!({"scenario": "segment-count/load", "clients": written.clients, "purchases": written.purchases,
            "lines": written.lines, "facts": written.facts, "seconds": round(took),
            "facts_per_s": round(written.facts as f64 / took), "lines_per_s": round(written.lines as f64 / took),
            "model_mb": round(rss_mb() - rss_before)})
    );

    let questions = asked(questions(today));
    let duck = tokio::task::spawn_blocking({
        let sql: Vec<String> = questions.iter().map(|q| q.sql.clone()).collect();
        move || duckdb(&files, &sql)
    })
    .await??;
    let mut ratios = Vec::new();
    let mut all_met = true;
    for (i, q) in questions.iter().enumerate() {
        let parsed = api.parse_filter(pb::ParseFilterRequest { filter_text: q.filter.clone() }).await?.into_inner();
        let audience = Some(Audience { source: parsed.filter.map(Source::Filter) });
        let mut latencies = Vec::new();
        let mut count = 0;
        let mut faults = 0;
        for r in 0..repeats + 3 {
            if r == 3 {
                faults = minor_faults();
            }
            let t = Instant::now();
            count = api.count_clients(pb::CountClientsRequest { audience: audience.clone() }).await?.into_inner().count;
            if r >= 3 {
                latencies.push(t.elapsed());
            }
        }
        let faults_per_ask = (minor_faults() - faults) as f64 / repeats.max(1) as f64;
        let service = Timings { latencies, elapsed: Duration::ZERO };
        let mut sql_ms = Vec::new();
        let mut sql_count = -1i64;
        for r in 0..4 {
            let t = Instant::now();
            sql_count = db.query_one(q.sql.as_str(), &[]).await.with_context(|| q.sql.clone())?.get(0);
            if r > 0 {
                sql_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        let (duck_count, duck_ms) = (duck[i].0, duck[i].1);
        let (p50, p99, sql, duck_ms) =
            (service.percentile_ms(0.5), service.percentile_ms(0.99), median(sql_ms), duck_ms);
        let met = p99 <= 20.0 && p50 <= duck_ms;
        all_met &= met;
        ratios.push(p50 / duck_ms);
        println!(
            "{}",
            serde_json::json!({"scenario": format!("segment-count/{}", q.name), "filter": q.filter, "count": count,
                "sql_count": sql_count, "duckdb_count": duck_count, "counts_agree": count == sql_count && count == duck_count,
                "n": repeats, "p50_ms": round(p50), "p99_ms": round(p99), "sql_ms": round(sql), "duckdb_ms": round(duck_ms),
                "ratio_to_duckdb": round(p50 / duck_ms), "page_faults_per_ask": round(faults_per_ask), "goal_met": met})
        );
    }
    let geomean = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp();
    println!(
        "{}",
        serde_json::json!({"scenario": "segment-count", "clients": written.clients, "lines": written.lines,
            "questions": questions.len(), "geomean_ratio_to_duckdb": round(geomean), "goal_geomean_ratio": 0.2,
            "goal_met": all_met && geomean <= 0.2})
    );
    crate::segment_lag::run(authed, &mut api).await?;
    server.stop().await
}

/// Each question's count and median time (ms) in DuckDB, over the same CSV files loaded into its
/// in-memory tables (the load is not timed).
pub fn duckdb(files: &Files, sql: &[String]) -> anyhow::Result<Vec<(i64, f64)>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = std::process::Command::new(root.join("ensure-duckdb")).output().context("running ensure-duckdb")?;
    anyhow::ensure!(found.status.success(), "ensure-duckdb: {}", String::from_utf8_lossy(&found.stderr));
    let binary = String::from_utf8(found.stdout)?.trim().to_string();
    let mut script = String::from(".mode csv\n.headers off\nCREATE SCHEMA raw;\n");
    for (table, columns) in RAW_TABLES {
        let typed: Vec<String> = columns
            .split(", ")
            .map(|c| {
                let (name, kind) = c.split_once(' ').unwrap_or((c, "text"));
                let kind = match kind {
                    "integer" => "INTEGER",
                    "bigint" => "BIGINT",
                    "date" => "DATE",
                    _ => "VARCHAR",
                };
                format!("'{name}': '{kind}'")
            })
            .collect();
        let path = files.dir.join(format!("{table}.csv"));
        script.push_str(&format!(
            "CREATE TABLE raw.{table} AS SELECT * FROM read_csv('{}', header = false, columns = {{{}}});\n",
            path.display(),
            typed.join(", ")
        ));
    }
    script.push_str(".timer on\n");
    const RUNS: usize = 6;
    for q in sql {
        for _ in 0..RUNS {
            script.push_str(&q.replace('\n', " "));
            script.push_str(";\n");
        }
    }
    eprintln!("asking DuckDB the same questions");
    let out = std::process::Command::new(&binary)
        .arg(":memory:")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().map(|mut s| s.write_all(script.as_bytes())).transpose()?;
            child.wait_with_output()
        })
        .context("running duckdb")?;
    anyhow::ensure!(out.status.success(), "duckdb failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let (mut runs, mut last) = (Vec::new(), String::new());
    for line in text.lines() {
        match line.strip_prefix("Run Time (s): real ") {
            Some(rest) => {
                let seconds: f64 = rest.split_whitespace().next().unwrap_or("nan").parse().unwrap_or(f64::NAN);
                if let Ok(count) = last.trim().parse::<i64>() {
                    runs.push((count, seconds * 1000.0));
                }
            }
            None => last = line.to_string(),
        }
    }
    anyhow::ensure!(
        runs.len() == sql.len() * RUNS,
        "duckdb answered {} of {} runs:\n{text}",
        runs.len(),
        sql.len() * RUNS
    );
    Ok(runs.chunks(RUNS).map(|c| (c[0].0, median(c[1..].iter().map(|r| r.1).collect()))).collect())
}
