//! What the segment service has told the world about membership: the members last published per
//! segment (entered/left events are this table's changes, written in the same transaction) and the
//! read-model position they were computed at.
use anyhow::Context;
use deadpool_postgres::GenericClient;
use loyalty_api::events::v1::Event;
use loyalty_platform::TenantId;
use time::Date;
use uuid::Uuid;

/// The lock of the replica that publishes saved segments; the others skip their turn.
const PUBLISHER: i64 = 8_131_518;
/// The same for the built-in segments, which publish in a lane of their own.
const BUILT_IN_PUBLISHER: i64 = 8_131_519;

/// Takes a publisher's lock for this transaction, or says another replica holds it.
pub async fn try_lead(tx: &impl GenericClient, built_in: bool) -> anyhow::Result<bool> {
    let key = if built_in { BUILT_IN_PUBLISHER } else { PUBLISHER };
    Ok(tx.query_one("SELECT pg_try_advisory_xact_lock($1)", &[&key]).await?.get(0))
}

/// A segment's publication position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct State {
    pub generation: i64,
    pub facts_seq: i64,
    pub version: i32,
}

/// Every segment's position in the tenant.
pub async fn states(db: &impl GenericClient, tenant: &str) -> anyhow::Result<Vec<(Uuid, State)>> {
    let rows = db
        .query(
            "SELECT segment_id, generation, facts_seq, version FROM published_state WHERE tenant_id = $1",
            &[&tenant],
        )
        .await
        .context("reading what was published")?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), State { generation: r.get(1), facts_seq: r.get(2), version: r.get(3) }))
        .collect())
}

/// The members last published for a segment.
pub async fn members(db: &impl GenericClient, tenant: &str, segment: Uuid) -> anyhow::Result<Vec<Uuid>> {
    let rows = db
        .query("SELECT client_id FROM published_members WHERE tenant_id = $1 AND segment_id = $2", &[&tenant, &segment])
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// One segment's change of members, its events, and its new position; returns the new generation.
pub struct Change<'a> {
    pub segment: Uuid,
    pub entered: &'a [Uuid],
    pub left: &'a [Uuid],
    pub events: &'a [Event],
    pub facts_seq: i64,
    pub version: i32,
    /// Nothing was published for the segment before.
    pub first: bool,
}

pub async fn publish(tx: &deadpool_postgres::Transaction<'_>, tenant: &str, c: &Change<'_>) -> anyhow::Result<i64> {
    let tenant_id = TenantId::trusted(tenant);
    // A segment's first members go by binary `COPY`: a built-in segment's can be every client.
    if c.first {
        // Nothing was published for it: what a segment of the same id left behind goes first.
        tx.execute("DELETE FROM published_members WHERE tenant_id = $1 AND segment_id = $2", &[&tenant_id, &c.segment])
            .await?;
        copy_members(tx, &tenant_id, c.segment, c.entered).await.context("recording the first published members")?;
    } else {
        tx.execute(
            "DELETE FROM published_members WHERE tenant_id = $1 AND segment_id = $2 AND client_id = ANY($3)",
            &[&tenant_id, &c.segment, &c.left],
        )
        .await?;
        tx.execute(
            "INSERT INTO published_members (tenant_id, segment_id, client_id) SELECT $1, $2, unnest($3::uuid[])
             ON CONFLICT DO NOTHING",
            &[&tenant_id, &c.segment, &c.entered],
        )
        .await
        .context("recording published members")?;
    }
    let generation: i64 = tx
        .query_one(
            "INSERT INTO published_state (tenant_id, segment_id, facts_seq, version) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant_id, segment_id) DO UPDATE
               SET facts_seq = $3, version = $4, generation = published_state.generation + 1
             RETURNING generation",
            &[&tenant_id, &c.segment, &c.facts_seq, &c.version],
        )
        .await?
        .get(0);
    loyalty_platform::outbox::publish_many(tx, c.events).await?;
    Ok(generation)
}

/// One row of `published_members`, for binary `COPY`.
struct Member<'a> {
    tenant: &'a TenantId,
    segment: Uuid,
    client: &'a Uuid,
}

impl loyalty_platform::copy::CopyRow for Member<'_> {
    fn values(&self) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
        vec![self.tenant, &self.segment, self.client]
    }
}

async fn copy_members(
    tx: &deadpool_postgres::Transaction<'_>,
    tenant: &TenantId,
    segment: Uuid,
    clients: &[Uuid],
) -> anyhow::Result<u64> {
    use tokio_postgres::types::Type;
    // Collected first: a lazy map over borrowed rows makes the future not `Send` for every lifetime.
    let rows: Vec<Member<'_>> = clients.iter().map(|client| Member { tenant, segment, client }).collect();
    let statement = "COPY published_members (tenant_id, segment_id, client_id) FROM STDIN BINARY";
    loyalty_platform::copy::copy_in(tx.client(), statement, &[Type::TEXT, Type::UUID, Type::UUID], rows).await
}

/// Keeps the size a segment has on `day` (the last one seen that day is its end-of-day size).
pub async fn record_size(
    tx: &impl GenericClient,
    tenant: &str,
    segment: Uuid,
    day: Date,
    size: i64,
) -> anyhow::Result<()> {
    tx.execute(
        "INSERT INTO segment_sizes (tenant_id, segment_id, day, size) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, segment_id, day) DO UPDATE SET size = $4",
        &[&tenant, &segment, &day, &size],
    )
    .await
    .context("recording a segment's size")?;
    Ok(())
}
