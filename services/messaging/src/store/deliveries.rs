//! Deliveries (ME-6): one row per recipient of a run, from the audience snapshot to the provider's
//! answer, engagement beside transport. Unique per occurrence and client.
use super::GenericClient;
use loyalty_platform::TenantId;
use std::collections::HashMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// Adds `clients` to run `run` as queued deliveries; a client already in the run is skipped (a
/// retried start adds nobody twice). Returns how many were added.
pub async fn add_recipients(
    db: &impl GenericClient,
    tenant: &TenantId,
    (run, campaign, channel): (Uuid, Uuid, &str),
    clients: &[Uuid],
    now: OffsetDateTime,
) -> anyhow::Result<u64> {
    let ids: Vec<Uuid> = clients.iter().map(|_| Uuid::now_v7()).collect();
    Ok(db
        .execute(
            "INSERT INTO deliveries (tenant_id, delivery_id, occurrence, run_id, campaign_id, client_id, channel, queued_at, updated_at) \
             SELECT $1, d, $2::uuid::text, $2::uuid, $3, c, $4, $5, $5 FROM unnest($6::uuid[], $7::uuid[]) AS t(d, c) \
             ON CONFLICT (tenant_id, occurrence, client_id) DO NOTHING",
            &[&tenant.as_str(), &run, &campaign, &channel, &now, &ids, &clients],
        )
        .await?)
}

/// A recipient taken for sending.
pub struct Claimed {
    pub delivery_id: Uuid,
    pub client_id: Uuid,
    pub attempts: i32,
}

/// Up to `limit` queued recipients of `run` whose turn has come, in delivery order after `after`.
/// Only the sender that holds the lead claims, so no row lock is taken (and the row's later
/// updates stay HOT).
pub async fn claim(
    db: &impl GenericClient,
    tenant: &str,
    (run, after): (Uuid, Option<Uuid>),
    limit: i64,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<Claimed>> {
    let rows = db
        .query(
            "SELECT delivery_id, client_id, attempts FROM deliveries \
             WHERE tenant_id = $1 AND run_id = $2 AND ($5::uuid IS NULL OR delivery_id > $5) \
               AND transport = 'queued' AND (retry_at IS NULL OR retry_at <= $4) \
             ORDER BY delivery_id LIMIT $3",
            &[&tenant, &run, &limit, &now, &after],
        )
        .await?;
    Ok(rows.iter().map(|r| Claimed { delivery_id: r.get(0), client_id: r.get(1), attempts: r.get(2) }).collect())
}

pub async fn exclude(
    db: &impl GenericClient,
    tenant: &str,
    ids: &[Uuid],
    reasons: &[&str],
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    db.execute(
        "UPDATE deliveries d SET transport = 'excluded', excluded_reason = t.reason, updated_at = $4 \
         FROM unnest($2::uuid[], $3::text[]) AS t(id, reason) WHERE d.tenant_id = $1 AND d.delivery_id = t.id",
        &[&tenant, &ids, &reasons, &now],
    )
    .await?;
    Ok(())
}

/// The intent, committed before anything goes to the provider: the address and the message id.
/// A purchase until `conversion_until` will count as the message's conversion.
pub async fn mark_sending(
    db: &impl GenericClient,
    tenant: &str,
    (ids, addresses, message_ids): (&[Uuid], &[String], &[String]),
    now: OffsetDateTime,
    conversion_until: OffsetDateTime,
) -> anyhow::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    db.execute(
        "UPDATE deliveries d SET transport = 'sending', address = t.address, provider_message_id = t.message_id, \
           attempts = d.attempts + 1, updated_at = $5, conversion_until = $6 \
         FROM unnest($2::uuid[], $3::text[], $4::text[]) AS t(id, address, message_id) \
         WHERE d.tenant_id = $1 AND d.delivery_id = t.id",
        &[&tenant, &ids, &addresses, &message_ids, &now, &conversion_until],
    )
    .await?;
    Ok(())
}

