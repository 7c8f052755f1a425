//! The durable read model: the latest event of every key (see the migration), written by the feed
//! consumers and read back in `seq` order by every replica.
//!
//! Some keys keep history, for the dashboard's past days: every consent change
//! (`consent:<client>:<channel>:<event>`), a client's last balance of each month
//! (`balance:<client>:<yyyy-mm>`, months in UTC), and the first time a client was identified or
//! not (`identified:<client>:<0|1>`, a trimmed copy of the profile event, never replaced).
use anyhow::Context;
use deadpool_postgres::GenericClient;
use loyalty_api::events::v1::{Event, event::Payload};
use loyalty_platform::TenantId;
use prost::Message;
use uuid::Uuid;

/// The lock every writer takes, so `seq` follows commit order and no follower skips a row.
const WRITERS: i64 = 8_131_517;

/// What an event is about: its key, and the client it belongs to. `None` for events a filter does
/// not use.
fn key_of(event: &Event, payload: &Payload) -> Option<(String, Option<Uuid>)> {
    let client = |id: &str| Uuid::parse_str(id).ok();
    let event_id = &event.event_id;
    let month = utc_month(event);
    Some(match payload {
        Payload::ClientTagsChanged(t) => (format!("tags:{}", t.client_id), client(&t.client_id)),
        Payload::ClientBlocked(b) => (format!("status:{}", b.client_id), client(&b.client_id)),
        Payload::ClientUnblocked(u) => (format!("status:{}", u.client_id), client(&u.client_id)),
        Payload::ConsentChanged(c) => {
            let what = if c.agreement.is_empty() { c.channel.to_string() } else { c.agreement.clone() };
            (format!("consent:{}:{what}:{}", c.client_id, event_id), client(&c.client_id))
        }
        Payload::CardChanged(c) => (format!("card:{}", c.card_id), client(&c.client_id)),
        Payload::PurchaseRecorded(p) => (format!("purchase:{}", p.purchase_id), client(&p.client_id)),
        Payload::PurchaseReturned(r) => (format!("return:{}", r.return_id), client(&r.client_id)),
        Payload::BalanceChanged(b) => (format!("balance:{}:{month}", b.client_id), client(&b.client_id)),
        Payload::LevelChanged(l) => (format!("level:{}", l.client_id), client(&l.client_id)),
        Payload::TagChanged(t) => (format!("tag:{}", t.tag_id), None),
        // One fact per step a mailing reached (sent, opened, clicked, ...).
        Payload::DeliveryChanged(d) => (format!("delivery:{}:{}", d.delivery_id, d.status), client(&d.client_id)),
        _ => return None,
    })
}

/// Starts a transaction of the feed consumers: the writers' lock (so `seq` follows commit order),
/// and no wait for the disk at commit. The facts and the consumer's cursor commit together, so a
/// commit Postgres loses in a crash loses both and the feed delivers the events again; the consumer
/// keeps up with a busy ledger instead of waiting on one flush per batch.
pub async fn begin_writing(tx: &impl GenericClient) -> anyhow::Result<()> {
    tx.batch_execute("SET LOCAL synchronous_commit = off").await.context("relaxing the commit")?;
    hold_writers(tx).await
}

/// Keeps `event` in the read model, in a transaction begun with [`begin_writing`] (or holding the
/// writers' lock, as a rebuild does).
pub async fn record(tx: &impl GenericClient, event: &Event) -> anyhow::Result<()> {
    let Some(payload) = &event.payload else { return Ok(()) };
    let tenant = TenantId::trusted(&event.tenant_id);
    match payload {
        Payload::ClientErased(e) => gone(tx, &tenant, &e.client_id, event).await,
        Payload::ClientDeleted(d) => gone(tx, &tenant, &d.client_id, event).await,
        Payload::ClientsMerged(m) => {
            let survivor = Uuid::parse_str(&m.survivor_client_id).context("a merge without a survivor id")?;
            for merged in m.merged_client_ids.iter().filter_map(|i| Uuid::parse_str(i).ok()) {
                tx.execute(
                    "INSERT INTO merges (tenant_id, merged, survivor) VALUES ($1, $2, $3)
                     ON CONFLICT (tenant_id, merged) DO UPDATE SET survivor = $3",
                    &[&tenant, &merged, &survivor],
                )
                .await?;
                tx.execute(
                    "UPDATE merges SET survivor = $3 WHERE tenant_id = $1 AND survivor = $2",
                    &[&tenant, &merged, &survivor],
                )
                .await?;
            }
            put(tx, &tenant, &format!("merge:{survivor}:{}", event.event_id), Some(survivor), event).await
        }
        Payload::TenantSettingsChanged(s) => {
            tx.execute(
                "INSERT INTO tenants (tenant_id, time_zone, phone_region) VALUES ($1, $2, $3)
                 ON CONFLICT (tenant_id) DO UPDATE SET time_zone = $2, phone_region = $3",
                &[&tenant, &s.time_zone, &s.default_phone_region],
            )
            .await
            .context("keeping the tenant's settings")?;
            put(tx, &tenant, "settings", None, event).await
        }
        Payload::ClientUpserted(c) => {
            let client = Uuid::parse_str(&c.client_id).ok();
            first_identification(tx, &tenant, c, event).await?;
            put(tx, &tenant, &format!("client:{}", c.client_id), client, event).await
        }
        other => match key_of(event, other) {
            Some((key, client)) => put(tx, &tenant, &key, client, event).await,
            None => Ok(()),
        },
    }
}

