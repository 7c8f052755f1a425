//! `client-search`: a million clients; exact lookups (phone in any punctuation, email, id) and
//! partial-name searches through gRPC at 8 concurrent callers, each against the hand-written SQL
//! query a DBA would run for the same answer. Goals: exact p99 <= 5 ms, partial p99 <= 50 ms, each
//! within 2x of the SQL.
use crate::harness::{env_number, fresh_database, measure, report, round, server_url};
use anyhow::Context;
use loyalty_api::client::v1::ListClientsRequest;
use loyalty_api::client::v1::client_service_client::ClientServiceClient;
use loyalty_api::common::v1::PageRequest;
use loyalty_client::domain::Profile;
use loyalty_client::domain::profile::Rules;
use loyalty_client::domain::text::fold;
use loyalty_client::store::bulk::{NewClient, copy_clients};
use loyalty_platform::Secret;
use loyalty_platform::auth::{BearerToken, Grant};
use loyalty_platform::config::PlatformSettings;
use loyalty_platform::server::Services;
use loyalty_testkit::demo::{self, DemoClient, DemoStore, Rng};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

const TENANT: &str = "bench";
const SEED: u64 = 42;
const CONCURRENCY: usize = 8;
const PAGE: i32 = 20;
const LOADERS: u64 = 2;
/// The columns of a search-result table, as both the service and the hand-written SQL read them.
const SHOWN: [&str; 4] = ["first_name", "last_name", "email", "phone"];

fn client_id(index: u64) -> Uuid {
    Uuid::from_u64_pair(0x0190_0000_0000_7000, index)
}

fn registered_at(index: u64) -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-01 0:00 UTC) - time::Duration::seconds(index as i64 * 30)
}

fn new_client(c: &DemoClient) -> anyhow::Result<NewClient> {
    let rules = Rules { phone_region: "LT", latest_date: time::macros::date!(2026 - 11 - 24) };
    let wire = loyalty_api::client::v1::Client {
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        middle_name: c.middle_name.clone(),
        email: c.email.clone(),
        phone: c.phone.clone(),
        city: c.city.clone(),
        registration_store_id: c.store_id.clone(),
        ..Default::default()
    };
    let profile = Profile::parse(&wire, "", &rules)
        .map_err(|v| anyhow::anyhow!("demo client {} is invalid: {:?}", c.index, v.iter().collect::<Vec<_>>()))?;
    Ok(NewClient::new(
        &loyalty_platform::TenantId::trusted(TENANT),
        client_id(c.index),
        profile,
        registered_at(c.index),
    ))
}

