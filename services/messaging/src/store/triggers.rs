//! Triggers (ME-4) and their firings: a firing is written when a fact fires a trigger for a
//! client (in the feed consumer's transaction, or by the daily pass of a date-based trigger) and
//! becomes a delivery of the same occurrence once its audience is checked.
use super::GenericClient;
use loyalty_api::messaging::v1 as pb;
use loyalty_platform::TenantId;
use prost::Message;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// A trigger as stored.
#[derive(Clone, Debug)]
pub struct Row {
    pub id: Uuid,
    /// What its author wrote (output fields empty).
    pub definition: pb::Trigger,
    pub kind: String,
    pub channel: String,
    /// The stores of whoever created it (JSON list), empty when unscoped.
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub swept_on: Option<Date>,
}

impl Row {
    /// The creator's stores, None for the whole chain.
    pub fn stores(&self) -> anyhow::Result<Option<Vec<String>>> {
        Ok((!self.created_by.is_empty()).then(|| serde_json::from_str(&self.created_by)).transpose()?)
    }
}

const COLUMNS: &str = "trigger_id, definition, kind, channel, created_by, created_at, updated_at, swept_on";

fn row(r: &tokio_postgres::Row) -> anyhow::Result<Row> {
    let bytes: Vec<u8> = r.get(1);
    Ok(Row {
        id: r.get(0),
        definition: pb::Trigger::decode(&bytes[..])?,
        kind: r.get(2),
        channel: r.get(3),
        created_by: r.get(4),
        created_at: r.get(5),
        updated_at: r.get(6),
        swept_on: r.get(7),
    })
}

/// Inserts or rewrites a trigger.
pub async fn save(db: &impl GenericClient, tenant: &TenantId, t: &Row) -> anyhow::Result<()> {
    let d = &t.definition;
    db.execute(
        "INSERT INTO triggers (tenant_id, trigger_id, definition, kind, channel, enabled, segment_id, event_name, \
           created_by, created_at, updated_at, swept_on) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (tenant_id, trigger_id) DO UPDATE SET definition = $3, kind = $4, channel = $5, enabled = $6, \
           segment_id = $7, event_name = $8, updated_at = $11, swept_on = $12",
        &[
            &tenant.as_str(),
            &t.id,
            &d.encode_to_vec(),
            &t.kind,
            &t.channel,
            &d.enabled,
            &d.segment_id,
            &d.event_name,
            &t.created_by,
            &t.created_at,
            &t.updated_at,
            &t.swept_on,
        ],
    )
    .await?;
    Ok(())
}

pub async fn load(db: &impl GenericClient, tenant: &str, id: Uuid, lock: bool) -> anyhow::Result<Option<Row>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM triggers WHERE tenant_id = $1 AND trigger_id = $2 AND deleted_at IS NULL{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    db.query_opt(&sql, &[&tenant, &id]).await?.map(|r| row(&r)).transpose()
}

/// The tenant's triggers, oldest first.
pub async fn list(db: &impl GenericClient, tenant: &TenantId) -> anyhow::Result<Vec<Row>> {
    let sql = format!("SELECT {COLUMNS} FROM triggers WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY created_at");
    db.query(&sql, &[&tenant.as_str()]).await?.iter().map(row).collect()
}

/// Deletes a trigger; its waiting firings go with it (deliveries already queued stay).
pub async fn delete(db: &impl GenericClient, tenant: &TenantId, id: Uuid, now: OffsetDateTime) -> anyhow::Result<bool> {
    let n = db
        .execute(
            "UPDATE triggers SET deleted_at = $3, enabled = false WHERE tenant_id = $1 AND trigger_id = $2 \
             AND deleted_at IS NULL",
            &[&tenant.as_str(), &id, &now],
        )
        .await?;
    db.execute("DELETE FROM firings WHERE tenant_id = $1 AND trigger_id = $2", &[&tenant.as_str(), &id]).await?;
    Ok(n > 0)
}

