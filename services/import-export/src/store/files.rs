//! Produced files: an export in chunks, kept until its job's `expires_at`; and the purge of
//! everything a job holds of people's data once that time has passed.
use super::GenericClient;
use anyhow::Context;
use loyalty_platform::TenantId;
use time::OffsetDateTime;
use uuid::Uuid;

/// Stores one chunk of a job's file.
pub async fn put_chunk(
    db: &impl GenericClient,
    tenant: &TenantId,
    job: Uuid,
    at: i64,
    data: &[u8],
) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO export_chunks (tenant_id, job_id, start_at, data) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, job_id, start_at) DO UPDATE SET data = $4",
        &[&tenant, &job, &at, &data],
    )
    .await
    .context("storing a chunk of the file")?;
    Ok(())
}

/// Drops the chunks of a file written part-way (a worker that died mid-file starts it again).
pub async fn drop_file(db: &impl GenericClient, tenant: &TenantId, job: Uuid) -> anyhow::Result<()> {
    db.execute("DELETE FROM export_chunks WHERE tenant_id = $1 AND job_id = $2", &[&tenant, &job])
        .await
        .context("dropping a part-written file")?;
    Ok(())
}

/// The chunks holding bytes from `from` on, in order, `count` at most: `(start, data)`.
pub async fn chunks(
    db: &impl GenericClient,
    tenant: &TenantId,
    job: Uuid,
    from: i64,
    count: i64,
) -> anyhow::Result<Vec<(i64, Vec<u8>)>> {
    let rows = db
        .query(
            "SELECT start_at, data FROM export_chunks
              WHERE tenant_id = $1 AND job_id = $2 AND start_at + length(data) > $3
              ORDER BY start_at LIMIT $4",
            &[&tenant, &job, &from, &count],
        )
        .await
        .context("reading the file")?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Deletes the files and row cells of jobs kept past their `expires_at`; how many jobs.
pub async fn purge(db: &impl GenericClient, now: OffsetDateTime) -> anyhow::Result<u64> {
    let row = db
        .query_one(
            "WITH expired AS (
                 UPDATE jobs SET purged_at = $1 WHERE purged_at IS NULL AND expires_at < $1 RETURNING tenant_id, id
             ), files AS (
                 DELETE FROM export_chunks c USING expired e WHERE c.tenant_id = e.tenant_id AND c.job_id = e.id
             ), cells AS (
                 UPDATE row_reports r SET cells = '[]' FROM expired e WHERE r.tenant_id = e.tenant_id AND r.job_id = e.id
             )
             SELECT count(*) FROM expired",
            &[&now],
        )
        .await
        .context("purging expired jobs")?;
    Ok(row.get::<_, i64>(0) as u64)
}

/// Forgets an ended import's upload: the rows it needs later are in its reports.
pub async fn drop_upload(db: &impl GenericClient, tenant: &TenantId, upload: &str) -> anyhow::Result<()> {
    db.execute("DELETE FROM upload_chunks WHERE tenant_id = $1 AND upload_id = $2", &[&tenant, &upload])
        .await
        .context("dropping the upload")?;
    Ok(())
}

/// A client was erased (GDPR): their rows leave the reports, and the tenant's files made before
/// (any may hold them) are withdrawn.
pub async fn forget_client(
    db: &impl GenericClient,
    tenant: &TenantId,
    client: Uuid,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    db.execute(
        "UPDATE row_reports SET cells = '[]', client_id = NULL WHERE tenant_id = $1 AND client_id = $2",
        &[&tenant, &client],
    )
    .await
    .context("scrubbing the erased client's rows")?;
    db.execute(
        "DELETE FROM export_chunks c USING jobs j
          WHERE c.tenant_id = $1 AND j.tenant_id = c.tenant_id AND j.id = c.job_id AND j.created_at <= $2",
        &[&tenant, &now],
    )
    .await
    .context("withdrawing files that may hold the erased client")?;
    db.execute(
        "UPDATE jobs SET purged_at = $2 WHERE tenant_id = $1 AND kind LIKE 'export_%' AND created_at <= $2 AND purged_at IS NULL",
        &[&tenant, &now],
    )
    .await?;
    Ok(())
}
