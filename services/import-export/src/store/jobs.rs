//! Jobs: what was asked and by whom, how far it got. A worker takes a job with a lease and keeps
//! it by reporting progress; a job whose lease ran out (its worker was killed) is taken again.
use super::GenericClient;
use anyhow::Context;
use loyalty_platform::TenantId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use uuid::Uuid;

/// What an import asked for, as the job keeps it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ImportRequest {
    pub file_name: String,
    pub column_mapping: BTreeMap<String, String>,
    /// Empty: told from the file.
    pub delimiter: String,
    pub encoding: String,
    pub dry_run: bool,
    /// "email" or "phone".
    pub match_key: String,
    /// "skip" or "fail".
    pub existing: String,
    /// Bytes uploaded.
    #[serde(default)]
    pub file_size: i64,
    /// "csv" or "xlsx" (empty: csv).
    #[serde(default)]
    pub format: String,
    /// XLSX: the sheet (empty: the first).
    #[serde(default)]
    pub sheet: String,
}

/// What an export asked for.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ExportRequest {
    /// "csv", "xlsx", "emails".
    pub format: String,
    /// The audience, protobuf-encoded and base64.
    pub audience: String,
    /// Facts of the segment catalogue, in order.
    pub columns: Vec<String>,
    pub anonymise: bool,
    pub only_consented: bool,
    pub language: String,
    pub csv_bom: bool,
    /// Operations exports: the period, Unix seconds (start included, end excluded).
    #[serde(default)]
    pub period_start: Option<i64>,
    #[serde(default)]
    pub period_end: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct Job {
    pub tenant: TenantId,
    pub id: Uuid,
    pub kind: String,
    pub state: String,
    pub request: ImportRequest,
    pub created_by: Vec<u8>,
    pub store_scope: Option<Vec<String>>,
    pub upload_id: Option<String>,
    pub encoding: String,
    pub delimiter: String,
    pub rows_done: i64,
    pub rows_total: i64,
    pub rows_imported: i64,
    pub rows_failed: i64,
    pub duplicate_warnings: i64,
    pub error: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
    pub export: Option<ExportRequest>,
    /// An import's header row as read.
    pub header: Option<Vec<String>>,
    pub file_size: i64,
    pub sha256: String,
    pub expires_at: Option<OffsetDateTime>,
    pub purged_at: Option<OffsetDateTime>,
}

impl Job {
    pub fn is_final(&self) -> bool {
        matches!(self.state.as_str(), "succeeded" | "failed" | "cancelled")
    }
}

const COLUMNS: &str = "tenant_id, id, kind, state, request, created_by, store_scope, upload_id, encoding, delimiter, \
     rows_done, rows_total, rows_imported, rows_failed, duplicate_warnings, error, created_at, updated_at, finished_at, \
     export, header, file_size, sha256, expires_at, purged_at";

fn from_row(r: &Row) -> Job {
    Job {
        tenant: TenantId::trusted(r.get::<_, &str>(0)),
        id: r.get(1),
        kind: r.get(2),
        state: r.get(3),
        request: r.get::<_, Json<ImportRequest>>(4).0,
        created_by: r.get(5),
        store_scope: r.get(6),
        upload_id: r.get(7),
        encoding: r.get(8),
        delimiter: r.get(9),
        rows_done: r.get(10),
        rows_total: r.get(11),
        rows_imported: r.get(12),
        rows_failed: r.get(13),
        duplicate_warnings: r.get(14),
        error: r.get(15),
        created_at: r.get(16),
        updated_at: r.get(17),
        finished_at: r.get(18),
        export: r.get::<_, Option<Json<ExportRequest>>>(19).map(|j| j.0),
        header: r.get::<_, Option<Json<Vec<String>>>>(20).map(|j| j.0),
        file_size: r.get(21),
        sha256: r.get(22),
        expires_at: r.get(23),
        purged_at: r.get(24),
    }
}

/// Creates a queued export.
pub async fn create_export(db: &impl GenericClient, job: &Job) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO jobs (tenant_id, id, kind, state, request, export, created_by, store_scope, created_at, updated_at)
         VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $8)",
        &[&job.tenant, &job.id, &job.kind, &Json(&job.request), &job.export.as_ref().map(Json), &job.created_by, &job.store_scope, &job.created_at],
    )
    .await
    .context("creating the export")?;
    Ok(())
}