/// What a fact fires: the enabled triggers of `kind` (with this segment or event name, when the
/// kind has one) that existed when the fact happened.
pub struct Fact<'a> {
    pub kind: &'a str,
    pub segment_id: &'a str,
    pub event_name: &'a str,
    pub client: Uuid,
    /// Makes the occurrence: "<trigger id>:<key>".
    pub key: &'a str,
    pub at: OffsetDateTime,
    /// Fires nothing when an import changed the client's facts at or after this time.
    pub unless_imported_since: Option<OffsetDateTime>,
}

/// Fires every trigger `fact` matches for its client; how many.
pub async fn fire(db: &impl GenericClient, tenant: &str, fact: &Fact<'_>) -> anyhow::Result<u64> {
    Ok(db
        .execute(
            "INSERT INTO firings (tenant_id, occurrence, client_id, trigger_id, fired_at) \
             SELECT tenant_id, trigger_id::text || ':' || $3, $4, trigger_id, $5 FROM triggers \
             WHERE tenant_id = $1 AND kind = $2 AND enabled AND deleted_at IS NULL AND created_at <= $5 \
               AND ($6 = '' OR segment_id = $6) AND ($7 = '' OR event_name = $7) \
               AND ($8::timestamptz IS NULL OR NOT EXISTS (SELECT 1 FROM contacts c \
                 WHERE c.tenant_id = $1 AND c.client_id = $4 AND c.imported_at >= $8)) \
             ON CONFLICT DO NOTHING",
            &[
                &tenant,
                &fact.kind,
                &fact.key,
                &fact.client,
                &fact.at,
                &fact.segment_id,
                &fact.event_name,
                &fact.unless_imported_since,
            ],
        )
        .await?)
}

/// A date-based trigger due a look: its tenant's zone with it.
pub struct DateBased {
    pub tenant: String,
    pub zone: String,
    pub row: Row,
}

/// Every enabled date-based trigger of every tenant.
pub async fn date_based(db: &impl GenericClient) -> anyhow::Result<Vec<DateBased>> {
    let cols = COLUMNS.split(", ").map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT {cols}, t.tenant_id, coalesce(z.time_zone, 'Europe/Vilnius') FROM triggers t \
         LEFT JOIN tenants z ON z.tenant_id = t.tenant_id \
         WHERE t.enabled AND t.deleted_at IS NULL \
           AND t.kind IN ('birthday', 'days_after_first_purchase', 'points_expiring', 'date')"
    );
    db.query(&sql, &[])
        .await?
        .iter()
        .map(|r| Ok(DateBased { tenant: r.get(8), zone: r.get(9), row: row(r)? }))
        .collect()
}

/// Which clients a date-based trigger picks on one day.
pub enum Pick {
    /// Birthdays on these "MM-DD" days.
    Birthdays(Vec<String>),
    /// First purchase (not imported) in [from, to).
    FirstPurchase(OffsetDateTime, OffsetDateTime),
    /// Points expiring in [from, to).
    Expiring(OffsetDateTime, OffsetDateTime),
    /// Every live client.
    Everyone,
}

