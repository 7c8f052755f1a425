//! What every scenario shares: a database, timing loops, percentiles and the JSON lines.
use anyhow::Context;
use loyalty_localpg::{Cluster, ClusterOptions};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn env_number(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(v) => v.replace('_', "").parse().with_context(|| format!("{name}={v}: expected a whole number")),
        Err(_) => Ok(default),
    }
}

/// An admin URL of a server: `DATABASE_URL`, or the private bench cluster.
pub fn server_url() -> anyhow::Result<String> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        return Ok(url);
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-pg");
    let options = ClusterOptions { port: 54339, fast_unsafe: false, max_connections: 200 };
    eprintln!("starting the private bench Postgres in {}", dir.display());
    Ok(Cluster::ensure_started(&dir, &options)?.url("postgres"))
}

/// A fresh database named `name` on the server; its URL.
pub async fn fresh_database(admin_url: &str, name: &str) -> anyhow::Result<String> {
    let (client, connection) = tokio_postgres::connect(admin_url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
    client.batch_execute(&format!("CREATE DATABASE {name}")).await?;
    let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin_url);
    Ok(format!("{base}/{name}"))
}

/// Latencies of one measurement.
pub struct Timings {
    pub latencies: Vec<Duration>,
    pub elapsed: Duration,
}

impl Timings {
    pub fn ops_per_s(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[i].as_secs_f64() * 1000.0
    }
}

/// Runs `op(worker, i)` from `concurrency` workers for `duration`; every call must succeed.
pub async fn measure<F, Fut>(concurrency: usize, duration: Duration, op: F) -> anyhow::Result<Timings>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let started = Instant::now();
    let workers = (0..concurrency).map(|w| {
        let op = op.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = 0u64;
            while started.elapsed() < duration {
                let t = Instant::now();
                op(w, i).await?;
                latencies.push(t.elapsed());
                i += 1;
            }
            Ok::<_, anyhow::Error>(latencies)
        })
    });
    let mut latencies = Vec::new();
    for w in futures::future::join_all(workers).await {
        latencies.extend(w.context("worker")??);
    }
    Ok(Timings { latencies, elapsed: started.elapsed() })
}

/// One JSON line comparing the service with the hand-written SQL baseline. `goal_met` checks the
/// p99 goal and, when `max_ratio` is given, the p99 ratio to the SQL.
pub fn report(scenario: &str, service: &Timings, baseline: &Timings, goal_p99_ms: f64, max_ratio: Option<f64>) {
    let line = serde_json::json!({
        "scenario": scenario,
        "n": service.latencies.len(),
        "ops_per_s": round(service.ops_per_s()),
        "p50_ms": round(service.percentile_ms(0.50)),
        "p99_ms": round(service.percentile_ms(0.99)),
        "baseline_n": baseline.latencies.len(),
        "baseline_ops_per_s": round(baseline.ops_per_s()),
        "baseline_p50_ms": round(baseline.percentile_ms(0.50)),
        "baseline_p99_ms": round(baseline.percentile_ms(0.99)),
        "ratio_p50": round(service.percentile_ms(0.50) / baseline.percentile_ms(0.50)),
        "ratio_p99": round(service.percentile_ms(0.99) / baseline.percentile_ms(0.99)),
        "goal_p99_ms": goal_p99_ms,
        "goal_max_ratio_p99": max_ratio,
        "goal_met": service.percentile_ms(0.99) <= goal_p99_ms
            && max_ratio.is_none_or(|r| service.percentile_ms(0.99) <= r * baseline.percentile_ms(0.99)),
    });
    println!("{line}");
}

pub fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Development auth for a benchmark's services: the development key signs the callers' tokens and
/// each service's own identity.
pub fn development_auth(
    settings: &mut loyalty_platform::config::PlatformSettings,
) -> loyalty_platform::keys::TokenSigner {
    let signer = loyalty_platform::keys::TokenSigner::development();
    settings.auth.development = true;
    settings.identity.signing_key = signer.private_key_base64();
    settings.identity.signing_kid = loyalty_platform::keys::DEVELOPMENT_KID.to_string();
    signer
}