/// The provider accepted these, under its ids.
pub async fn mark_sent(
    db: &impl GenericClient,
    tenant: &str,
    accepted: &[(Uuid, String)],
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    if accepted.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = accepted.iter().map(|a| a.0).collect();
    let provider_ids: Vec<&str> = accepted.iter().map(|a| a.1.as_str()).collect();
    let sql = format!(
        "UPDATE deliveries d SET transport = 'sent', sent_at = $4, retry_at = NULL, updated_at = $4, \
           provider_message_id = t.provider_id \
         FROM unnest($2::uuid[], $3::text[]) AS t(id, provider_id) \
         WHERE d.tenant_id = $1 AND d.delivery_id = t.id AND d.transport = 'sending' RETURNING {CHANGED}"
    );
    let rows = db.query(&sql, &[&tenant, &ids, &provider_ids, &now]).await?;
    publish(db, tenant, &rows, None).await
}

/// The wait before a refused message's first retry; each further retry waits twice as long as the
/// one before, up to [`LONGEST_WAIT_SECONDS`].
const FIRST_WAIT_SECONDS: f64 = 5.0;
const LONGEST_WAIT_SECONDS: f64 = 900.0;

/// The provider refused these: back in the queue with an exponential back-off (5 s after the
/// first attempt, 10 s after the second, 20 s, ... at most 15 minutes), or failed once out of
/// attempts (`max_attempts` 0: at once).
pub async fn mark_refused(
    db: &impl GenericClient,
    tenant: &str,
    refused: &[(Uuid, String)],
    max_attempts: i32,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    if refused.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = refused.iter().map(|r| r.0).collect();
    let reasons: Vec<&str> = refused.iter().map(|r| r.1.as_str()).collect();
    let sql = format!(
        "UPDATE deliveries d SET failure_reason = t.reason, updated_at = $4::timestamptz, \
           transport = CASE WHEN d.attempts >= $5::int THEN 'failed' ELSE 'queued' END, \
           failed_at = CASE WHEN d.attempts >= $5::int THEN $4::timestamptz END, \
           retry_at = CASE WHEN d.attempts >= $5::int THEN NULL ELSE $4::timestamptz + interval '1 second' \
             * least($6::float8 * power(2, greatest(d.attempts - 1, 0)), $7::float8) END \
         FROM unnest($2::uuid[], $3::text[]) AS t(id, reason) \
         WHERE d.tenant_id = $1 AND d.delivery_id = t.id AND d.transport = 'sending' RETURNING {CHANGED}"
    );
    let waits = [&FIRST_WAIT_SECONDS, &LONGEST_WAIT_SECONDS];
    let rows = db.query(&sql, &[&tenant, &ids, &reasons, &now, &max_attempts, waits[0], waits[1]]).await?;
    // Those out of attempts failed (the others wait in the queue, nothing to tell yet).
    let failed: Vec<tokio_postgres::Row> = rows.into_iter().filter(|r| r.get::<_, &str>(7) == "failed").collect();
    publish(db, tenant, &failed, None).await
}

/// A queued message that cannot be sent at all (its content no longer checks): failed with
/// `reason`, never taken again.
pub async fn fail_unsent(
    db: &impl GenericClient,
    tenant: &str,
    delivery: Uuid,
    reason: &str,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    let sql = format!(
        "UPDATE deliveries d SET transport = 'failed', failed_at = $3, failure_reason = $4, updated_at = $3 \
         WHERE d.tenant_id = $1 AND d.delivery_id = $2 AND d.transport = 'queued' RETURNING {CHANGED}"
    );
    let rows = db.query(&sql, &[&tenant, &delivery, &now, &reason]).await?;
    publish(db, tenant, &rows, None).await
}

