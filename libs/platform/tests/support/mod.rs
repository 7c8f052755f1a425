//! Shared set-up of the platform's tests: a fresh database with the platform tables in a schema.
#![allow(dead_code)]
use loyalty_api::common::v1::Actor;
use loyalty_api::events::v1::{ClientBlocked, Event, event::Payload};
use loyalty_platform::Secret;
use loyalty_platform::config::DatabaseSettings;
use loyalty_platform::db;

pub const SCHEMA: &str = "probe";

pub async fn database() -> DatabaseSettings {
    let test_db = loyalty_localpg::test_database().await.expect("a PostgreSQL for tests");
    DatabaseSettings { url: Secret::new(test_db.url), max_size: 8, ..Default::default() }
}

/// A fresh database whose `probe` schema has the platform tables.
pub async fn migrated() -> (DatabaseSettings, deadpool_postgres::Pool) {
    let settings = database().await;
    db::migrate(&settings, SCHEMA, None).await.expect("migrations apply");
    let pool = db::pool(&settings, SCHEMA).expect("pool");
    (settings, pool)
}

/// A small event whose comment identifies it.
pub fn blocked(tenant: &str, comment: &str) -> Event {
    loyalty_platform::outbox::event(
        tenant,
        Actor::default(),
        comment,
        Payload::ClientBlocked(ClientBlocked { client_id: comment.into(), comment: comment.into() }),
    )
}

pub fn comment(event: &Event) -> String {
    match &event.payload {
        Some(Payload::ClientBlocked(b)) => b.comment.clone(),
        other => panic!("unexpected payload {other:?}"),
    }
}

/// Publishes one event in its own committed transaction.
pub async fn publish_committed(pool: &deadpool_postgres::Pool, event: &Event) {
    let mut conn = pool.get().await.expect("connection");
    let tx = conn.transaction().await.expect("begin");
    loyalty_platform::outbox::publish(&tx, event).await.expect("publish");
    loyalty_platform::outbox::commit(tx).await.expect("commit");
}