/// Keeps an import's header row (its error file repeats it after the upload is gone).
pub async fn set_header(db: &impl GenericClient, job: &Job, header: &[String]) -> anyhow::Result<()> {
    db.execute("UPDATE jobs SET header = $3 WHERE tenant_id = $1 AND id = $2", &[&job.tenant, &job.id, &Json(header)])
        .await
        .context("keeping the header row")?;
    Ok(())
}

/// Records an export's progress and renews its lease; false when it was cancelled.
pub async fn export_progress(
    db: &impl GenericClient,
    job: &Job,
    rows: i64,
    total: i64,
    lease_s: i64,
) -> anyhow::Result<bool> {
    let n = db
        .execute(
            "UPDATE jobs SET rows_done = $3, rows_total = $4, lease_until = now() + make_interval(secs => $5), updated_at = now()
              WHERE tenant_id = $1 AND id = $2 AND state = 'running'",
            &[&job.tenant, &job.id, &rows, &total, &(lease_s as f64)],
        )
        .await
        .context("recording the export's progress")?;
    Ok(n == 1)
}

/// Ends an export whose file is stored: its size, checksum and the time it is deleted.
pub async fn finish_export(
    db: &impl GenericClient,
    job: &Job,
    rows: i64,
    (size, sha256): (i64, &str),
    expires_at: OffsetDateTime,
) -> anyhow::Result<bool> {
    let n = db
        .execute(
            "UPDATE jobs SET state = 'succeeded', rows_done = $3, rows_total = $3, rows_imported = $3, file_size = $4,
                    sha256 = $5, expires_at = $6, lease_until = NULL, finished_at = now(), updated_at = now()
              WHERE tenant_id = $1 AND id = $2 AND state = 'running'",
            &[&job.tenant, &job.id, &rows, &size, &sha256, &expires_at],
        )
        .await
        .context("ending the export")?;
    Ok(n == 1)
}

/// Creates the queued job of a finished upload and links the upload to it.
pub async fn create_import(db: &impl GenericClient, job: &Job) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO jobs (tenant_id, id, kind, state, request, created_by, store_scope, upload_id, created_at, updated_at)
         VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $8)",
        &[&job.tenant, &job.id, &job.kind, &Json(&job.request), &job.created_by, &job.store_scope, &job.upload_id, &job.created_at],
    )
    .await
    .context("creating the job")?;
    db.execute(
        "UPDATE uploads SET job_id = $3 WHERE tenant_id = $1 AND id = $2",
        &[&job.tenant, &job.upload_id, &job.id],
    )
    .await
    .context("linking the upload to its job")?;
    Ok(())
}

pub async fn get(db: &impl GenericClient, tenant: &TenantId, id: Uuid) -> anyhow::Result<Option<Job>> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE tenant_id = $1 AND id = $2");
    Ok(db.query_opt(&sql, &[&tenant, &id]).await.context("reading the job")?.as_ref().map(from_row))
}

/// Takes the oldest job that is queued, or running with an expired lease (its worker died), for
/// `lease_s` seconds. Replicas never take the same job.
pub async fn claim(db: &impl GenericClient, lease_s: i64) -> anyhow::Result<Option<Job>> {
    let sql = format!(
        "UPDATE jobs SET state = 'running', lease_until = now() + make_interval(secs => $1), updated_at = now()
          WHERE (tenant_id, id) = (
                SELECT tenant_id, id FROM jobs
                 WHERE state IN ('queued', 'running') AND (lease_until IS NULL OR lease_until < now())
                 ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING {COLUMNS}"
    );
    let lease = lease_s as f64;
    Ok(db.query_opt(&sql, &[&lease]).await.context("claiming a job")?.as_ref().map(from_row))
}

/// Keeps the encoding and delimiter the file was read with, so a resumed job reads it alike.
pub async fn set_format(db: &impl GenericClient, job: &Job, encoding: &str, delimiter: &str) -> anyhow::Result<()> {
    db.execute(
        "UPDATE jobs SET encoding = $3, delimiter = $4 WHERE tenant_id = $1 AND id = $2",
        &[&job.tenant, &job.id, &encoding, &delimiter],
    )
    .await
    .context("keeping the file's format")?;
    Ok(())
}

/// What one batch added to a job's figures.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub rows: i64,
    pub imported: i64,
    pub failed: i64,
    pub duplicates: i64,
}

/// What became of a job when a batch was recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Advanced {
    /// Recorded; the job goes on.
    Running,
    /// Recorded (its clients exist), but the job was cancelled meanwhile: stop.
    Cancelled,
    /// Not recorded: another worker moved the job on (this one lost its lease).
    Lost,
}