/// After a sender stopped mid-batch: what the journal says the provider accepted is sent; every
/// other message left in the middle goes back to the queue (it never reached the provider).
pub async fn recover(
    db: &impl GenericClient,
    accepted: &[(String, Uuid, OffsetDateTime)],
) -> anyhow::Result<(u64, u64)> {
    let tenants: Vec<&str> = accepted.iter().map(|a| a.0.as_str()).collect();
    let ids: Vec<Uuid> = accepted.iter().map(|a| a.1).collect();
    let times: Vec<OffsetDateTime> = accepted.iter().map(|a| a.2).collect();
    let sql = format!(
        "UPDATE deliveries d SET transport = 'sent', sent_at = t.at, updated_at = t.at \
         FROM unnest($1::text[], $2::uuid[], $3::timestamptz[]) AS t(tenant, id, at) \
         WHERE d.tenant_id = t.tenant AND d.delivery_id = t.id AND d.transport = 'sending' RETURNING {CHANGED}, d.tenant_id"
    );
    let rows = db.query(&sql, &[&tenants, &ids, &times]).await?;
    let sent = rows.len() as u64;
    let mut by_tenant: std::collections::BTreeMap<String, Vec<tokio_postgres::Row>> = Default::default();
    for r in rows {
        by_tenant.entry(r.get(8)).or_default().push(r);
    }
    for (tenant, rows) in by_tenant {
        publish(db, &tenant, &rows, None).await?;
    }
    let requeued = db
        .execute("UPDATE deliveries SET transport = 'queued', attempts = greatest(attempts - 1, 0) WHERE transport = 'sending'", &[])
        .await?;
    Ok((sent, requeued))
}

/// Messages of `run` not yet settled (queued or being sent).
pub async fn unsettled(db: &impl GenericClient, tenant: &str, run: Uuid) -> anyhow::Result<i64> {
    let row = db
        .query_one(
            "SELECT count(*) FROM deliveries WHERE tenant_id = $1 AND run_id = $2 AND transport IN ('queued', 'sending')",
            &[&tenant, &run],
        )
        .await?;
    Ok(row.get(0))
}

/// A purchase by `client` at `at`: every message they had whose conversion window holds it.
pub async fn convert(db: &impl GenericClient, tenant: &str, client: Uuid, at: OffsetDateTime) -> anyhow::Result<()> {
    let sql = format!(
        "UPDATE deliveries d SET converted_at = $3, updated_at = now() \
         WHERE d.tenant_id = $1 AND d.client_id = $2 AND d.converted_at IS NULL AND d.sent_at <= $3 \
           AND d.conversion_until >= $3 RETURNING {CHANGED}"
    );
    let rows = db.query(&sql, &[&tenant, &client, &at]).await?;
    publish(db, tenant, &rows, Some("converted")).await
}

/// A campaign's figures over all its runs.
#[derive(Debug, Default)]
pub struct Totals {
    pub audience: i64,
    pub excluded: Vec<(String, i64)>,
    pub queued: i64,
    pub sent: i64,
    pub delivered: i64,
    pub failed: i64,
    pub opened: i64,
    pub clicked: i64,
    pub converted: i64,
    pub unsubscribed: i64,
}

/// Whose deliveries a total counts.
#[derive(Clone, Copy, Debug)]
pub enum Of {
    Campaign(Uuid),
    Trigger(Uuid),
}

pub async fn totals(db: &impl GenericClient, tenant: &TenantId, of: Of) -> anyhow::Result<Totals> {
    let (column, id) = match of {
        Of::Campaign(id) => ("campaign_id", id),
        Of::Trigger(id) => ("trigger_id", id),
    };
    Ok(totals_by(db, tenant, column, &[id]).await?.remove(&id).unwrap_or_default())
}

/// Each trigger's totals, in two queries for all of them.
pub async fn triggers_totals(
    db: &impl GenericClient,
    tenant: &TenantId,
    triggers: &[Uuid],
) -> anyhow::Result<HashMap<Uuid, Totals>> {
    totals_by(db, tenant, "trigger_id", triggers).await
}