async fn load(settings: &PlatformSettings, n: u64, stores: Arc<Vec<DemoStore>>) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let chunk = 50_000u64;
    let loaders = (0..LOADERS).map(|loader| {
        let (settings, stores, done) = (settings.clone(), stores.clone(), done.clone());
        tokio::spawn(async move {
            let db = loyalty_platform::db::connect(&settings.database, "client").await?;
            let mut start = loader * chunk;
            while start < n {
                let end = (start + chunk).min(n);
                let rows: Vec<NewClient> =
                    (start..end).map(|i| new_client(&demo::client(SEED, i, &stores))).collect::<anyhow::Result<_>>()?;
                copy_clients(&db, rows).await?;
                let total = done.fetch_add(end - start, std::sync::atomic::Ordering::SeqCst) + (end - start);
                eprintln!(
                    "loading clients: {total}/{n} ({:.0} rows/s)",
                    total as f64 / started.elapsed().as_secs_f64()
                );
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

/// What a caller types, and what the DBA's query is given for the same question.
struct Lookup {
    typed: String,
    sql_value: String,
}

fn lookups(kind: &str, n: u64, stores: &[DemoStore]) -> anyhow::Result<Vec<Lookup>> {
    let mut rng = Rng::new(7);
    let mut out = Vec::new();
    while out.len() < 5_000 {
        let i = rng.below(n);
        let c = demo::client(SEED, i, stores);
        let parsed = new_client(&c)?.profile;
        let lookup = match kind {
            "exact-phone" => Lookup {
                typed: c.phone.clone(),
                sql_value: parsed.phone.map(|p| p.as_str().to_string()).unwrap_or_default(),
            },
            "exact-email" if !c.email.is_empty() => {
                Lookup { typed: c.email.clone(), sql_value: c.email.to_lowercase() }
            }
            "exact-email" => continue,
            "exact-id" => Lookup { typed: client_id(i).to_string(), sql_value: client_id(i).to_string() },
            _ => {
                let first: String = fold(&c.first_name).chars().take(4).collect();
                let last: String = fold(&c.last_name).chars().take(5).collect();
                Lookup { typed: format!("{first} {last}"), sql_value: format!("{first}|{last}") }
            }
        };
        out.push(lookup);
    }
    Ok(out)
}

/// The hand-written query for each kind: the page and the total in one statement.
fn baseline_sql(kind: &str) -> &'static str {
    match kind {
        "exact-phone" => {
            "SELECT id, first_name, last_name, email, phone, count(*) OVER () FROM clients
             WHERE tenant_id = $1 AND phone = $2 AND merged_into IS NULL AND NOT erased
             ORDER BY registered_at DESC, id DESC LIMIT 21"
        }
        "exact-email" => {
            "SELECT id, first_name, last_name, email, phone, count(*) OVER () FROM clients
             WHERE tenant_id = $1 AND email_key = $2 AND merged_into IS NULL AND NOT erased
             ORDER BY registered_at DESC, id DESC LIMIT 21"
        }
        "exact-id" => {
            "SELECT id, first_name, last_name, email, phone, count(*) OVER () FROM clients
             WHERE tenant_id = $1 AND id = $2::text::uuid AND merged_into IS NULL AND NOT erased
             ORDER BY registered_at DESC, id DESC LIMIT 21"
        }
        // Gathered through the trigram index first, as a DBA writes it once they have seen the
        // date-ordered plan walk the whole table.
        _ => {
            "WITH m AS MATERIALIZED (
                 SELECT id, first_name, last_name, email, phone, registered_at FROM clients
                 WHERE tenant_id = $1 AND name_search LIKE '%' || split_part($2, '|', 1) || '%'
                   AND name_search LIKE '%' || split_part($2, '|', 2) || '%'
                   AND merged_into IS NULL AND NOT erased)
             SELECT id, first_name, last_name, email, phone, count(*) OVER () FROM m
             ORDER BY registered_at DESC, id DESC LIMIT 21"
        }
    }
}

/// The input caller `w` uses on its `i`-th call: callers spread over the inputs, not in step.
fn pick(inputs: &[Lookup], w: usize, i: u64) -> &Lookup {
    &inputs[((w as u64 * 7919 + i) % inputs.len() as u64) as usize]
}

/// The hand-written query as a DBA would run it: exact lookups prepared once; fragment searches
/// planned for their values (a generic plan of a LIKE may scan the whole table).
async fn sql_lookup(pool: &deadpool_postgres::Pool, kind: &str, value: &str) -> anyhow::Result<()> {
    let conn = pool.get().await?;
    let sql = baseline_sql(kind);
    let rows = if kind == "partial-name" {
        conn.query(sql, &[&TENANT, &value]).await?
    } else {
        let statement = conn.prepare_cached(sql).await?;
        conn.query(&statement, &[&TENANT, &value]).await?
    };
    anyhow::ensure!(!rows.is_empty(), "the SQL lookup found nothing");
    Ok(())
}

pub async fn run() -> anyhow::Result<()> {
    let n = env_number("BENCH_CLIENTS", 1_000_000)?;
    let seconds = env_number("BENCH_SECONDS", 10)?;
    let admin = tokio::task::spawn_blocking(server_url).await??;
    let mut settings = PlatformSettings::default();
    settings.database.url = Secret::new(fresh_database(&admin, "bench_client_search").await?);
    settings.database.max_size = 16;
    settings.server.listen = "127.0.0.1:0".into();
    settings.server.metrics_listen = String::new();
    let signer = crate::harness::development_auth(&mut settings);
    settings.telemetry.log_filter = "warn".into();
    loyalty_platform::db::migrate(&settings.database, "client", Some(loyalty_client::migrations())).await?;

    let stores = Arc::new(demo::stores(25));
    let took = load(&settings, n, stores.clone()).await?;
    let load_line = serde_json::json!({
        "scenario": "client-search/load", "n": n, "seconds": round(took.as_secs_f64()),
        "rows_per_s": round(n as f64 / took.as_secs_f64()), "goal_seconds": 60, "goal_met": took.as_secs() < 60,
    });
    println!("{load_line}");
    eprintln!("analyzing");
    loyalty_platform::db::connect(&settings.database, "client").await?.batch_execute("VACUUM ANALYZE clients").await?;

    // The suite as deployed together: quick search asks the card service about card numbers.
    let bound = loyalty_platform::server::bind(&settings.server).await?;
    settings.server.listen = bound.addr.to_string();
    let mut services = Services::new();
    loyalty_client::register(&loyalty_client::Settings::with_platform(&settings), &mut services).await?;
    loyalty_card::register(&loyalty_card::Settings::with_platform(&settings), &mut services).await?;
    let server = loyalty_platform::server::serve(bound, &settings.server, &settings.auth, services).await?;
    let token = signer.mint(&Grant::new(TENANT, &["clients.read"]))?;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.addr))?.connect().await?;
    let api = ClientServiceClient::with_interceptor(channel.clone(), BearerToken::new(&token)?);
    let pool = loyalty_platform::db::pool(&settings.database, "client")?;

    // The floor under every ratio below: a gRPC call that reads nothing (the health check, same
    // server, same connection, same callers). A lookup costs at least this plus its SQL.
    eprintln!("measuring the gRPC floor (health checks) for {seconds} s at {CONCURRENCY} callers");
    let health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let floor_health = health.clone();
    let floor = measure(CONCURRENCY, Duration::from_secs(seconds), move |_, _| {
        let mut health = floor_health.clone();
        async move {
            health.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await?;
            Ok(())
        }
    })
    .await?;
    let floor_line = serde_json::json!({
        "scenario": "client-search/rpc-floor", "n": floor.latencies.len(), "ops_per_s": round(floor.ops_per_s()),
        "p50_ms": round(floor.percentile_ms(0.5)), "p99_ms": round(floor.percentile_ms(0.99)),
        // Callers, services and their Postgres clients share these threads (TOKIO_WORKER_THREADS).
        "worker_threads": tokio::runtime::Handle::current().metrics().num_workers(),
    });
    println!("{floor_line}");

    for (kind, goal) in [("exact-phone", 5.0), ("exact-email", 5.0), ("exact-id", 5.0), ("partial-name", 50.0)] {
        let inputs = Arc::new(lookups(kind, n, &stores)?);
        eprintln!("measuring {kind} through gRPC for {seconds} s at {CONCURRENCY} callers");
        let (api, service_inputs) = (api.clone(), inputs.clone());
        let service = measure(CONCURRENCY, Duration::from_secs(seconds), move |w, i| {
            let mut api = api.clone();
            let query = pick(&service_inputs, w, i).typed.clone();
            async move {
                let page = Some(PageRequest { page_size: PAGE, page_token: String::new() });
                let read_mask = Some(prost_types::FieldMask { paths: SHOWN.map(String::from).to_vec() });
                let request = ListClientsRequest { query, page, read_mask, ..Default::default() };
                let r = api.list_clients(request).await?.into_inner();
                anyhow::ensure!(!r.clients.is_empty(), "a lookup found nothing");
                Ok(())
            }
        })
        .await?;
        eprintln!("measuring {kind} as hand-written SQL");
        let (sql_pool, sql_inputs) = (pool.clone(), inputs.clone());
        let baseline = measure(CONCURRENCY, Duration::from_secs(seconds), move |w, i| {
            let pool = sql_pool.clone();
            let value = pick(&sql_inputs, w, i).sql_value.clone();
            async move { sql_lookup(&pool, kind, &value).await }
        })
        .await?;
        report(&format!("client-search/{kind}"), &service, &baseline, goal, Some(2.0));
        if kind == "exact-id" {
            // The least any gRPC lookup could cost on this host: an empty call, then the SQL.
            eprintln!("measuring a health check followed by the {kind} SQL");
            let (health, pool, inputs) = (health.clone(), pool.clone(), inputs.clone());
            let least = measure(CONCURRENCY, Duration::from_secs(seconds), move |w, i| {
                let (mut health, pool) = (health.clone(), pool.clone());
                let value = pick(&inputs, w, i).sql_value.clone();
                async move {
                    health.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await?;
                    sql_lookup(&pool, kind, &value).await
                }
            })
            .await?;
            report(&format!("client-search/{kind}/floor-then-sql"), &least, &baseline, goal, Some(2.0));
        }
    }
    server.stop().await
}
