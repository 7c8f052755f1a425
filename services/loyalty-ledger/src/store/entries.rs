//! Reading a client's entries (LE-10): the history, newest first, and its export.
use anyhow::Context;
use deadpool_postgres::GenericClient;
use loyalty_api::ledger::v1 as pb;
use loyalty_platform::convert::to_timestamp;
use loyalty_platform::{ClientId, TenantId};
use time::OffsetDateTime;
use tokio_postgres::types::Json;
use uuid::Uuid;

/// Which entries a read shows.
pub struct EntryQuery {
    pub client: ClientId,
    pub start: Option<OffsetDateTime>,
    pub end: Option<OffsetDateTime>,
    /// Entry kinds as stored ("earned"); empty means all.
    pub kinds: Vec<String>,
}

const FILTER: &str = "tenant_id = $1 AND client_id = $2 AND ($3::timestamptz IS NULL OR at >= $3)
     AND ($4::timestamptz IS NULL OR at < $4) AND (cardinality($5::text[]) = 0 OR kind = ANY($5))";

/// The store is the purchase's (or the returned purchase's), else the till's that made the change.
const COLUMNS: &str = "id, kind, points, at, source, actor, comment, purchase_id, reservation_id, lot_no, hash, seq,
     coalesce((SELECT p.store_id FROM purchases p WHERE p.tenant_id = entries.tenant_id AND p.id = entries.purchase_id),
              actor->>'store_id', '')";

/// One stored entry.
pub struct Stored {
    pub entry: pb::Entry,
    /// Its kind as stored ("cancelled_by_return").
    pub kind: String,
    pub at: OffsetDateTime,
    pub seq: i64,
}

fn stored(r: &tokio_postgres::Row, client: &str) -> Stored {
    let actor: Json<serde_json::Value> = r.get(5);
    let text = |k: &str| actor.0.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
    let kind: String = r.get(1);
    let at: OffsetDateTime = r.get(3);
    let entry = pb::Entry {
        id: r.get::<_, Uuid>(0).to_string(),
        client_id: client.to_string(),
        kind: kind_value(&kind) as i32,
        points: r.get(2),
        at: Some(to_timestamp(at)),
        source: r.get(4),
        actor: Some(loyalty_api::common::v1::Actor {
            id: text("id"),
            name: text("name"),
            store_id: text("store_id"),
            ..Default::default()
        }),
        comment: r.get(6),
        purchase_id: r.get::<_, Option<Uuid>>(7).map(|u| u.to_string()).unwrap_or_default(),
        reservation_id: r.get::<_, Option<Uuid>>(8).map(|u| u.to_string()).unwrap_or_default(),
        lot_id: r.get::<_, Option<i64>>(9).map(|l| l.to_string()).unwrap_or_default(),
        hash: r.get(10),
        store_id: r.get(12),
    };
    Stored { entry, kind, at, seq: r.get(11) }
}

fn kind_value(name: &str) -> pb::EntryKind {
    pb::EntryKind::from_str_name(&format!("ENTRY_KIND_{}", name.to_uppercase())).unwrap_or(pb::EntryKind::Unspecified)
}

/// A page of entries newest first (before `before_seq`), and how many match in all.
pub async fn page(
    db: &impl GenericClient,
    tenant: &TenantId,
    q: &EntryQuery,
    (before_seq, limit): (Option<i64>, i64),
) -> anyhow::Result<(Vec<Stored>, i64)> {
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] = [&tenant, &q.client, &q.start, &q.end, &q.kinds];
    let total: i64 = db
        .query_one(&format!("SELECT count(*) FROM entries WHERE {FILTER}"), &params)
        .await
        .context("counting entries")?
        .get(0);
    let rows = db
        .query(
            &format!("SELECT {COLUMNS} FROM entries WHERE {FILTER} AND ($6::bigint IS NULL OR seq < $6) ORDER BY seq DESC LIMIT $7"),
            &[&tenant, &q.client, &q.start, &q.end, &q.kinds, &before_seq, &limit],
        )
        .await
        .context("listing entries")?;
    let client = q.client.to_string();
    Ok((rows.iter().map(|r| stored(r, &client)).collect(), total))
}