/// The totals of the deliveries whose `column` (campaign_id, trigger_id) is one of `ids`.
async fn totals_by(
    db: &impl GenericClient,
    tenant: &TenantId,
    column: &str,
    ids: &[Uuid],
) -> anyhow::Result<HashMap<Uuid, Totals>> {
    let sql = format!(
        "SELECT {column}, count(*), \
           count(*) FILTER (WHERE transport IN ('queued', 'sending')), \
           count(*) FILTER (WHERE transport IN ('sent', 'delivered')), \
           count(*) FILTER (WHERE transport = 'delivered'), \
           count(*) FILTER (WHERE transport = 'failed'), \
           count(opened_at), count(clicked_at), count(converted_at), count(unsubscribed_at) \
         FROM deliveries WHERE tenant_id = $1 AND {column} = ANY($2) GROUP BY 1"
    );
    let mut all: HashMap<Uuid, Totals> = HashMap::new();
    for r in db.query(&sql, &[&tenant.as_str(), &ids]).await? {
        let t = Totals {
            audience: r.get(1),
            excluded: Vec::new(),
            queued: r.get(2),
            sent: r.get(3),
            delivered: r.get(4),
            failed: r.get(5),
            opened: r.get(6),
            clicked: r.get(7),
            converted: r.get(8),
            unsubscribed: r.get(9),
        };
        all.insert(r.get(0), t);
    }
    let sql = format!(
        "SELECT {column}, excluded_reason, count(*) FROM deliveries WHERE tenant_id = $1 AND {column} = ANY($2) \
         AND transport = 'excluded' GROUP BY 1, 2 ORDER BY 1, 2"
    );
    for r in db.query(&sql, &[&tenant.as_str(), &ids]).await? {
        all.entry(r.get(0)).or_default().excluded.push((r.get(1), r.get(2)));
    }
    Ok(all)
}

/// One delivery as listed.
pub struct Listed {
    pub id: Uuid,
    pub client_id: Uuid,
    pub campaign_id: Option<Uuid>,
    pub trigger_id: Option<Uuid>,
    pub run_id: Option<Uuid>,
    pub channel: String,
    pub transport: String,
    pub address: String,
    pub provider_message_id: String,
    pub failure_reason: String,
    pub attempts: i32,
    pub times: [Option<OffsetDateTime>; 9],
}

/// Which deliveries to list.
#[derive(Default)]
pub struct Query {
    pub campaign: Option<Uuid>,
    pub trigger: Option<Uuid>,
    pub client: Option<Uuid>,
    pub from: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    /// Only clients these stores see (a scoped token), or everyone.
    pub stores: Option<Vec<String>>,
    /// Just this delivery.
    pub delivery: Option<Uuid>,
    /// Only these statuses (the furthest step: "queued", "sent", "opened", ...), or all when empty.
    pub statuses: Vec<String>,
}

