//! The clients the ledger knows (from the client feed), and the tenants' time zones.
use anyhow::Context;
use deadpool_postgres::GenericClient;
use loyalty_platform::db::cached;
use loyalty_platform::{ClientId, TenantId};

/// What the ledger knows of a client id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Known {
    /// A live client, registered in this store (empty when none).
    Live { registration_store: String },
    /// Merged into another client, who answers for it.
    MergedInto(ClientId),
    /// Deleted or erased: no new operations.
    Gone,
}

pub async fn find(db: &impl GenericClient, tenant: &TenantId, client: ClientId) -> anyhow::Result<Option<Known>> {
    let row = cached::query_opt(
        db,
        "SELECT registration_store_id, merged_into, state FROM clients WHERE tenant_id = $1 AND client_id = $2",
        &[&tenant, &client],
    )
    .await
    .context("looking the client up")?;
    Ok(row.map(|r| match (r.get::<_, Option<ClientId>>(1), r.get::<_, &str>(2)) {
        (Some(survivor), _) => Known::MergedInto(survivor),
        (None, "live") => Known::Live { registration_store: r.get(0) },
        _ => Known::Gone,
    }))
}

/// Records a live client (created or changed, from the feed or from asking the client service).
pub async fn live(
    db: &impl GenericClient,
    tenant: &TenantId,
    client: ClientId,
    registration_store: &str,
) -> anyhow::Result<()> {
    cached::execute(
        db,
        "INSERT INTO clients (tenant_id, client_id, registration_store_id) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, client_id) DO UPDATE SET registration_store_id = excluded.registration_store_id
         WHERE clients.state = 'live' AND clients.merged_into IS NULL",
        &[&tenant, &client, &registration_store],
    )
    .await
    .context("recording a client")?;
    Ok(())
}

/// Records that `client` is gone ("deleted" or "erased").
pub async fn gone(db: &impl GenericClient, tenant: &TenantId, client: ClientId, state: &str) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO clients (tenant_id, client_id, state) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, client_id) DO UPDATE SET state = excluded.state",
        &[&tenant, &client, &state],
    )
    .await
    .context("recording a client gone")?;
    Ok(())
}

/// Records that `merged` clients now answer through `survivor`.
pub async fn merged(
    db: &impl GenericClient,
    tenant: &TenantId,
    survivor: ClientId,
    merged: &[ClientId],
) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO clients (tenant_id, client_id, merged_into) SELECT $1, m, $2 FROM unnest($3::uuid[]) AS m
         ON CONFLICT (tenant_id, client_id) DO UPDATE SET merged_into = excluded.merged_into",
        &[&tenant, &survivor, &merged],
    )
    .await
    .context("recording merged clients")?;
    Ok(())
}

/// The tenant's time zone name ("UTC" until the client feed says otherwise).
pub async fn time_zone(db: &impl GenericClient, tenant: &TenantId) -> anyhow::Result<String> {
    let row = cached::query_opt(db, "SELECT time_zone FROM tenant_settings WHERE tenant_id = $1", &[&tenant])
        .await
        .context("reading the tenant's time zone")?;
    Ok(row.map(|r| r.get(0)).unwrap_or_else(|| "UTC".into()))
}

pub async fn set_time_zone(db: &impl GenericClient, tenant: &TenantId, zone: &str) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO tenant_settings (tenant_id, time_zone) VALUES ($1, $2)
         ON CONFLICT (tenant_id) DO UPDATE SET time_zone = excluded.time_zone",
        &[&tenant, &zone],
    )
    .await
    .context("recording the tenant's time zone")?;
    Ok(())
}