/// A fact kept by a plain upsert of its key, waiting to be written with others.
pub struct Put {
    tenant: String,
    key: String,
    client: Option<Uuid>,
    payload: Vec<u8>,
}

/// The fact `event` is kept as, when a plain upsert of its key keeps it ([`key_of`]); `None` for
/// events that need statements of their own (erasures, merges, settings, profiles) or that no
/// filter uses.
pub fn plain(event: &Event) -> Option<Put> {
    let (key, client) = key_of(event, event.payload.as_ref()?)?;
    Some(Put { tenant: event.tenant_id.clone(), key, client, payload: event.encode_to_vec() })
}

/// Writes `puts` in one statement, as [`record`] would one by one: a key written twice keeps the
/// later event, and the facts take sequence numbers in the order they came.
pub async fn put_many(tx: &impl GenericClient, puts: &mut Vec<Put>) -> anyhow::Result<()> {
    if puts.is_empty() {
        return Ok(());
    }
    let mut seen = std::collections::HashSet::new();
    let mut latest: Vec<Put> =
        puts.drain(..).rev().filter(|p| seen.insert((p.tenant.clone(), p.key.clone()))).collect();
    latest.reverse();
    let n = latest.len() as i64;
    let mut seqs: Vec<i64> = tx
        .query("SELECT nextval('facts_seq') FROM generate_series(1, $1::bigint)", &[&n])
        .await
        .context("numbering the facts")?
        .iter()
        .map(|r| r.get(0))
        .collect();
    seqs.sort_unstable();
    let tenants: Vec<&str> = latest.iter().map(|p| p.tenant.as_str()).collect();
    let keys: Vec<&str> = latest.iter().map(|p| p.key.as_str()).collect();
    let clients: Vec<Option<Uuid>> = latest.iter().map(|p| p.client).collect();
    let payloads: Vec<&[u8]> = latest.iter().map(|p| p.payload.as_slice()).collect();
    tx.execute(
        "INSERT INTO facts (tenant_id, key, seq, client_id, payload)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::uuid[], $5::bytea[])
         ON CONFLICT (tenant_id, key) DO UPDATE SET seq = excluded.seq, client_id = excluded.client_id, payload = excluded.payload",
        &[&tenants, &keys, &seqs, &clients, &payloads],
    )
    .await
    .context("keeping a batch of facts")?;
    Ok(())
}

/// The UTC month of an event ("2026-03"), the key of a client's balance of that month.
fn utc_month(event: &Event) -> String {
    let at = event.occurred_at.as_ref().and_then(loyalty_platform::convert::from_timestamp);
    at.map(|t| format!("{:04}-{:02}", t.year(), u8::from(t.month()))).unwrap_or_default()
}

/// Keeps the first profile event of each identification state of the client, trimmed to what
/// the identification history needs (a later profile event replaces the rest of the facts).
async fn first_identification(
    tx: &impl GenericClient,
    tenant: &TenantId,
    c: &loyalty_api::events::v1::ClientUpserted,
    event: &Event,
) -> anyhow::Result<()> {
    let trimmed = loyalty_api::events::v1::ClientUpserted {
        client_id: c.client_id.clone(),
        identified: c.identified,
        registered_at: c.registered_at,
        updated_at: c.updated_at,
        changed_fields: vec![crate::domain::history::IDENTIFICATION_COPY.into()],
        ..Default::default()
    };
    let copy = Event { payload: Some(Payload::ClientUpserted(trimmed)), ..event.clone() };
    let key = format!("identified:{}:{}", c.client_id, u8::from(c.identified));
    tx.execute(
        "INSERT INTO facts (tenant_id, key, seq, client_id, payload) VALUES ($1, $2, nextval('facts_seq'), $3, $4)
         ON CONFLICT (tenant_id, key) DO NOTHING",
        &[tenant, &key, &Uuid::parse_str(&c.client_id).ok(), &copy.encode_to_vec()],
    )
    .await
    .context("keeping when the client was first identified")?;
    Ok(())
}

