//! The benchmark harness. `cargo run --release -p loyalty-bench -- client-search`
//!
//! Uses `DATABASE_URL` when set, else starts a private Postgres (as `loyalty dev up` does) under
//! `target/bench-pg`; starts the services it needs in-process; shows progress on stderr while it
//! loads data; prints one JSON line per measurement on stdout. Sizes and durations come from the
//! environment: `BENCH_CLIENTS` (1000000), `BENCH_CARDS` (2000000), `BENCH_ACCOUNTS` (100000),
//! `BENCH_SECONDS` per measurement (10), `BENCH_REPEATS` counts per segment question (50), `BENCH_QUESTIONS` the segment questions to ask (all),
//! `BENCH_RECIPIENTS` of the email campaign (100000), `BENCH_ROWS` of the import file (1000000), `BENCH_SMTP_CONNECTIONS` (32), `BENCH_LAG_SECONDS` of purchases at each membership-lag rate (10), `BENCH_POOL` connections of
//! the ledger's pool (16, the services' default). Tokio's `TOKIO_WORKER_THREADS` sets the threads that callers and services
//! share (one per core by default), as it does for the service binaries.
mod card_lookup;
mod client_search;
mod email_send;
mod export_1m;
mod harness;
mod import_1m;
mod ledger;
mod segment_analytics;
mod segment_count;
mod segment_data;
mod segment_engine;
mod segment_lag;
mod xlsx_writer;

use std::process::ExitCode;

const SCENARIOS: &[&str] = &[
    "client-search",
    "card-lookup",
    "ledger-purchase",
    "segment-count",
    "segment-engine",
    "segment-analytics",
    "email-send",
    "import-1m",
    "export-1m",
];

fn main() -> ExitCode {
    let wanted: Vec<String> = std::env::args().skip(1).collect();
    if let [arg, rows] = wanted.as_slice()
        && arg == xlsx_writer::ARG
    {
        // `export-1m`'s child: the XLSX writer alone.
        return match rows.parse().map_err(anyhow::Error::from).and_then(xlsx_writer::run) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if wanted.is_empty() || wanted.iter().any(|w| !SCENARIOS.contains(&w.as_str())) {
        eprintln!("usage: loyalty-bench <scenario>...   scenarios: {}", SCENARIOS.join(", "));
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        for scenario in &wanted {
            match scenario.as_str() {
                "client-search" => client_search::run().await?,
                "card-lookup" => card_lookup::run().await?,
                // Runs both ledger measurements (purchases, then balance reads).
                "ledger-purchase" => ledger::run().await?,
                "segment-count" => segment_count::run().await?,
                "segment-engine" => segment_engine::run()?,
                "segment-analytics" => segment_analytics::run().await?,
                "email-send" => email_send::run().await?,
                "import-1m" => import_1m::run().await?,
                "export-1m" => export_1m::run().await?,
                other => anyhow::bail!("unknown scenario {other}"),
            }
        }
        Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benchmark failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
