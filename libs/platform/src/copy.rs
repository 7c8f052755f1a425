//! Loading many rows at once with binary `COPY` (demo data at scale, benchmarks, migrations from
//! another system). Rows are written as they are: callers validate them first.
use anyhow::Context;
use futures::pin_mut;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

/// A row of a `COPY`: its values in the order of the statement's columns.
pub trait CopyRow {
    fn values(&self) -> Vec<&(dyn ToSql + Sync)>;
}

/// Runs `statement` (`COPY t (a, b) FROM STDIN BINARY`) with `rows` of `types`; returns how many
/// rows were written.
pub async fn copy_in<R: CopyRow>(
    db: &tokio_postgres::Client,
    statement: &str,
    types: &[Type],
    rows: impl IntoIterator<Item = R>,
) -> anyhow::Result<u64> {
    let sink = db.copy_in(statement).await.context("starting COPY")?;
    let writer = BinaryCopyInWriter::new(sink, types);
    pin_mut!(writer);
    for row in rows {
        writer.as_mut().write(&row.values()).await.context("writing a COPY row")?;
    }
    writer.finish().await.context("finishing COPY")
}
