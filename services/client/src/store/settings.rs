//! Tenant settings and stores.
use crate::store::GenericClient;
use anyhow::Context;
use loyalty_api::client::v1::{Store, TenantSettings};
use loyalty_platform::TenantId;

pub fn default_settings() -> TenantSettings {
    TenantSettings {
        time_zone: "Europe/Vilnius".into(),
        default_phone_region: "LT".into(),
        currency: "EUR".into(),
        history_retention_days: 3650,
    }
}

pub async fn get(db: &impl GenericClient, tenant: &TenantId) -> anyhow::Result<TenantSettings> {
    let row = db
        .query_opt(
            "SELECT time_zone, default_phone_region, currency, history_retention_days FROM tenant_settings WHERE tenant_id = $1",
            &[&tenant],
        )
        .await
        .context("loading tenant settings")?;
    Ok(match row {
        Some(r) => TenantSettings {
            time_zone: r.get(0),
            default_phone_region: r.get(1),
            currency: r.get(2),
            history_retention_days: r.get(3),
        },
        None => default_settings(),
    })
}

pub async fn put(db: &impl GenericClient, tenant: &TenantId, s: &TenantSettings) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO tenant_settings (tenant_id, time_zone, default_phone_region, currency, history_retention_days)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id) DO UPDATE SET time_zone = $2, default_phone_region = $3, currency = $4,
             history_retention_days = $5",
        &[&tenant, &s.time_zone, &s.default_phone_region, &s.currency, &s.history_retention_days],
    )
    .await
    .context("saving tenant settings")?;
    Ok(())
}

pub async fn store_exists(db: &impl GenericClient, tenant: &TenantId, id: &str) -> anyhow::Result<bool> {
    let row = db
        .query_opt("SELECT 1 FROM stores WHERE tenant_id = $1 AND id = $2", &[&tenant, &id])
        .await
        .context("checking the store")?;
    Ok(row.is_some())
}

pub async fn get_store(db: &impl GenericClient, tenant: &TenantId, id: &str) -> anyhow::Result<Option<Store>> {
    let row = db
        .query_opt(
            "SELECT id, name, city, address, archived FROM stores WHERE tenant_id = $1 AND id = $2",
            &[&tenant, &id],
        )
        .await
        .context("loading the store")?;
    Ok(row.map(|r| Store { id: r.get(0), name: r.get(1), city: r.get(2), address: r.get(3), archived: r.get(4) }))
}

/// Inserts or replaces a store; `false` when `insert_only` and it exists.
pub async fn put_store(
    db: &impl GenericClient,
    tenant: &TenantId,
    s: &Store,
    insert_only: bool,
) -> anyhow::Result<bool> {
    let sql = if insert_only {
        "INSERT INTO stores (tenant_id, id, name, city, address, archived) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT DO NOTHING"
    } else {
        "UPDATE stores SET name = $3, city = $4, address = $5, archived = $6 WHERE tenant_id = $1 AND id = $2"
    };
    let n = db
        .execute(sql, &[&tenant, &s.id, &s.name, &s.city, &s.address, &s.archived])
        .await
        .context("saving the store")?;
    Ok(n == 1)
}

pub async fn list_stores(
    db: &impl GenericClient,
    tenant: &TenantId,
    include_archived: bool,
) -> anyhow::Result<Vec<Store>> {
    let rows = db
        .query(
            "SELECT id, name, city, address, archived FROM stores WHERE tenant_id = $1 AND ($2 OR NOT archived) ORDER BY id",
            &[&tenant, &include_archived],
        )
        .await
        .context("listing stores")?;
    Ok(rows
        .iter()
        .map(|r| Store { id: r.get(0), name: r.get(1), city: r.get(2), address: r.get(3), archived: r.get(4) })
        .collect())
}
