//! The settings of each tenant's built-in segments: one row per tenant that changed the defaults.
use crate::domain::automatic::Settings;
use anyhow::Context;
use deadpool_postgres::GenericClient;
use loyalty_api::segment::v1::AutomaticSegmentSettings;
use loyalty_platform::TenantId;
use prost::Message;
use time::OffsetDateTime;

/// A tenant's settings as the replicas load them.
pub struct Loaded {
    pub seq: i64,
    pub tenant: String,
    pub time_zone: String,
    pub phone_region: String,
    pub settings: Settings,
    pub version: i32,
    pub updated_at: OffsetDateTime,
}

/// The settings written after `after` and up to `until` (when given), in `seq` order.
pub async fn changed_after(db: &impl GenericClient, after: i64, until: Option<i64>) -> anyhow::Result<Vec<Loaded>> {
    let rows = db
        .query(
            "SELECT a.tenant_id, seq, settings, version, updated_at, coalesce(t.time_zone, 'UTC'),
                    coalesce(t.phone_region, 'LT')
             FROM automatic_settings a LEFT JOIN tenants t ON t.tenant_id = a.tenant_id
             WHERE seq > $1 AND ($2::bigint IS NULL OR seq <= $2) ORDER BY seq",
            &[&after, &until],
        )
        .await
        .context("reading the settings of automatic segments")?;
    let mut loaded = Vec::with_capacity(rows.len());
    for r in rows {
        let message = AutomaticSegmentSettings::decode(r.get::<_, &[u8]>(2)).context("stored automatic settings")?;
        loaded.push(Loaded {
            tenant: r.get(0),
            seq: r.get(1),
            settings: Settings::from_message(&message),
            version: r.get(3),
            updated_at: r.get(4),
            time_zone: r.get(5),
            phone_region: r.get(6),
        });
    }
    Ok(loaded)
}

/// The version the tenant's settings are at (0 for the defaults), locked for an update.
pub async fn version_for_update(tx: &impl GenericClient, tenant: &TenantId) -> anyhow::Result<i32> {
    let row = tx.query_opt("SELECT version FROM automatic_settings WHERE tenant_id = $1 FOR UPDATE", &[tenant]).await?;
    Ok(row.map_or(0, |r| r.get(0)))
}

/// Writes the tenant's settings at `version` with the next `segment_seq`.
pub async fn save(
    tx: &impl GenericClient,
    tenant: &TenantId,
    settings: &Settings,
    version: i32,
    at: OffsetDateTime,
) -> anyhow::Result<()> {
    let encoded = settings.to_message("").encode_to_vec();
    tx.execute(
        "INSERT INTO automatic_settings (tenant_id, seq, settings, version, updated_at)
         VALUES ($1, nextval('segment_seq'), $2, $3, $4)
         ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, settings = excluded.settings,
           version = excluded.version, updated_at = excluded.updated_at",
        &[tenant, &encoded, &version, &at],
    )
    .await
    .context("saving the settings of automatic segments")?;
    Ok(())
}
