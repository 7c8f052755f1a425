//! Uploads: a file as it arrives, chunk by chunk, resumable at the size received.
use super::GenericClient;
use anyhow::Context;
use loyalty_platform::TenantId;
use time::OffsetDateTime;
use uuid::Uuid;

/// How far an upload got: bytes received, and the job its finished stream started.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub received: i64,
    pub job_id: Option<Uuid>,
}

/// The upload `id`, opened now when it is new.
pub async fn open(
    db: &impl GenericClient,
    tenant: &TenantId,
    id: &str,
    file_name: &str,
    now: OffsetDateTime,
) -> anyhow::Result<Progress> {
    db.execute(
        "INSERT INTO uploads (tenant_id, id, file_name, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        &[&tenant, &id, &file_name, &now],
    )
    .await
    .context("opening the upload")?;
    Ok(progress(db, tenant, id).await?.unwrap_or(Progress { received: 0, job_id: None }))
}

pub async fn progress(db: &impl GenericClient, tenant: &TenantId, id: &str) -> anyhow::Result<Option<Progress>> {
    let row = db
        .query_opt("SELECT received, job_id FROM uploads WHERE tenant_id = $1 AND id = $2", &[&tenant, &id])
        .await
        .context("reading the upload")?;
    Ok(row.map(|r| Progress { received: r.get(0), job_id: r.get(1) }))
}

/// Appends `data` at `at` (the size received so far). False when another stream of the same
/// upload moved it first: nothing was written.
pub async fn append(
    db: &mut deadpool_postgres::Object,
    tenant: &TenantId,
    id: &str,
    at: i64,
    data: &[u8],
) -> anyhow::Result<bool> {
    let tx = db.transaction().await?;
    let len = data.len() as i64;
    let moved = tx
        .execute(
            "UPDATE uploads SET received = received + $4 WHERE tenant_id = $1 AND id = $2 AND received = $3 AND job_id IS NULL",
            &[&tenant, &id, &at, &len],
        )
        .await
        .context("moving the upload on")?;
    if moved == 0 {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO upload_chunks (tenant_id, upload_id, start_at, data) VALUES ($1, $2, $3, $4)",
        &[&tenant, &id, &at, &data],
    )
    .await
    .context("storing a chunk")?;
    tx.commit().await?;
    Ok(true)
}

/// The first `limit` bytes of the upload (what its encoding and delimiter are told from).
pub async fn head(db: &impl GenericClient, tenant: &TenantId, id: &str, limit: usize) -> anyhow::Result<Vec<u8>> {
    let rows = db
        .query(
            "SELECT data FROM upload_chunks WHERE tenant_id = $1 AND upload_id = $2 AND start_at < $3 ORDER BY start_at",
            &[&tenant, &id, &(limit as i64)],
        )
        .await
        .context("reading the start of the file")?;
    let mut head = Vec::with_capacity(limit);
    for row in rows {
        let data: &[u8] = row.get(0);
        head.extend_from_slice(&data[..data.len().min(limit - head.len())]);
    }
    Ok(head)
}

/// Up to `count` chunks starting at or after `from`, in file order: `(start, data)`.
pub async fn chunks(
    db: &impl GenericClient,
    tenant: &TenantId,
    id: &str,
    from: i64,
    count: i64,
) -> anyhow::Result<Vec<(i64, Vec<u8>)>> {
    let rows = db
        .query(
            "SELECT start_at, data FROM upload_chunks WHERE tenant_id = $1 AND upload_id = $2 AND start_at >= $3
              ORDER BY start_at LIMIT $4",
            &[&tenant, &id, &from, &count],
        )
        .await
        .context("reading the file")?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}
