//! Migrations: applied once, idempotent, safe when replicas start together.
mod support;

use loyalty_platform::db;
use refinery::Migration;

/// How many platform migrations ship with the crate.
fn platform_migrations() -> i64 {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    std::fs::read_dir(dir)
        .expect("migrations dir")
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql")))
        .count() as i64
}

fn service_migrations() -> refinery::Runner {
    let v1 = Migration::unapplied(
        "V1__stores",
        "CREATE TABLE stores (tenant_id text, id text, PRIMARY KEY (tenant_id, id))",
    )
    .expect("valid migration");
    refinery::Runner::new(&[v1])
}

async fn applied(settings: &loyalty_platform::config::DatabaseSettings, table: &str) -> i64 {
    let client = db::connect(settings, support::SCHEMA).await.expect("connect");
    client.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await.expect("migration table exists").get(0)
}

#[tokio::test]
async fn running_migrations_twice_is_a_no_op() {
    let settings = support::database().await;
    db::migrate(&settings, support::SCHEMA, Some(service_migrations())).await.expect("first run");
    db::migrate(&settings, support::SCHEMA, Some(service_migrations())).await.expect("second run");
    assert_eq!(applied(&settings, "platform_migrations").await, platform_migrations());
    assert_eq!(applied(&settings, "service_migrations").await, 1);
    let client = db::connect(&settings, support::SCHEMA).await.expect("connect");
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name IN ('outbox', 'feed_cursors', 'stores')",
            &[&support::SCHEMA],
        )
        .await
        .expect("query")
        .get(0);
    assert_eq!(tables, 3, "platform and service tables live in the service's schema");
}

#[tokio::test]
async fn replicas_migrating_at_once_do_not_collide() {
    let settings = support::database().await;
    let runs = (0..6).map(|_| {
        let settings = settings.clone();
        tokio::spawn(async move { db::migrate(&settings, support::SCHEMA, Some(service_migrations())).await })
    });
    for run in futures::future::join_all(runs).await {
        run.expect("task").expect("every replica's migration succeeds");
    }
    assert_eq!(applied(&settings, "platform_migrations").await, platform_migrations());
    assert_eq!(applied(&settings, "service_migrations").await, 1);
}

#[tokio::test]
async fn schema_names_that_could_inject_sql_are_refused() {
    let settings = support::database().await;
    let err = db::migrate(&settings, "x; DROP TABLE y", None).await.expect_err("refused");
    assert!(format!("{err:#}").contains("database.schema"), "{err:#}");
}