pub async fn list(
    db: &impl GenericClient,
    tenant: &TenantId,
    q: &Query,
    offset: i64,
    limit: i64,
) -> anyhow::Result<(Vec<Listed>, i64)> {
    let rows = db
        .query(
            "SELECT d.delivery_id, d.client_id, d.campaign_id, d.trigger_id, d.run_id, d.channel, d.transport, d.address, \
               d.provider_message_id, d.failure_reason, d.attempts, d.queued_at, d.sent_at, d.updated_at, d.delivered_at, \
               d.failed_at, d.opened_at, d.clicked_at, d.converted_at, d.unsubscribed_at, count(*) OVER () \
             FROM deliveries d LEFT JOIN contacts c USING (tenant_id, client_id) \
               LEFT JOIN shopping s USING (tenant_id, client_id) \
             WHERE d.tenant_id = $1 AND d.transport <> 'excluded' \
               AND ($2::uuid IS NULL OR d.campaign_id = $2) AND ($3::uuid IS NULL OR d.trigger_id = $3) \
               AND ($4::uuid IS NULL OR d.client_id = $4) \
               AND ($5::timestamptz IS NULL OR d.queued_at >= $5) AND ($6::timestamptz IS NULL OR d.queued_at < $6) \
               AND ($7::text[] IS NULL OR c.registration_store_id = ANY($7) OR s.purchase_store_ids && $7) \
               AND ($10::uuid IS NULL OR d.delivery_id = $10) \
               AND (cardinality($11::text[]) = 0 OR CASE \
                 WHEN d.unsubscribed_at IS NOT NULL THEN 'unsubscribed' WHEN d.converted_at IS NOT NULL THEN 'converted' \
                 WHEN d.clicked_at IS NOT NULL THEN 'clicked' WHEN d.opened_at IS NOT NULL THEN 'opened' \
                 WHEN d.transport IN ('sent', 'delivered', 'failed') THEN d.transport ELSE 'queued' END = ANY($11)) \
             ORDER BY d.queued_at DESC, d.delivery_id OFFSET $8 LIMIT $9",
            &[&tenant.as_str(), &q.campaign, &q.trigger, &q.client, &q.from, &q.until, &q.stores, &offset, &limit, &q.delivery, &q.statuses],
        )
        .await?;
    let total = rows.first().map(|r| r.get::<_, i64>(20)).unwrap_or(0);
    let listed = rows
        .iter()
        .map(|r| Listed {
            id: r.get(0),
            client_id: r.get(1),
            campaign_id: r.get(2),
            trigger_id: r.get(3),
            run_id: r.get(4),
            channel: r.get(5),
            transport: r.get(6),
            address: r.get(7),
            provider_message_id: r.get(8),
            failure_reason: r.get(9),
            attempts: r.get(10),
            times: std::array::from_fn(|i| r.get(11 + i)),
        })
        .collect();
    Ok((listed, total))
}

/// What the tracking endpoint needs of one delivery.
pub struct Found {
    pub client_id: Uuid,
    pub channel: String,
    pub run_id: Option<Uuid>,
    pub unsubscribed: bool,
    /// The message's own content (a notice's, a trigger's), encoded.
    pub content: Option<Vec<u8>>,
}

pub async fn find(db: &impl GenericClient, tenant: &str, delivery: Uuid) -> anyhow::Result<Option<Found>> {
    let row = db
        .query_opt(
            "SELECT client_id, channel, run_id, unsubscribed_at IS NOT NULL, content FROM deliveries \
             WHERE tenant_id = $1 AND delivery_id = $2",
            &[&tenant, &delivery],
        )
        .await?;
    Ok(row.map(|r| Found {
        client_id: r.get(0),
        channel: r.get(1),
        run_id: r.get(2),
        unsubscribed: r.get(3),
        content: r.get(4),
    }))
}

/// Engagement (`what`: opened, clicked, unsubscribed), each kept at its first time; a click or an
/// unsubscribe from the message also means it was opened. Transport is never touched.
pub async fn engaged(
    db: &impl GenericClient,
    tenant: &str,
    delivery: Uuid,
    what: &str,
    at: OffsetDateTime,
) -> anyhow::Result<()> {
    let (set, first) = match what {
        "opened" => ("opened_at = coalesce(opened_at, $3)", "opened_at"),
        "clicked" => ("clicked_at = coalesce(clicked_at, $3), opened_at = coalesce(opened_at, $3)", "clicked_at"),
        "unsubscribed" => {
            ("unsubscribed_at = coalesce(unsubscribed_at, $3), opened_at = coalesce(opened_at, $3)", "unsubscribed_at")
        }
        other => anyhow::bail!("{other:?} is not engagement"),
    };
    let sql = format!(
        "UPDATE deliveries d SET {set}, updated_at = $3 WHERE d.tenant_id = $1 AND d.delivery_id = $2 \
         AND d.{first} IS NULL RETURNING {CHANGED}"
    );
    let rows = db.query(&sql, &[&tenant, &delivery, &at]).await?;
    publish(db, tenant, &rows, Some(what)).await
}

