//! SQL, one function per query, returning domain types. Every query filters by tenant.
//!
//! Statements on hot paths go through [`query`] and friends, which prepare each statement once per
//! connection and reuse it (one round trip instead of two).
pub mod bulk;
pub mod clients;
pub mod consents;
pub mod history;
pub mod list;
pub mod settings;
pub mod tags;

pub use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

pub async fn query(
    db: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let statement = db.prepare_cached(sql).await?;
    db.query(&statement, params).await
}

pub async fn query_opt(
    db: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>, tokio_postgres::Error> {
    let statement = db.prepare_cached(sql).await?;
    db.query_opt(&statement, params).await
}

pub async fn query_one(
    db: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Row, tokio_postgres::Error> {
    let statement = db.prepare_cached(sql).await?;
    db.query_one(&statement, params).await
}

pub async fn execute(
    db: &impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, tokio_postgres::Error> {
    let statement = db.prepare_cached(sql).await?;
    db.execute(&statement, params).await
}
