//! `ledger-purchase` and `ledger-balance`: 100,000 accounts; purchases with three lines through
//! gRPC at 32 concurrent callers, and balance reads, against `pgbench` running single-row INSERT
//! transactions at the same concurrency on the same database. Goals: purchases >= 0.5 x pgbench TPS,
//! balance reads >= 10,000/s, p99 <= 25 ms.
use crate::harness::{Timings, env_number, fresh_database, measure, round, server_url};
use anyhow::Context;
use loyalty_api::common::v1::{Money, RequestContext};
use loyalty_api::ledger::v1 as pb;
use loyalty_api::ledger::v1::ledger_service_client::LedgerServiceClient;
use loyalty_platform::Secret;
use loyalty_platform::auth::{BearerToken, Grant};
use loyalty_platform::config::PlatformSettings;
use loyalty_platform::server::Services;
use std::process::Command;
use std::time::Duration;
use uuid::Uuid;

const TENANT: &str = "bench";
const CONCURRENCY: usize = 32;

fn account(i: u64) -> Uuid {
    Uuid::from_u64_pair(0x0190_0000_0000_7002, i)
}

/// The statements of one purchase as the service sends them (key, lock, lots, programme, level
/// basis, purchase, entry, lot, account, two events, answer), for pgbench: the database's own
/// ceiling for this work, with no gRPC and no Rust in the way.
const PURCHASE_STATEMENTS: &str = include_str!("ledger_purchase.pgbench.sql");

/// The least any purchase's transaction costs: it locks its account and commits, nothing else.
const LOCK_ONLY: &str = include_str!("ledger_lock_only.pgbench.sql");

/// pgbench's TPS for `script` at `CONCURRENCY` clients.
fn pgbench_tps(url: &str, seconds: u64, accounts: u64, (name, script_text): (&str, &str)) -> anyhow::Result<f64> {
    let bin = loyalty_localpg::find_binaries()?.join("pgbench");
    let script = std::env::temp_dir().join(format!("loyalty-bench-{name}.sql"));
    std::fs::write(&script, script_text)?;
    let out = Command::new(bin)
        .args(["-n", "-M", "prepared", "-c", &CONCURRENCY.to_string(), "-j", "2", "-T", &seconds.to_string()])
        .args(["-D", &format!("accounts={accounts}"), "-f"])
        .arg(&script)
        .arg(url)
        .output()
        .context("running pgbench")?;
    let text = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(out.status.success(), "pgbench failed: {}{}", text, String::from_utf8_lossy(&out.stderr));
    text.lines()
        .find_map(|l| l.strip_prefix("tps = ").and_then(|r| r.split_whitespace().next()).and_then(|v| v.parse().ok()))
        .context("no tps line in pgbench's output")
}

fn line(name: &str, t: &Timings, extra: serde_json::Value) {
    let mut v = serde_json::json!({
        "scenario": name, "n": t.latencies.len(), "ops_per_s": round(t.ops_per_s()),
        "p50_ms": round(t.percentile_ms(0.5)), "p99_ms": round(t.percentile_ms(0.99)),
    });
    if let (Some(obj), Some(more)) = (v.as_object_mut(), extra.as_object()) {
        obj.extend(more.clone());
    }
    println!("{v}");
}

