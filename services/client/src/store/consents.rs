//! The `consents` table (CL-5).
use crate::domain::Consent;
use crate::store::GenericClient;
use anyhow::Context;
use loyalty_platform::TenantId;
use uuid::Uuid;

pub async fn for_clients(
    db: &impl GenericClient,
    tenant: &TenantId,
    ids: &[Uuid],
) -> anyhow::Result<Vec<(Uuid, Consent)>> {
    let rows = db
        .query(
            "SELECT client_id, channel, status, changed_at, source, address FROM consents
             WHERE tenant_id = $1 AND client_id = ANY($2) ORDER BY channel",
            &[&tenant, &ids],
        )
        .await
        .context("loading consents")?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get(0),
                Consent {
                    channel: r.get(1),
                    status: r.get(2),
                    changed_at: r.get(3),
                    source: r.get(4),
                    address: r.get(5),
                },
            )
        })
        .collect())
}

/// Sets one channel's consent (insert or replace).
pub async fn upsert(db: &impl GenericClient, tenant: &TenantId, client: Uuid, c: &Consent) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO consents (tenant_id, client_id, channel, status, changed_at, source, address)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant_id, client_id, channel)
         DO UPDATE SET status = $4, changed_at = $5, source = $6, address = $7",
        &[&tenant, &client, &c.channel, &c.status, &c.changed_at, &c.source, &c.address],
    )
    .await
    .context("writing a consent")?;
    Ok(())
}

pub async fn delete_all(db: &impl GenericClient, tenant: &TenantId, client: Uuid) -> anyhow::Result<()> {
    db.execute("DELETE FROM consents WHERE tenant_id = $1 AND client_id = $2", &[&tenant, &client])
        .await
        .context("deleting consents")?;
    Ok(())
}
