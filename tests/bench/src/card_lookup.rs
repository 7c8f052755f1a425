//! `card-lookup`: two million cards; the POS path — a card by number and by barcode — through gRPC
//! at 32 concurrent callers, against the same lookup as one prepared SQL statement. Goal: at least
//! 10,000 lookups/s with p99 <= 10 ms on this 2-core machine.
use crate::harness::{env_number, fresh_database, measure, report, round, server_url};
use anyhow::Context;
use loyalty_api::card::v1::card_service_client::CardServiceClient;
use loyalty_api::card::v1::{LookupCardRequest, lookup_card_request::Key};
use loyalty_card::domain::number::NumberingRule;
use loyalty_card::store::bulk::{LoadedCard, copy_cards};
use loyalty_platform::Secret;
use loyalty_platform::auth::{BearerToken, Grant};
use loyalty_platform::config::PlatformSettings;
use loyalty_platform::server::Services;
use loyalty_testkit::demo::Rng;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

const TENANT: &str = "bench";
const CONCURRENCY: usize = 32;
const LOADERS: u64 = 2;

fn number(i: u64) -> anyhow::Result<String> {
    NumberingRule::default().number(i + 1).context("numbering rule exhausted")
}

async fn load(settings: &PlatformSettings, n: u64) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let chunk = 100_000u64;
    let loaders = (0..LOADERS).map(|loader| {
        let (settings, done) = (settings.clone(), done.clone());
        tokio::spawn(async move {
            let db = loyalty_platform::db::connect(&settings.database, "card").await?;
            let mut start = loader * chunk;
            while start < n {
                let end = (start + chunk).min(n);
                let at = time::macros::datetime!(2026-11-01 0:00 UTC);
                let rows = (start..end)
                    .map(|i| {
                        Ok(LoadedCard {
                            tenant: loyalty_platform::TenantId::trusted(TENANT),
                            id: loyalty_platform::CardId::from_uuid(Uuid::from_u64_pair(0x0190_0000_0000_7000, i)),
                            number: number(i)?,
                            client_id: loyalty_platform::ClientId::from_uuid(Uuid::from_u64_pair(
                                0x0190_0000_0000_7001,
                                i / 2,
                            )),
                            created_at: at,
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                copy_cards(&db, rows).await?;
                let total = done.fetch_add(end - start, std::sync::atomic::Ordering::SeqCst) + (end - start);
                eprintln!("loading cards: {total}/{n} ({:.0} rows/s)", total as f64 / started.elapsed().as_secs_f64());
                start += chunk * LOADERS;
            }
            Ok::<_, anyhow::Error>(())
        })
    });
    for l in futures::future::join_all(loaders).await {
        l.context("loader")??;
    }
    Ok(started.elapsed())
}

pub async fn run() -> anyhow::Result<()> {
    let n = env_number("BENCH_CARDS", 2_000_000)?;
    let seconds = env_number("BENCH_SECONDS", 10)?;
    let admin = tokio::task::spawn_blocking(server_url).await??;
    let mut settings = PlatformSettings::default();
    settings.database.url = Secret::new(fresh_database(&admin, "bench_card_lookup").await?);
    settings.database.max_size = 32;
    settings.server.listen = "127.0.0.1:0".into();
    settings.server.metrics_listen = String::new();
    settings.server.max_concurrent_requests = 1024;
    let signer = crate::harness::development_auth(&mut settings);
    loyalty_platform::db::migrate(&settings.database, "card", Some(loyalty_card::migrations())).await?;
    let took = load(&settings, n).await?;
    println!(
        "{}",
        serde_json::json!({"scenario": "card-lookup/load", "n": n, "seconds": round(took.as_secs_f64()),
            "rows_per_s": round(n as f64 / took.as_secs_f64())})
    );
    loyalty_platform::db::connect(&settings.database, "card").await?.batch_execute("VACUUM ANALYZE cards").await?;

    let bound = loyalty_platform::server::bind(&settings.server).await?;
    settings.server.listen = bound.addr.to_string();
    let mut services = Services::new();
    loyalty_card::register(&loyalty_card::Settings::with_platform(&settings), &mut services).await?;
    let server = loyalty_platform::server::serve(bound, &settings.server, &settings.auth, services).await?;
    let token = signer.mint(&Grant::new(TENANT, &["cards.read"]))?;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.addr))?.connect().await?;
    let api = CardServiceClient::with_interceptor(channel, BearerToken::new(&token)?);
    let pool = loyalty_platform::db::pool(&settings.database, "card")?;
    let mut rng = Rng::new(11);
    let keys: Arc<Vec<String>> = Arc::new((0..10_000).map(|_| number(rng.below(n))).collect::<anyhow::Result<_>>()?);

    for (kind, by_number) in [("by-number", true), ("by-barcode", false)] {
        eprintln!("measuring card lookups {kind} through gRPC for {seconds} s at {CONCURRENCY} callers");
        let (api, inputs) = (api.clone(), keys.clone());
        let service = measure(CONCURRENCY, Duration::from_secs(seconds), move |w, i| {
            let mut api = api.clone();
            let value = inputs[((w as u64 * 7919 + i) % inputs.len() as u64) as usize].clone();
            async move {
                let key = if by_number { Key::Number(value) } else { Key::Barcode(value) };
                let found =
                    api.lookup_card(LookupCardRequest { key: Some(key), ..Default::default() }).await?.into_inner();
                anyhow::ensure!(found.card.is_some(), "a lookup found nothing");
                Ok(())
            }
        })
        .await?;
        eprintln!("measuring card lookups {kind} as SQL");
        let (pool, inputs) = (pool.clone(), keys.clone());
        let sql = if by_number {
            "SELECT id, client_id, status FROM cards WHERE tenant_id = $1 AND number = $2"
        } else {
            "SELECT id, client_id, status FROM cards WHERE tenant_id = $1 AND barcode = $2"
        };
        let baseline = measure(CONCURRENCY, Duration::from_secs(seconds), move |w, i| {
            let pool = pool.clone();
            let value = inputs[((w as u64 * 7919 + i) % inputs.len() as u64) as usize].clone();
            async move {
                let conn = pool.get().await?;
                let statement = conn.prepare_cached(sql).await?;
                anyhow::ensure!(
                    !conn.query(&statement, &[&TENANT, &value]).await?.is_empty(),
                    "the SQL lookup found nothing"
                );
                Ok(())
            }
        })
        .await?;
        report(&format!("card-lookup/{kind}"), &service, &baseline, 10.0, None);
        eprintln!("goal: >= 10000 lookups/s: {}", if service.ops_per_s() >= 10_000.0 { "met" } else { "NOT met" });
    }
    server.stop().await
}
