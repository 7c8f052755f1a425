//! Programme versions: purchases are earned under the rules in force at their time.
use crate::domain::programme::Programme;
use anyhow::Context;
use deadpool_postgres::GenericClient;
use loyalty_platform::TenantId;
use time::OffsetDateTime;
use tokio_postgres::types::Json;

/// The rules in force at `at` (the defaults when the tenant has published none).
pub async fn at(db: &impl GenericClient, tenant: &TenantId, at: OffsetDateTime) -> anyhow::Result<Programme> {
    let row = loyalty_platform::db::cached::query_opt(
        db,
        "SELECT rules FROM programme_versions WHERE tenant_id = $1 AND effective_from <= $2
             ORDER BY version DESC LIMIT 1",
        &[&tenant, &at],
    )
    .await
    .context("loading the programme")?;
    Ok(row
        .map(|r| r.get::<_, Json<Programme>>(0).0)
        .unwrap_or_else(|| Programme { version: 0, ..Programme::default() }))
}

/// Publishes `rules` as the next version, in force from `now`; returns it with its version.
pub async fn publish(
    db: &impl GenericClient,
    tenant: &TenantId,
    rules: &Programme,
    now: OffsetDateTime,
) -> anyhow::Result<Programme> {
    // Versions of one tenant are numbered one at a time.
    loyalty_platform::db::cached::execute(
        db,
        "SELECT pg_advisory_xact_lock(hashtext('ledger.programme.' || $1))",
        &[&tenant],
    )
    .await?;
    let next: i32 = loyalty_platform::db::cached::query_one(
        db,
        "SELECT coalesce(max(version), 0) + 1 FROM programme_versions WHERE tenant_id = $1",
        &[&tenant],
    )
    .await?
    .get(0);
    let published = Programme { version: next, ..rules.clone() };
    loyalty_platform::db::cached::execute(
        db,
        "INSERT INTO programme_versions (tenant_id, version, effective_from, rules) VALUES ($1, $2, $3, $4)",
        &[&tenant, &next, &now, &Json(&published)],
    )
    .await
    .context("publishing the programme")?;
    Ok(published)
}

/// Every published version, newest first, with when it took effect.
pub async fn versions(db: &impl GenericClient, tenant: &TenantId) -> anyhow::Result<Vec<(Programme, OffsetDateTime)>> {
    let rows = loyalty_platform::db::cached::query(
        db,
        "SELECT rules, effective_from FROM programme_versions WHERE tenant_id = $1 ORDER BY version DESC",
        &[&tenant],
    )
    .await
    .context("listing programme versions")?;
    Ok(rows.iter().map(|r| (r.get::<_, Json<Programme>>(0).0, r.get(1))).collect())
}
