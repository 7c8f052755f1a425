//! Saved segments, their static members, what was published about their membership, and their
//! size per day.
use crate::domain::segments::{Kind, Saved};
use anyhow::Context;
use deadpool_postgres::GenericClient;
use loyalty_api::filter::v1::Filter;
use loyalty_platform::TenantId;
use prost::Message;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// A segment as the replicas load it: `None` when deleted.
pub struct Loaded {
    pub seq: i64,
    pub tenant: String,
    /// The tenant's zone and phone region, for a tenant the model meets here first.
    pub time_zone: String,
    pub phone_region: String,
    pub id: Uuid,
    pub segment: Option<Saved>,
}

const COLUMNS: &str = "s.tenant_id, segment_id, seq, name, colour, description, kind, filter, version, created_at,
                       updated_at, snapshot_at, announce, deleted_at, coalesce(t.time_zone, 'UTC'),
                       coalesce(t.phone_region, 'LT')";

/// The segments written after `after`, in `seq` order, with a static segment's members.
pub async fn changed_after(db: &impl GenericClient, after: i64) -> anyhow::Result<Vec<Loaded>> {
    let rows = db
        .query(
            &format!(
                "SELECT {COLUMNS} FROM segments s LEFT JOIN tenants t ON t.tenant_id = s.tenant_id
                       WHERE seq > $1 ORDER BY seq LIMIT 1000"
            ),
            &[&after],
        )
        .await
        .context("reading saved segments")?;
    let mut loaded = Vec::with_capacity(rows.len());
    for r in rows {
        let (tenant, id): (String, Uuid) = (r.get(0), r.get(1));
        let deleted: Option<OffsetDateTime> = r.get(13);
        let segment = match deleted {
            Some(_) => None,
            None => {
                let kind = Kind::parse(r.get(6));
                let members = if kind == Kind::Static { members(db, &tenant, id).await? } else { Vec::new() };
                let filter = r.get::<_, Option<&[u8]>>(7).map(Filter::decode).transpose().context("a stored filter")?;
                Some(Saved {
                    id,
                    name: r.get(3),
                    colour: r.get(4),
                    description: r.get(5),
                    kind,
                    filter,
                    version: r.get(8),
                    created_at: r.get(9),
                    updated_at: r.get(10),
                    snapshot_at: r.get(11),
                    members,
                    announce: r.get(12),
                })
            }
        };
        loaded.push(Loaded { seq: r.get(2), tenant, time_zone: r.get(14), phone_region: r.get(15), id, segment });
    }
    Ok(loaded)
}