/// A notice to send: its own content, for one client.
pub struct Notice {
    pub tenant: String,
    pub delivery_id: Uuid,
    pub client_id: Uuid,
    pub channel: String,
    pub content: Vec<u8>,
    /// Set for a trigger's message: marketing, with the campaign rules.
    pub trigger_id: Option<Uuid>,
}

/// Queues a notice of `occurrence` (an idempotency key, the event that asked for it) for `client`;
/// the delivery's id, the one already queued when the same occurrence came before.
pub async fn add_notice(
    db: &impl GenericClient,
    tenant: &str,
    (occurrence, client, channel): (&str, Uuid, &str),
    content: &[u8],
    now: OffsetDateTime,
) -> anyhow::Result<Uuid> {
    db.execute(
        "INSERT INTO deliveries (tenant_id, delivery_id, occurrence, client_id, channel, content, queued_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (tenant_id, occurrence, client_id) DO NOTHING",
        &[&tenant, &Uuid::now_v7(), &occurrence, &client, &channel, &content, &now],
    )
    .await?;
    let row = db
        .query_one(
            "SELECT delivery_id FROM deliveries WHERE tenant_id = $1 AND occurrence = $2 AND client_id = $3",
            &[&tenant, &occurrence, &client],
        )
        .await?;
    Ok(row.get(0))
}

/// Up to `limit` queued notices of every tenant whose turn has come (a notice not sent within a
/// week is no longer news).
pub async fn claim_notices(db: &impl GenericClient, limit: i64, now: OffsetDateTime) -> anyhow::Result<Vec<Notice>> {
    let rows = db
        .query(
            "SELECT tenant_id, delivery_id, client_id, channel, coalesce(content, ''), trigger_id FROM deliveries \
             WHERE run_id IS NULL AND queued_at > $2::timestamptz - interval '7 days' \
               AND transport = 'queued' AND (retry_at IS NULL OR retry_at <= $2) \
             ORDER BY queued_at LIMIT $1",
            &[&limit, &now],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Notice {
            tenant: r.get(0),
            delivery_id: r.get(1),
            client_id: r.get(2),
            channel: r.get(3),
            content: r.get(4),
            trigger_id: r.get(5),
        })
        .collect())
}

/// Intents committed for a run that then paused: back to the queue, their attempt not counted.
pub async fn requeue(db: &impl GenericClient, tenant: &str, ids: &[Uuid]) -> anyhow::Result<()> {
    db.execute(
        "UPDATE deliveries SET transport = 'queued', attempts = greatest(attempts - 1, 0) \
         WHERE tenant_id = $1 AND delivery_id = ANY($2) AND transport = 'sending'",
        &[&tenant, &ids],
    )
    .await?;
    Ok(())
}

/// A cancelled run's recipients not yet sent to: left out as "cancelled".
pub async fn cancel_queued(
    db: &impl GenericClient,
    tenant: &str,
    run: Uuid,
    now: OffsetDateTime,
) -> anyhow::Result<()> {
    db.execute(
        "UPDATE deliveries SET transport = 'excluded', excluded_reason = 'cancelled', updated_at = $3 \
         WHERE tenant_id = $1 AND run_id = $2 AND transport = 'queued'",
        &[&tenant, &run, &now],
    )
    .await?;
    Ok(())
}

/// The columns a `DeliveryChanged` is made of, in the order [`changes`] reads them: every update
/// that moves a delivery returns them, so its event needs no second read of the row.
const CHANGED: &str =
    "d.delivery_id, d.client_id, d.campaign_id, d.trigger_id, d.channel, d.failure_reason, d.sent_at, d.transport";

