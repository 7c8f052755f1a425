//! Row reports: what became of each refused or duplicate row of an import, with the row as it
//! was uploaded (for the error file).
use super::GenericClient;
use anyhow::Context;
use loyalty_platform::TenantId;
use tokio_postgres::types::Json;
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub row: i64,
    /// "error" or "duplicate_warning".
    pub severity: &'static str,
    /// (file column or "row", reason).
    pub violations: Vec<(String, String)>,
    pub client_id: Option<Uuid>,
    pub cells: Vec<String>,
}

/// Writes a batch's reports (in the transaction that advances the job).
pub async fn add(db: &impl GenericClient, tenant: &TenantId, job: Uuid, reports: &[Report]) -> anyhow::Result<()> {
    if reports.is_empty() {
        return Ok(());
    }
    let rows: Vec<i64> = reports.iter().map(|r| r.row).collect();
    let severities: Vec<&str> = reports.iter().map(|r| r.severity).collect();
    let violations: Vec<Json<&Vec<(String, String)>>> = reports.iter().map(|r| Json(&r.violations)).collect();
    let clients: Vec<Option<Uuid>> = reports.iter().map(|r| r.client_id).collect();
    let cells: Vec<Json<&Vec<String>>> = reports.iter().map(|r| Json(&r.cells)).collect();
    db.execute(
        "INSERT INTO row_reports (tenant_id, job_id, row_number, severity, violations, client_id, cells)
         SELECT $1, $2, * FROM unnest($3::bigint[], $4::text[], $5::jsonb[], $6::uuid[], $7::jsonb[])
         ON CONFLICT DO NOTHING",
        &[&tenant, &job, &rows, &severities, &violations, &clients, &cells],
    )
    .await
    .context("writing row reports")?;
    Ok(())
}

/// Reports in row order after `after_row`, `limit` at most; `errors_only` leaves out duplicates.
pub async fn page(
    db: &impl GenericClient,
    tenant: &TenantId,
    job: Uuid,
    after_row: i64,
    limit: i64,
    errors_only: bool,
) -> anyhow::Result<Vec<Report>> {
    let rows = db
        .query(
            "SELECT row_number, severity, violations, client_id, cells FROM row_reports
              WHERE tenant_id = $1 AND job_id = $2 AND row_number > $3 AND (NOT $5 OR severity = 'error')
              ORDER BY row_number LIMIT $4",
            &[&tenant, &job, &after_row, &limit, &errors_only],
        )
        .await
        .context("reading row reports")?;
    Ok(rows
        .iter()
        .map(|r| Report {
            row: r.get(0),
            severity: if r.get::<_, &str>(1) == "error" { "error" } else { "duplicate_warning" },
            violations: r.get::<_, Json<Vec<(String, String)>>>(2).0,
            client_id: r.get(3),
            cells: r.get::<_, Json<Vec<String>>>(4).0,
        })
        .collect())
}

pub async fn count(db: &impl GenericClient, tenant: &TenantId, job: Uuid) -> anyhow::Result<i64> {
    let row = db
        .query_one("SELECT count(*) FROM row_reports WHERE tenant_id = $1 AND job_id = $2", &[&tenant, &job])
        .await
        .context("counting row reports")?;
    Ok(row.get(0))
}