pub async fn run() -> anyhow::Result<()> {
    let n = env_number("BENCH_ACCOUNTS", 100_000)?;
    let seconds = env_number("BENCH_SECONDS", 10)?;
    let admin = tokio::task::spawn_blocking(server_url).await??;
    let url = fresh_database(&admin, "bench_ledger").await?;
    let mut settings = PlatformSettings::default();
    settings.database.url = Secret::new(url.clone());
    settings.database.max_size = env_number("BENCH_POOL", 16)? as usize;
    settings.server.listen = "127.0.0.1:0".into();
    settings.server.metrics_listen = String::new();
    settings.server.max_concurrent_requests = 1024;
    let signer = crate::harness::development_auth(&mut settings);
    settings.telemetry.log_filter = "warn".into();
    loyalty_platform::db::migrate(&settings.database, "ledger", Some(loyalty_ledger::migrations())).await?;
    eprintln!("opening {n} accounts with 1,000 points each");
    let db = loyalty_platform::db::connect(&settings.database, "ledger").await?;
    // Bench set-up only: accounts and their first lot straight into the tables.
    db.execute(
        "INSERT INTO accounts (tenant_id, client_id, available, next_lot)
         SELECT $1, ('01900000-0000-7002-' || lpad(to_hex(i >> 48), 4, '0') || '-' || lpad(to_hex(i & 281474976710655), 12, '0'))::uuid, 1000, 1
         FROM generate_series(0::bigint, $2::bigint - 1) AS i",
        &[&TENANT, &(n as i64)],
    )
    .await?;
    db.execute(
        "INSERT INTO lots (tenant_id, client_id, lot_no, earned, remaining, activates_at, state, source)
         SELECT tenant_id, client_id, 1, 1000, 1000, now(), 'active', 'bench' FROM accounts",
        &[],
    )
    .await?;
    // The clients the ledger would know from the client feed.
    db.execute("INSERT INTO clients (tenant_id, client_id) SELECT tenant_id, client_id FROM accounts", &[]).await?;
    db.batch_execute("CREATE TABLE public.pgbench_rows (id bigserial PRIMARY KEY, v int)").await?;
    db.batch_execute("VACUUM ANALYZE accounts").await?;
    db.batch_execute("VACUUM ANALYZE lots").await?;

    let bound = loyalty_platform::server::bind(&settings.server).await?;
    settings.server.listen = bound.addr.to_string();
    let mut services = Services::new();
    loyalty_ledger::register(&loyalty_ledger::Settings::with_platform(&settings), &mut services).await?;
    let server = loyalty_platform::server::serve(bound, &settings.server, &settings.auth, services).await?;
    let token = signer.mint(&Grant::new(TENANT, &["purchases.write", "ledger.read"]))?;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.addr))?.connect().await?;
    let api = LedgerServiceClient::with_interceptor(channel, BearerToken::new(&token)?);

    eprintln!("measuring purchases through gRPC for {seconds} s at {CONCURRENCY} callers");
    let purchases_api = api.clone();
    let purchases = measure(CONCURRENCY, Duration::from_secs(seconds), move |w, i| {
        let mut api = purchases_api.clone();
        let client = account((w as u64 * 1_000_003 + i * 7_919) % n);
        async move {
            let money = |m: i64| Some(Money { minor_units: m, currency: "EUR".into() });
            let lines = (1..=3)
                .map(|l| pb::PurchaseLine {
                    line_no: l,
                    sku: format!("SKU-{l}"),
                    quantity_milli: 1000,
                    unit_price: money(1_000),
                    amount: money(1_000),
                    ..Default::default()
                })
                .collect();
            let req = pb::RecordPurchaseRequest {
                context: Some(RequestContext { idempotency_key: format!("bench-{w}-{i}"), ..Default::default() }),
                buyer: Some(pb::record_purchase_request::Buyer::ClientId(client.to_string())),
                amount: money(3_000),
                lines,
                points_to_spend: if i % 4 == 0 { 10 } else { 0 },
                ..Default::default()
            };
            api.record_purchase(req).await?;
            Ok(())
        }
    })
    .await?;
    eprintln!("measuring pgbench single-row INSERTs for {seconds} s at {CONCURRENCY} clients");
    let insert_url = url.clone();
    let tps = tokio::task::spawn_blocking(move || {
        pgbench_tps(&insert_url, seconds, n, ("insert", "INSERT INTO pgbench_rows (v) VALUES (1);\n"))
    })
    .await??;
    eprintln!("measuring pgbench replaying a purchase's statements for {seconds} s at {CONCURRENCY} clients");
    let statements_url = url.clone();
    let same_tps = tokio::task::spawn_blocking(move || {
        pgbench_tps(&statements_url, seconds, n, ("purchase", PURCHASE_STATEMENTS))
    })
    .await??;
    eprintln!("measuring pgbench locking an account and committing for {seconds} s at {CONCURRENCY} clients");
    let lock_url = url.clone();
    let lock_tps =
        tokio::task::spawn_blocking(move || pgbench_tps(&lock_url, seconds, n, ("lock-only", LOCK_ONLY))).await??;
    line(
        "ledger-purchase",
        &purchases,
        serde_json::json!({
            "baseline_pgbench_tps": round(tps), "ratio_to_pgbench": round(purchases.ops_per_s() / tps),
            "baseline_same_statements_tps": round(same_tps),
            "ratio_to_same_statements": round(purchases.ops_per_s() / same_tps),
            "baseline_lock_only_tps": round(lock_tps), "lock_only_ratio_to_pgbench": round(lock_tps / tps),
            "goal": ">= 0.5 x pgbench, p99 <= 25 ms",
            "goal_met": purchases.ops_per_s() >= 0.5 * tps && purchases.percentile_ms(0.99) <= 25.0,
        }),
    );

    eprintln!("measuring balance reads through gRPC for {seconds} s at {CONCURRENCY} callers");
    let reads = measure(CONCURRENCY, Duration::from_secs(seconds), move |w, i| {
        let mut api = api.clone();
        let client = account((w as u64 * 1_000_003 + i * 104_729) % n);
        async move {
            api.get_balance(pb::GetBalanceRequest { client_id: client.to_string(), ..Default::default() }).await?;
            Ok(())
        }
    })
    .await?;
    line(
        "ledger-balance",
        &reads,
        serde_json::json!({"goal": ">= 10000/s, p99 <= 25 ms", "goal_met": reads.ops_per_s() >= 10_000.0 && reads.percentile_ms(0.99) <= 25.0}),
    );
    server.stop().await
}