async fn members(db: &impl GenericClient, tenant: &str, id: Uuid) -> anyhow::Result<Vec<Uuid>> {
    let rows = db
        .query("SELECT client_id FROM segment_members WHERE tenant_id = $1 AND segment_id = $2", &[&tenant, &id])
        .await
        .context("reading a segment's members")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The folded name two segments may not share.
pub fn name_key(name: &str) -> String {
    loyalty_platform::text::fold(name.trim())
}

/// Whether another live segment of the tenant has this name.
pub async fn name_taken(db: &impl GenericClient, tenant: &TenantId, name: &str, except: Uuid) -> anyhow::Result<bool> {
    let row = db
        .query_opt(
            "SELECT 1 FROM segments WHERE tenant_id = $1 AND name_key = $2 AND segment_id <> $3 AND deleted_at IS NULL",
            &[tenant, &name_key(name), &except],
        )
        .await?;
    Ok(row.is_some())
}

/// Writes `s` (new or changed) with the next `seq`. A static segment's members are replaced when
/// `members` is given.
pub async fn save(
    tx: &impl GenericClient,
    tenant: &TenantId,
    s: &Saved,
    members: Option<&[Uuid]>,
) -> anyhow::Result<()> {
    let filter = s.filter.as_ref().map(Message::encode_to_vec);
    tx.execute(
        "INSERT INTO segments (tenant_id, segment_id, seq, name, name_key, colour, description, kind, filter, version,
                               created_at, updated_at, snapshot_at, announce)
         VALUES ($1, $2, nextval('segment_seq'), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (tenant_id, segment_id) DO UPDATE SET
           seq = excluded.seq, name = excluded.name, name_key = excluded.name_key, colour = excluded.colour,
           description = excluded.description, filter = excluded.filter, version = excluded.version,
           updated_at = excluded.updated_at, snapshot_at = excluded.snapshot_at",
        &[
            tenant,
            &s.id,
            &s.name,
            &name_key(&s.name),
            &s.colour,
            &s.description,
            &s.kind.as_str(),
            &filter,
            &s.version,
            &s.created_at,
            &s.updated_at,
            &s.snapshot_at,
            &s.announce,
        ],
    )
    .await
    .context("saving a segment")?;
    if let Some(members) = members {
        tx.execute("DELETE FROM segment_members WHERE tenant_id = $1 AND segment_id = $2", &[tenant, &s.id]).await?;
        tx.execute(
            "INSERT INTO segment_members (tenant_id, segment_id, client_id) SELECT $1, $2, unnest($3::uuid[])
             ON CONFLICT DO NOTHING",
            &[tenant, &s.id, &members],
        )
        .await
        .context("saving a segment's members")?;
    }
    Ok(())
}

/// Marks the segment deleted and drops its members, published state and sizes.
pub async fn delete(tx: &impl GenericClient, tenant: &TenantId, id: Uuid, at: OffsetDateTime) -> anyhow::Result<bool> {
    let n = tx
        .execute(
            "UPDATE segments SET deleted_at = $3, seq = nextval('segment_seq')
             WHERE tenant_id = $1 AND segment_id = $2 AND deleted_at IS NULL",
            &[tenant, &id, &at],
        )
        .await?;
    for table in ["segment_members", "published_members", "published_state", "segment_sizes"] {
        tx.execute(&format!("DELETE FROM {table} WHERE tenant_id = $1 AND segment_id = $2"), &[tenant, &id]).await?;
    }
    Ok(n == 1)
}

/// Who uses the segment besides other segments: campaigns and triggers, as "kind name (id)".
pub async fn users(db: &impl GenericClient, tenant: &TenantId, id: Uuid) -> anyhow::Result<Vec<String>> {
    let rows = db
        .query(
            "SELECT user_kind, user_name, user_id FROM segment_users WHERE tenant_id = $1 AND segment_id = $2
             ORDER BY user_kind, user_name",
            &[tenant, &crate::domain::segments::shown(id)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| format!("{} {:?} ({})", r.get::<_, &str>(0), r.get::<_, &str>(1), r.get::<_, &str>(2)))
        .collect())
}

/// The campaigns using each of `ids`, for the answers.
pub async fn campaign_ids(
    db: &impl GenericClient,
    tenant: &TenantId,
    ids: &[Uuid],
) -> anyhow::Result<std::collections::HashMap<Uuid, Vec<String>>> {
    let keys: Vec<String> = ids.iter().map(|id| crate::domain::segments::shown(*id)).collect();
    let rows = db
        .query(
            "SELECT segment_id, user_id FROM segment_users WHERE tenant_id = $1 AND segment_id = ANY($2)
             ORDER BY segment_id, user_id",
            &[tenant, &keys],
        )
        .await?;
    let mut by_segment: std::collections::HashMap<Uuid, Vec<String>> = Default::default();
    for r in rows {
        if let Some(id) = crate::domain::segments::key(r.get::<_, &str>(0)) {
            by_segment.entry(id).or_default().push(r.get(1));
        }
    }
    Ok(by_segment)
}

/// Records which segments a campaign's or trigger's audience names now (none when it is gone).
pub async fn set_user(
    tx: &impl GenericClient,
    tenant: &TenantId,
    kind: &str,
    user: &str,
    name: &str,
    segment_ids: &[String],
) -> anyhow::Result<()> {
    tx.execute(
        "DELETE FROM segment_users WHERE tenant_id = $1 AND user_kind = $2 AND user_id = $3",
        &[tenant, &kind, &user],
    )
    .await?;
    tx.execute(
        "INSERT INTO segment_users (tenant_id, segment_id, user_kind, user_id, user_name)
         SELECT $1, unnest($2::text[]), $3, $4, $5 ON CONFLICT DO NOTHING",
        &[tenant, &segment_ids, &kind, &user, &name],
    )
    .await
    .context("recording a segment's users")?;
    Ok(())
}

/// An erased client leaves every list and every published membership (the replicas' copies
/// resolve the id to nobody, since the client is forgotten).
pub async fn forget_client(tx: &impl GenericClient, tenant: &TenantId, clients: &[Uuid]) -> anyhow::Result<()> {
    tx.execute("DELETE FROM segment_members WHERE tenant_id = $1 AND client_id = ANY($2)", &[tenant, &clients]).await?;
    let n = tx
        .execute("DELETE FROM published_members WHERE tenant_id = $1 AND client_id = ANY($2)", &[tenant, &clients])
        .await?;
    if n > 0 {
        tx.execute("UPDATE published_state SET generation = generation + 1 WHERE tenant_id = $1", &[tenant]).await?;
    }
    Ok(())
}

/// The sizes at the end of each day from `from` to `to`.
pub async fn sizes(
    db: &impl GenericClient,
    tenant: &TenantId,
    id: Uuid,
    from: Date,
    to: Date,
) -> anyhow::Result<Vec<(Date, i64)>> {
    let rows = db
        .query(
            "SELECT day, size FROM segment_sizes WHERE tenant_id = $1 AND segment_id = $2 AND day BETWEEN $3 AND $4
             ORDER BY day",
            &[tenant, &id, &from, &to],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The segment's version, its row locked until the transaction ends; `None` when it is gone.
pub async fn lock_version(tx: &impl GenericClient, tenant: &TenantId, id: Uuid) -> anyhow::Result<Option<i32>> {
    let row = tx
        .query_opt(
            "SELECT version FROM segments WHERE tenant_id = $1 AND segment_id = $2 AND deleted_at IS NULL FOR UPDATE",
            &[tenant, &id],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}