/// Adds a batch's figures and renews the lease. A batch that ended after the job was cancelled
/// is still counted: its clients were created.
pub async fn advance(
    db: &impl GenericClient,
    job: &Job,
    done_before: i64,
    c: Counts,
    lease_s: i64,
) -> anyhow::Result<Advanced> {
    let row = db
        .query_opt(
            "UPDATE jobs SET rows_done = rows_done + $4, rows_imported = rows_imported + $5,
                    rows_failed = rows_failed + $6, duplicate_warnings = duplicate_warnings + $7,
                    lease_until = CASE WHEN state = 'running' THEN now() + make_interval(secs => $8) END,
                    updated_at = now()
              WHERE tenant_id = $1 AND id = $2 AND state IN ('running', 'cancelled') AND rows_done = $3
             RETURNING state",
            &[&job.tenant, &job.id, &done_before, &c.rows, &c.imported, &c.failed, &c.duplicates, &(lease_s as f64)],
        )
        .await
        .context("recording the job's progress")?;
    Ok(match row.map(|r| r.get::<_, String>(0)) {
        Some(state) if state == "running" => Advanced::Running,
        Some(_) => Advanced::Cancelled,
        None => Advanced::Lost,
    })
}

/// Ends a running job: succeeded with `rows_total`, or failed with why; what it holds of people's
/// data (row cells, files) is kept until `keep_until`.
pub async fn finish(
    db: &impl GenericClient,
    job: &Job,
    outcome: Result<i64, &str>,
    keep_until: OffsetDateTime,
) -> anyhow::Result<()> {
    let (state, total, error) = match outcome {
        Ok(total) => ("succeeded", total, ""),
        Err(why) => ("failed", job.rows_done, why),
    };
    db.execute(
        "UPDATE jobs SET state = $3, rows_total = greatest(rows_total, $4), error = $5, lease_until = NULL,
                finished_at = now(), updated_at = now(), expires_at = $6
          WHERE tenant_id = $1 AND id = $2 AND state = 'running'",
        &[&job.tenant, &job.id, &state, &total, &error, &keep_until],
    )
    .await
    .context("ending the job")?;
    Ok(())
}

/// Lets another pass take the job at once (this worker hit a passing failure).
pub async fn release(db: &impl GenericClient, job: &Job) -> anyhow::Result<()> {
    db.execute(
        "UPDATE jobs SET lease_until = now() + interval '2 seconds' WHERE tenant_id = $1 AND id = $2 AND state = 'running'",
        &[&job.tenant, &job.id],
    )
    .await
    .context("releasing the job")?;
    Ok(())
}

/// Cancels a job that has not ended (None when it ended meanwhile); the rows it committed stay,
/// and what it holds of people's data is kept until `keep_until`.
pub async fn cancel(
    db: &impl GenericClient,
    tenant: &TenantId,
    id: Uuid,
    keep_until: OffsetDateTime,
) -> anyhow::Result<Option<Job>> {
    let sql = format!(
        "UPDATE jobs SET state = 'cancelled', lease_until = NULL, finished_at = now(), updated_at = now(), expires_at = $3
          WHERE tenant_id = $1 AND id = $2 AND state IN ('queued', 'running')
         RETURNING {COLUMNS}"
    );
    let row = db.query_opt(&sql, &[&tenant, &id, &keep_until]).await.context("cancelling the job")?;
    Ok(row.as_ref().map(from_row))
}

/// Jobs of the tenant, newest first, of the given kinds' prefixes ("import_", "export_"), seen
/// by `scope` (a scoped caller sees the jobs started within its stores).
pub async fn list(
    db: &impl GenericClient,
    tenant: &TenantId,
    prefixes: &[&str],
    scope: Option<&[String]>,
    (offset, limit): (i64, i64),
) -> anyhow::Result<(Vec<Job>, i64)> {
    let patterns: Vec<String> = prefixes.iter().map(|p| format!("{p}%")).collect();
    let scope: Option<Vec<String>> = scope.map(<[String]>::to_vec);
    let filter = "tenant_id = $1 AND kind LIKE ANY($2) AND ($3::text[] IS NULL OR store_scope <@ $3)";
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE {filter} ORDER BY created_at DESC, id DESC OFFSET $4 LIMIT $5");
    let rows = db.query(&sql, &[&tenant, &patterns, &scope, &offset, &limit]).await.context("listing jobs")?;
    let total = db
        .query_one(&format!("SELECT count(*) FROM jobs WHERE {filter}"), &[&tenant, &patterns, &scope])
        .await
        .context("counting jobs")?
        .get(0);
    Ok((rows.iter().map(from_row).collect(), total))
}