async fn put(
    tx: &impl GenericClient,
    tenant: &TenantId,
    key: &str,
    client: Option<Uuid>,
    event: &Event,
) -> anyhow::Result<()> {
    tx.execute(
        "INSERT INTO facts (tenant_id, key, seq, client_id, payload) VALUES ($1, $2, nextval('facts_seq'), $3, $4)
         ON CONFLICT (tenant_id, key) DO UPDATE SET seq = excluded.seq, client_id = excluded.client_id, payload = excluded.payload",
        &[tenant, &key, &client, &event.encode_to_vec()],
    )
    .await
    .with_context(|| format!("keeping the fact {key}"))?;
    Ok(())
}

/// A client deleted or erased: every fact of theirs, and of the clients merged into them, goes;
/// a tombstone tells the replicas to forget them.
async fn gone(tx: &impl GenericClient, tenant: &TenantId, client: &str, event: &Event) -> anyhow::Result<()> {
    let client = Uuid::parse_str(client).context("a client id that is not one")?;
    let merged: Vec<Uuid> = tx
        .query("SELECT merged FROM merges WHERE tenant_id = $1 AND survivor = $2", &[tenant, &client])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let all: Vec<Uuid> = merged.into_iter().chain([client]).collect();
    tx.execute("DELETE FROM facts WHERE tenant_id = $1 AND client_id = ANY($2)", &[tenant, &all])
        .await
        .context("forgetting the client's facts")?;
    tx.execute("DELETE FROM merges WHERE tenant_id = $1 AND (survivor = ANY($2) OR merged = ANY($2))", &[tenant, &all])
        .await?;
    super::segments::forget_client(tx, tenant, &all).await?;
    put(tx, tenant, &format!("gone:{client}"), Some(client), event).await
}

/// A fact as a replica reads it back.
pub struct Stored {
    pub seq: i64,
    pub tenant: String,
    pub time_zone: String,
    pub phone_region: String,
    pub event: Event,
}

/// Up to `limit` facts after `after`, in `seq` order. The facts alone walk the `seq` index
/// whatever the table's statistics say; the tenants' settings are a second, small read.
pub async fn after(db: &impl GenericClient, after: i64, limit: i64) -> anyhow::Result<Vec<Stored>> {
    let rows = db
        .query("SELECT seq, tenant_id, payload FROM facts WHERE seq > $1 ORDER BY seq LIMIT $2", &[&after, &limit])
        .await
        .context("reading facts")?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let settings: std::collections::HashMap<String, (String, String)> = db
        .query("SELECT tenant_id, time_zone, phone_region FROM tenants", &[])
        .await
        .context("reading the tenants' settings")?
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    rows.iter()
        .map(|r| {
            let event = Event::decode(r.get::<_, &[u8]>(2)).context("decoding a stored fact")?;
            let tenant: String = r.get(1);
            let (time_zone, phone_region) =
                settings.get(&tenant).cloned().unwrap_or_else(|| ("UTC".into(), "LT".into()));
            Ok(Stored { seq: r.get(0), tenant, time_zone, phone_region, event })
        })
        .collect()
}

/// How many facts there are after `after` (for the progress of a load).
pub async fn count_after(db: &impl GenericClient, after: i64) -> anyhow::Result<i64> {
    Ok(db.query_one("SELECT count(*) FROM facts WHERE seq > $1", &[&after]).await?.get(0))
}

/// Takes the writers' lock for the transaction: the feed consumers wait until it ends.
pub async fn hold_writers(tx: &impl GenericClient) -> anyhow::Result<()> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITERS]).await.context("waiting for the writers' lock")?;
    Ok(())
}

/// Forgets every fact (a rebuild writes them again) and bumps the model's generation; returns it.
pub async fn clear_for_rebuild(tx: &impl GenericClient) -> anyhow::Result<i64> {
    tx.batch_execute("DELETE FROM facts; DELETE FROM merges; DELETE FROM tenants; DELETE FROM segment_users")
        .await
        .context("clearing the facts for a rebuild")?;
    Ok(tx.query_one("UPDATE read_model SET generation = generation + 1 RETURNING generation", &[]).await?.get(0))
}

/// The generation of the facts table (see [`clear_for_rebuild`]).
pub async fn generation(db: &impl GenericClient) -> anyhow::Result<i64> {
    Ok(db.query_one("SELECT generation FROM read_model", &[]).await.context("reading the model's generation")?.get(0))
}

/// Where a feed consumer stands: the last sequence it applied.
pub async fn cursor(db: &impl GenericClient, consumer: &str) -> anyhow::Result<i64> {
    let row = db.query_opt("SELECT position FROM feed_cursors WHERE consumer = $1", &[&consumer]).await?;
    Ok(row.map_or(0, |r| r.get(0)))
}

/// How many facts there are.
pub async fn count(db: &impl GenericClient) -> anyhow::Result<i64> {
    Ok(db.query_one("SELECT count(*) FROM facts", &[]).await?.get(0))
}
