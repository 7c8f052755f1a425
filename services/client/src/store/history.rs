//! The `history` table: every change of a client (CL-9, X-3).
use crate::store::GenericClient;
use anyhow::Context;
use loyalty_api::common::v1::Actor;
use loyalty_platform::TenantId;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio_postgres::types::Json;
use uuid::Uuid;

/// One change to record.
pub struct Change<'a> {
    pub client_id: Uuid,
    pub kind: &'a str,
    pub at: OffsetDateTime,
    pub actor: &'a Actor,
    pub before: Value,
    pub after: Value,
    pub comment: &'a str,
}

pub fn actor_json(a: &Actor) -> Value {
    json!({ "kind": a.kind, "id": a.id, "name": a.name, "channel": a.channel, "store_id": a.store_id })
}

pub fn actor_from_json(v: &Value) -> Actor {
    let int = |k: &str| v.get(k).and_then(Value::as_i64).and_then(|i| i32::try_from(i).ok()).unwrap_or(0);
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    Actor { kind: int("kind"), id: text("id"), name: text("name"), channel: int("channel"), store_id: text("store_id") }
}

pub async fn record(db: &impl GenericClient, tenant: &TenantId, c: &Change<'_>) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO history (tenant_id, client_id, kind, at, actor, before, after, comment)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &tenant,
            &c.client_id,
            &c.kind,
            &c.at,
            &Json(actor_json(c.actor)),
            &Json(&c.before),
            &Json(&c.after),
            &c.comment,
        ],
    )
    .await
    .context("recording history")?;
    Ok(())
}

/// The same change for many clients in one statement (bulk tag edits).
pub async fn record_many(
    db: &impl GenericClient,
    tenant: &TenantId,
    clients: &[Uuid],
    kind: &str,
    at: OffsetDateTime,
    actor: &Actor,
    after: &Value,
) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO history (tenant_id, client_id, kind, at, actor, after)
         SELECT $1, client_id, $3, $4, $5, $6 FROM unnest($2::uuid[]) AS client_id",
        &[&tenant, &clients, &kind, &at, &Json(actor_json(actor)), &Json(after)],
    )
    .await
    .context("recording history")?;
    Ok(())
}

pub struct Record {
    pub id: i64,
    pub kind: String,
    pub at: OffsetDateTime,
    pub actor: Actor,
    pub before: Value,
    pub after: Value,
    pub comment: String,
}

/// Newest first, after `before_id` (keyset paging), of the given kinds and period.
pub async fn list(
    db: &impl GenericClient,
    tenant: &TenantId,
    client: Uuid,
    kinds: &[String],
    period: (Option<OffsetDateTime>, Option<OffsetDateTime>),
    before_id: Option<i64>,
    limit: i64,
) -> anyhow::Result<(Vec<Record>, i64)> {
    let filter = "tenant_id = $1 AND client_id = $2 AND (cardinality($3::text[]) = 0 OR kind = ANY($3))
                  AND ($4::timestamptz IS NULL OR at >= $4) AND ($5::timestamptz IS NULL OR at < $5)";
    let rows = db
        .query(
            &format!(
                "SELECT id, kind, at, actor, before, after, comment FROM history
                 WHERE {filter} AND ($6::bigint IS NULL OR id < $6) ORDER BY id DESC LIMIT $7"
            ),
            &[&tenant, &client, &kinds, &period.0, &period.1, &before_id, &limit],
        )
        .await
        .context("listing history")?;
    let total: i64 = db
        .query_one(
            &format!("SELECT count(*) FROM history WHERE {filter}"),
            &[&tenant, &client, &kinds, &period.0, &period.1],
        )
        .await
        .context("counting history")?
        .get(0);
    let records = rows
        .iter()
        .map(|r| Record {
            id: r.get(0),
            kind: r.get(1),
            at: r.get(2),
            actor: actor_from_json(&r.get::<_, Json<Value>>(3).0),
            before: r.get::<_, Json<Value>>(4).0,
            after: r.get::<_, Json<Value>>(5).0,
            comment: r.get(6),
        })
        .collect();
    Ok((records, total))
}

/// Blanks what a client's history says of the person (GDPR erase); the records of what happened stay.
pub async fn scrub(db: &impl GenericClient, tenant: &TenantId, client: Uuid) -> anyhow::Result<()> {
    db.execute(
        "UPDATE history SET before = '{}', after = '{}', comment = '' WHERE tenant_id = $1 AND client_id = $2",
        &[&tenant, &client],
    )
    .await
    .context("scrubbing the client's history")?;
    Ok(())
}

/// Deletes history older than each tenant's `history_retention_days`; returns how many records.
pub async fn purge_past_retention(db: &impl GenericClient) -> anyhow::Result<u64> {
    db.execute(
        "DELETE FROM history h USING tenant_settings s
         WHERE h.tenant_id = s.tenant_id AND h.at < now() - make_interval(days => s.history_retention_days)",
        &[],
    )
    .await
    .context("purging history past retention")
}