/// Fires `trigger` for the clients `pick` chooses, marks `day` looked at; how many fired.
pub async fn sweep(
    db: &impl GenericClient,
    tenant: &str,
    trigger: Uuid,
    (pick, key): (&Pick, &str),
    day: Date,
    now: OffsetDateTime,
) -> anyhow::Result<u64> {
    let insert = "INSERT INTO firings (tenant_id, occurrence, client_id, trigger_id, fired_at) \
                  SELECT c.tenant_id, $2::uuid::text || ':' || $3, c.client_id, $2, $4 FROM contacts c \
                  LEFT JOIN shopping s ON s.tenant_id = c.tenant_id AND s.client_id = c.client_id \
                  WHERE c.tenant_id = $1 AND NOT c.deleted AND NOT c.erased";
    let fired = match pick {
        Pick::Birthdays(days) => {
            let sql = format!("{insert} AND to_char(c.birth_date, 'MM-DD') = ANY($5) ON CONFLICT DO NOTHING");
            db.execute(&sql, &[&tenant, &trigger, &key, &now, days]).await?
        }
        Pick::FirstPurchase(from, to) => {
            let sql = format!(
                "{insert} AND s.first_purchase_at >= $5 AND s.first_purchase_at < $6 AND NOT s.first_purchase_imported \
                 ON CONFLICT DO NOTHING"
            );
            db.execute(&sql, &[&tenant, &trigger, &key, &now, from, to]).await?
        }
        Pick::Expiring(from, to) => {
            let sql = format!(
                "{insert} AND s.next_expiry_at >= $5 AND s.next_expiry_at < $6 AND s.next_expiry_points > 0 \
                 ON CONFLICT DO NOTHING"
            );
            db.execute(&sql, &[&tenant, &trigger, &key, &now, from, to]).await?
        }
        Pick::Everyone => {
            let sql = format!("{insert} ON CONFLICT DO NOTHING");
            db.execute(&sql, &[&tenant, &trigger, &key, &now]).await?
        }
    };
    db.execute(
        "UPDATE triggers SET swept_on = $3 WHERE tenant_id = $1 AND trigger_id = $2",
        &[&tenant, &trigger, &day],
    )
    .await?;
    Ok(fired)
}

/// A firing waiting for its audience check.
pub struct Firing {
    pub tenant: String,
    pub occurrence: String,
    pub client: Uuid,
    pub trigger: Uuid,
}

/// Up to `limit` waiting firings, oldest first, locked for this transaction.
pub async fn take_firings(db: &impl GenericClient, limit: i64) -> anyhow::Result<Vec<Firing>> {
    let rows = db
        .query(
            "SELECT tenant_id, occurrence, client_id, trigger_id FROM firings ORDER BY fired_at LIMIT $1 \
             FOR UPDATE SKIP LOCKED",
            &[&limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Firing { tenant: r.get(0), occurrence: r.get(1), client: r.get(2), trigger: r.get(3) })
        .collect())
}

/// Removes firings handled (sent on as deliveries, or left out).
pub async fn drop_firings(db: &impl GenericClient, tenant: &str, handled: &[(String, Uuid)]) -> anyhow::Result<()> {
    let (occurrences, clients): (Vec<String>, Vec<Uuid>) = handled.iter().cloned().unzip();
    db.execute(
        "DELETE FROM firings f USING unnest($2::text[], $3::uuid[]) AS h(o, c) \
         WHERE f.tenant_id = $1 AND f.occurrence = h.o AND f.client_id = h.c",
        &[&tenant, &occurrences, &clients],
    )
    .await?;
    Ok(())
}

/// Queues the trigger's message for each (occurrence, client), with the content it sends; one of
/// an occurrence already queued is skipped. How many were queued.
pub async fn queue(
    db: &impl GenericClient,
    tenant: &str,
    (trigger, channel, content): (Uuid, &str, &[u8]),
    recipients: &[(String, Uuid)],
    now: OffsetDateTime,
) -> anyhow::Result<u64> {
    let ids: Vec<Uuid> = recipients.iter().map(|_| Uuid::now_v7()).collect();
    let (occurrences, clients): (Vec<String>, Vec<Uuid>) = recipients.iter().cloned().unzip();
    Ok(db
        .execute(
            "INSERT INTO deliveries (tenant_id, delivery_id, occurrence, trigger_id, client_id, channel, content, \
               queued_at, updated_at) \
             SELECT $1, d, o, $2, c, $3, $4, $5, $5 FROM unnest($6::uuid[], $7::text[], $8::uuid[]) AS t(d, o, c) \
             ON CONFLICT (tenant_id, occurrence, client_id) DO NOTHING",
            &[&tenant, &trigger, &channel, &content, &now, &ids, &occurrences, &clients],
        )
        .await?)
}