/// `DeliveryChanged` for each row of [`CHANGED`] that is a campaign's or a trigger's message (a
/// transactional notice is not a mailing): the engagement `step` it just reached, or (None) its
/// transport state. The segment service's "received / opened / clicked a mailing".
fn changes(tenant: &str, rows: &[tokio_postgres::Row], step: Option<&str>) -> Vec<loyalty_api::events::v1::Event> {
    use loyalty_api::events::v1::{DeliveryChanged, event::Payload};
    let system = loyalty_api::common::v1::Actor {
        kind: loyalty_api::common::v1::actor::Kind::System as i32,
        ..Default::default()
    };
    rows.iter()
        .filter_map(|r| {
            let (campaign, trigger): (Option<Uuid>, Option<Uuid>) = (r.get(2), r.get(3));
            if campaign.is_none() && trigger.is_none() {
                return None;
            }
            let channel: String = r.get(4);
            let client: Uuid = r.get(1);
            let payload = DeliveryChanged {
                delivery_id: r.get::<_, Uuid>(0).to_string(),
                client_id: client.to_string(),
                campaign_id: campaign.map(|c| c.to_string()).unwrap_or_default(),
                trigger_id: trigger.map(|t| t.to_string()).unwrap_or_default(),
                channel: crate::domain::rules::Channel::parse(&channel).map(|c| c.contract()).unwrap_or(0),
                status: step.map(str::to_string).unwrap_or_else(|| r.get(7)),
                failure_reason: r.get(5),
                manual: campaign.is_some(),
                sent_at: r.get::<_, Option<OffsetDateTime>>(6).map(loyalty_platform::convert::to_timestamp),
            };
            let subject = client.to_string();
            Some(loyalty_platform::outbox::event(tenant, system.clone(), &subject, Payload::DeliveryChanged(payload)))
        })
        .collect()
}

/// Publishes [`changes`] of `rows` (read by an update's `RETURNING {CHANGED}`).
async fn publish(
    db: &impl GenericClient,
    tenant: &str,
    rows: &[tokio_postgres::Row],
    step: Option<&str>,
) -> anyhow::Result<()> {
    loyalty_platform::outbox::publish_many(db, &changes(tenant, rows, step)).await
}

/// The deliveries (at most two: enough to tell an ambiguous id) whose provider answered with
/// `provider_id`, on `channel` when it is given.
pub async fn by_provider_id(
    db: &impl GenericClient,
    tenant: &str,
    provider_id: &str,
    channel: Option<&str>,
) -> anyhow::Result<Vec<Uuid>> {
    let rows = db
        .query(
            "SELECT delivery_id FROM deliveries WHERE provider_message_id = $2 AND tenant_id = $1 \
               AND ($3::text IS NULL OR channel = $3) LIMIT 2",
            &[&tenant, &provider_id, &channel],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// A provider's receipt: a sent message was delivered, or failed with `reason`. Only a sent
/// message moves (a receipt repeated, or late after another, changes nothing); whether it moved.
pub async fn receipt(
    db: &impl GenericClient,
    tenant: &str,
    delivery: Uuid,
    failed: Option<&str>,
    now: OffsetDateTime,
) -> anyhow::Result<bool> {
    let sql = format!(
        "UPDATE deliveries d SET transport = CASE WHEN $4::text IS NULL THEN 'delivered' ELSE 'failed' END, \
           delivered_at = CASE WHEN $4 IS NULL THEN $3::timestamptz END, \
           failed_at = CASE WHEN $4 IS NOT NULL THEN $3::timestamptz END, \
           failure_reason = coalesce($4, d.failure_reason), updated_at = $3 \
         WHERE d.tenant_id = $1 AND d.delivery_id = $2 AND d.transport = 'sent' RETURNING {CHANGED}"
    );
    let rows = db.query(&sql, &[&tenant, &delivery, &now, &failed]).await?;
    publish(db, tenant, &rows, None).await?;
    Ok(!rows.is_empty())
}
