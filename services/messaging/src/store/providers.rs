//! Channels' providers: settings encoded without their secret, the secret sealed beside them.
use super::GenericClient;
use loyalty_api::messaging::v1::ChannelProvider;
use loyalty_platform::TenantId;
use prost::Message;
use time::OffsetDateTime;

pub struct Stored {
    pub provider: ChannelProvider,
    pub sealed_secret: Option<Vec<u8>>,
    pub updated_at: OffsetDateTime,
}

/// Saves `provider` (its secret fields empty); `sealed` None keeps the stored secret.
pub async fn save(
    db: &impl GenericClient,
    tenant: &TenantId,
    channel: &str,
    provider: &ChannelProvider,
    sealed: Option<Vec<u8>>,
    now: OffsetDateTime,
) -> anyhow::Result<Stored> {
    let row = db
        .query_one(
            "INSERT INTO providers (tenant_id, channel, settings, sealed_secret, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant_id, channel) DO UPDATE SET settings = $3, \
               sealed_secret = coalesce($4, providers.sealed_secret), updated_at = $5 \
             RETURNING sealed_secret",
            &[&tenant.as_str(), &channel, &provider.encode_to_vec(), &sealed, &now],
        )
        .await?;
    Ok(Stored { provider: provider.clone(), sealed_secret: row.get(0), updated_at: now })
}

pub async fn load(db: &impl GenericClient, tenant: &str, channel: &str) -> anyhow::Result<Option<Stored>> {
    let row = db
        .query_opt(
            "SELECT settings, sealed_secret, updated_at FROM providers WHERE tenant_id = $1 AND channel = $2",
            &[&tenant, &channel],
        )
        .await?;
    row.map(|r| stored(&r)).transpose()
}

pub async fn list(db: &impl GenericClient, tenant: &TenantId) -> anyhow::Result<Vec<Stored>> {
    let rows = db
        .query(
            "SELECT settings, sealed_secret, updated_at FROM providers WHERE tenant_id = $1 ORDER BY channel",
            &[&tenant.as_str()],
        )
        .await?;
    rows.iter().map(stored).collect()
}

fn stored(r: &tokio_postgres::Row) -> anyhow::Result<Stored> {
    let bytes: Vec<u8> = r.get(0);
    Ok(Stored { provider: ChannelProvider::decode(&bytes[..])?, sealed_secret: r.get(1), updated_at: r.get(2) })
}