/// Every matching entry, oldest first (the export).
pub async fn all(db: &impl GenericClient, tenant: &TenantId, q: &EntryQuery) -> anyhow::Result<Vec<Stored>> {
    let rows = db
        .query(
            &format!("SELECT {COLUMNS} FROM entries WHERE {FILTER} ORDER BY seq"),
            &[&tenant, &q.client, &q.start, &q.end, &q.kinds],
        )
        .await
        .context("exporting entries")?;
    let client = q.client.to_string();
    Ok(rows.iter().map(|r| stored(r, &client)).collect())
}

/// Which entries of many clients a read shows (IE-5).
pub struct OperationsQuery {
    /// Empty means every client of the tenant.
    pub clients: Vec<Uuid>,
    pub start: Option<OffsetDateTime>,
    pub end: Option<OffsetDateTime>,
    pub kinds: Vec<String>,
    /// Only clients registered in, or who bought in, one of these stores.
    pub stores: Option<Vec<String>>,
    /// The page starts after this (client, seq).
    pub after: (Uuid, i64),
    pub limit: i64,
}

/// A page of many clients' entries, by client then sequence (the primary key's order).
pub async fn operations(
    db: &impl GenericClient,
    tenant: &TenantId,
    q: &OperationsQuery,
) -> anyhow::Result<Vec<Stored>> {
    let rows = db
        .query(
            &format!(
                "SELECT {COLUMNS}, client_id FROM entries
                 WHERE entries.tenant_id = $1 AND (cardinality($2::uuid[]) = 0 OR entries.client_id = ANY($2))
                   AND ($3::timestamptz IS NULL OR at >= $3) AND ($4::timestamptz IS NULL OR at < $4)
                   AND (cardinality($5::text[]) = 0 OR kind = ANY($5))
                   AND (entries.client_id, entries.seq) > ($6::uuid, $7::bigint)
                   AND ($8::text[] IS NULL
                        OR EXISTS (SELECT 1 FROM clients c WHERE c.tenant_id = entries.tenant_id
                                   AND c.client_id = entries.client_id AND c.registration_store_id = ANY($8))
                        OR EXISTS (SELECT 1 FROM purchases p WHERE p.tenant_id = entries.tenant_id
                                   AND p.client_id = entries.client_id AND p.store_id = ANY($8)))
                 ORDER BY entries.client_id, entries.seq LIMIT $9"
            ),
            &[&tenant, &q.clients, &q.start, &q.end, &q.kinds, &q.after.0, &q.after.1, &q.stores, &q.limit],
        )
        .await
        .context("listing many clients' entries")?;
    Ok(rows.iter().map(|r| stored(r, &r.get::<_, Uuid>(13).to_string())).collect())
}

/// The id of the client's newest entry.
pub async fn last_id(db: &impl GenericClient, tenant: &TenantId, client: ClientId) -> anyhow::Result<Uuid> {
    let row = db
        .query_one(
            "SELECT id FROM entries WHERE tenant_id = $1 AND client_id = $2 ORDER BY seq DESC LIMIT 1",
            &[&tenant, &client],
        )
        .await
        .context("reading the newest entry")?;
    Ok(row.get(0))
}

/// The client's opening-balance entry, if they have one. Takes a lock held to the end of the
/// transaction first, so two opening balances of one client cannot both find none.
pub async fn opening(db: &impl GenericClient, tenant: &TenantId, client: ClientId) -> anyhow::Result<Option<Uuid>> {
    db.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1 || ':opening:' || ($2::uuid)::text, 0))",
        &[&tenant, &client],
    )
    .await
    .context("locking the client's opening balance")?;
    let row = db
        .query_opt(
            "SELECT id FROM entries WHERE tenant_id = $1 AND client_id = $2 AND source = 'opening' ORDER BY seq LIMIT 1",
            &[&tenant, &client],
        )
        .await
        .context("reading the opening balance")?;
    Ok(row.map(|r| r.get(0)))
}
