//! The transactional outbox and the `WatchEvents` feed it serves.
//!
//! Writers call [`publish`] inside the transaction of their change, as its last step, and end it
//! with [`commit`], which nudges the readers (this process's at once, other replicas' by one
//! coalesced `NOTIFY`; readers also poll every [`POLL`]). Readers only
//! see events that have a `sequence`, which the sequencer gives after commit: it takes an exclusive
//! advisory lock that every publishing transaction holds in shared mode until it ends, so when the
//! sequencer runs no publisher is in flight and every unsequenced row is committed. Rows are
//! numbered in the order they were written (`id`), which keeps causal order for one client: a
//! change that waited for another's row lock writes its event after the other committed.
//! Rolled-back events never get a number; a number once shown is never followed by a smaller one.
use crate::auth::{Principal, principal};
use crate::config::DatabaseSettings;
use crate::db::Tls;
use anyhow::Context;
use futures::{Stream, StreamExt};
use loyalty_api::common::v1::Actor;
use loyalty_api::events::v1::{Event, WatchEventsRequest, event::Payload};
use prost::Message;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_postgres::{AsyncMessage, NoTls};
use tokio_util::sync::CancellationToken;
use tonic::Status;

/// Right to read a service's feed for the caller's own tenant.
pub const READ_EVENTS: &str = "events.read";
/// Right of service accounts (read models) to read the feed of every tenant.
pub const READ_ALL_TENANTS: &str = "events.read_all_tenants";

const BATCH: i64 = 500;

/// Builds an event for the caller's tenant. `sequence` is given later by the sequencer.
pub fn event(tenant: &str, actor: Actor, subject_id: &str, payload: Payload) -> Event {
    Event {
        sequence: 0,
        event_id: uuid::Uuid::now_v7().to_string(),
        tenant_id: tenant.to_string(),
        occurred_at: Some(crate::convert::to_timestamp(time::OffsetDateTime::now_utc())),
        actor: Some(actor),
        subject_id: subject_id.to_string(),
        traceparent: crate::trace::current_traceparent(),
        source: String::new(),
        payload: Some(payload),
    }
}

/// Commits a transaction that may have published events, then nudges the feed readers: this
/// process's at once, other replicas' through one coalesced `NOTIFY` per outbox. Nudging after the
/// commit instead of notifying inside it keeps commits from queueing on Postgres's notification
/// lock (it is held through the WAL flush). A commit that skips the nudge is still found by the
/// readers' next poll, within [`POLL`].
pub async fn commit(tx: deadpool_postgres::Transaction<'_>) -> Result<(), tokio_postgres::Error> {
    tx.commit().await?;
    // Tells this process's outboxes that events may have committed.
    COMMITTED.send_modify(|n| *n = n.wrapping_add(1));
    Ok(())
}

static COMMITTED: std::sync::LazyLock<watch::Sender<u64>> = std::sync::LazyLock::new(|| watch::channel(0).0);

/// How long a feed reader waits for a nudge before it looks for new events anyway.
pub const POLL: Duration = Duration::from_secs(1);

/// The shortest time between two `NOTIFY`s of one replica's outbox.
const NOTIFY_INTERVAL: Duration = Duration::from_millis(10);

/// Writes `event` into the outbox of the transaction's schema. Call it last in the transaction:
/// from here to commit, the feed's sequencer waits for this transaction.
pub async fn publish(tx: &impl deadpool_postgres::GenericClient, event: &Event) -> anyhow::Result<()> {
    let payload = event.payload.as_ref().context("an event needs a payload")?;
    let occurred_at = event
        .occurred_at
        .as_ref()
        .and_then(crate::convert::from_timestamp)
        .unwrap_or_else(time::OffsetDateTime::now_utc);
    crate::db::cached::execute(
        tx,
        "INSERT INTO outbox (tenant_id, kind, subject_id, occurred_at, payload)
         SELECT $1, $2, $3, $4, $5
         FROM (SELECT pg_advisory_xact_lock_shared(hashtext(current_schema() || '.outbox'))) AS publishing",
        &[&event.tenant_id, &payload.kind(), &event.subject_id, &occurred_at, &event.encode_to_vec()],
    )
    .await
    .context("writing an event to the outbox")?;
    Ok(())
}

/// Writes many events in one statement (bulk edits), in the order given.
pub async fn publish_many(tx: &impl deadpool_postgres::GenericClient, events: &[Event]) -> anyhow::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut tenants = Vec::with_capacity(events.len());
    let mut kinds = Vec::with_capacity(events.len());
    let mut subjects = Vec::with_capacity(events.len());
    let mut times = Vec::with_capacity(events.len());
    let mut payloads = Vec::with_capacity(events.len());
    for event in events {
        kinds.push(event.payload.as_ref().context("an event needs a payload")?.kind());
        tenants.push(event.tenant_id.as_str());
        subjects.push(event.subject_id.as_str());
        times.push(
            event
                .occurred_at
                .as_ref()
                .and_then(crate::convert::from_timestamp)
                .unwrap_or_else(time::OffsetDateTime::now_utc),
        );
        payloads.push(event.encode_to_vec());
    }
    crate::db::cached::execute(
        tx,
        "INSERT INTO outbox (tenant_id, kind, subject_id, occurred_at, payload)
         SELECT t, k, s, o, p
         FROM (SELECT pg_advisory_xact_lock_shared(hashtext(current_schema() || '.outbox'))) AS publishing,
              unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bytea[]) WITH ORDINALITY AS e(t, k, s, o, p, n)
         ORDER BY n",
        &[&tenants, &kinds, &subjects, &times, &payloads],
    )
    .await
    .context("writing events to the outbox")?;
    Ok(())
}

/// Rewrites the stored events about `subject` with `scrub` (a GDPR erase removes the personal data
/// they carry). Sequences stay; readers that replay later see the scrubbed events.
pub async fn rewrite_subject(
    tx: &tokio_postgres::Transaction<'_>,
    tenant: &str,
    subject: &str,
    mut scrub: impl FnMut(&mut Event),
) -> anyhow::Result<u64> {
    let rows = tx
        .query(
            "SELECT id, payload FROM outbox WHERE tenant_id = $1 AND subject_id = $2 FOR UPDATE",
            &[&tenant, &subject],
        )
        .await
        .context("reading events to rewrite")?;
    for row in &rows {
        let mut event = Event::decode(row.get::<_, &[u8]>(1)).context("decoding an outbox event")?;
        scrub(&mut event);
        tx.execute("UPDATE outbox SET payload = $2 WHERE id = $1", &[&row.get::<_, i64>(0), &event.encode_to_vec()])
            .await
            .context("rewriting an event")?;
    }
    Ok(rows.len() as u64)
}

/// Deletes published events older than `days` (a purge every replica may run: the delete is
/// idempotent). Unsequenced rows are never touched, so the feed keeps no gap a reader could see.
pub async fn purge_older_than(db: &tokio_postgres::Client, days: i32) -> anyhow::Result<u64> {
    db.execute(
        // The newest event stays whatever its age: the sequencer numbers on from it.
        "DELETE FROM outbox WHERE sequence IS NOT NULL AND occurred_at < now() - make_interval(days => $1)
             AND sequence < (SELECT max(sequence) FROM outbox)",
        &[&days],
    )
    .await
    .context("purging outbox rows past retention")
}

/// What one sequencer pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequencerPass {
    pub numbered: u64,
    /// Rows are still waiting (the lock was busy); try again shortly.
    pub still_pending: bool,
}

/// Serves one service's feed: shared by every `WatchEvents` stream of the process.
#[derive(Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
    /// Live streams end with UNAVAILABLE when this is cancelled (the server is draining).
    draining: CancellationToken,
}

struct Inner {
    pool: deadpool_postgres::Pool,
    source: String,
    wake: watch::Sender<u64>,
    listener: tokio::task::JoinHandle<()>,
    notifier: tokio::task::JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.listener.abort();
        self.notifier.abort();
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<Event, Status>> + Send>>;

impl Outbox {
    /// `source` names the service in events ("client", "ledger"); `schema` is where its outbox is.
    /// Live `WatchEvents` streams end with UNAVAILABLE once `draining` is cancelled (pass
    /// [`crate::server::Services::draining`]): followers resume from their last sequence elsewhere.
    pub fn new(
        pool: deadpool_postgres::Pool,
        db: &DatabaseSettings,
        schema: &str,
        source: &str,
        draining: CancellationToken,
    ) -> anyhow::Result<Self> {
        let config = crate::db::pg_config(db, schema)?;
        let tls = crate::db::tls(db)?;
        let (wake, _) = watch::channel(0u64);
        let channel = format!("{schema}_outbox");
        let listener = tokio::spawn(listen_forever(config, tls, channel.clone(), wake.clone()));
        let notifier = tokio::spawn(notify_forever(pool.clone(), channel, wake.clone()));
        Ok(Self { inner: Arc::new(Inner { pool, source: source.to_string(), wake, listener, notifier }), draining })
    }

    /// The `WatchEvents` handler: the caller's tenant, or every tenant for holders of
    /// `events.read_all_tenants`.
    pub fn serve(&self, request: tonic::Request<WatchEventsRequest>) -> Result<tonic::Response<EventStream>, Status> {
        let principal: &Principal = principal(&request)?;
        // The feed carries the personal data of every client of the tenant: a token limited to
        // some stores sees only their clients elsewhere, so it may not watch the feed at all.
        if principal.store_scope().is_some() {
            return Err(Status::permission_denied(
                "a store-scoped token cannot watch the event feed: it carries every store's clients",
            ));
        }
        let tenant = if principal.has_right(READ_ALL_TENANTS) {
            None
        } else if principal.tenant.is_empty() {
            return Err(Status::permission_denied(
                "name the tenant (x-loyalty-tenant) or hold events.read_all_tenants",
            ));
        } else {
            Some(principal.tenant.clone())
        };
        let req = request.into_inner();
        if req.after_sequence < 0 {
            return Err(crate::error::invalid_field("after_sequence", "must be 0 or more"));
        }
        Ok(tonic::Response::new(self.watch(tenant, req)))
    }

    /// Events after `req.after_sequence`, then live ones as they commit (unless `replay_only`).
    pub fn watch(&self, tenant: Option<String>, req: WatchEventsRequest) -> EventStream {
        let this = self.clone();
        Box::pin(async_stream::try_stream! {
            let mut wake = this.inner.wake.subscribe();
            let mut cursor = req.after_sequence;
            // True once a sequencer pass found nothing left to number after our last empty read.
            let mut settled = false;
            loop {
                wake.borrow_and_update();
                let (batch, reached) = this.read_after(tenant.as_deref(), cursor, &req.kinds).await.map_err(|e| crate::error::from_infrastructure(&e))?;
                cursor = cursor.max(reached);
                if !batch.is_empty() {
                    for event in batch {
                        yield event;
                    }
                    settled = false;
                    continue;
                }
                if !settled {
                    let pass = this.sequence_pending().await.map_err(|e| crate::error::from_infrastructure(&e))?;
                    if pass.still_pending {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    // With nothing left unnumbered at the check, everything committed before it has
                    // a number now, perhaps given by another reader after our read: look once more.
                    settled = pass.numbered == 0 && !pass.still_pending;
                    continue;
                }
                if req.replay_only {
                    break;
                }
                // A nudge follows every commit; the poll covers a lost one.
                let draining = tokio::select! {
                    _ = this.draining.cancelled() => true,
                    _ = tokio::time::timeout(POLL, wake.changed()) => false,
                };
                if draining {
                    Err(Status::unavailable("the server is shutting down: watch again after your last sequence"))?;
                }
                settled = false;
            }
        })
    }

    /// The events after `after` a reader asked for, and how far it may move on: past every event
    /// numbered when it read, when fewer than a batch matched. A reader of a few kinds (a feed
    /// that wants only erasures) would otherwise scan the same unwanted events again on every
    /// nudge, slower with every event published.
    async fn read_after(
        &self,
        tenant: Option<&str>,
        after: i64,
        kinds: &[String],
    ) -> anyhow::Result<(Vec<Event>, i64)> {
        let conn = self.inner.pool.get().await.context("taking a database connection")?;
        let rows = conn
            .query(
                "SELECT sequence, payload FROM (
                     SELECT sequence, payload FROM outbox
                      WHERE sequence > $1 AND ($2::text IS NULL OR tenant_id = $2)
                        AND (cardinality($3::text[]) = 0 OR kind = ANY($3))
                      ORDER BY sequence LIMIT $4) AS wanted
                 UNION ALL
                 SELECT max(sequence), NULL FROM outbox WHERE sequence > $1",
                &[&after, &tenant, &kinds, &BATCH],
            )
            .await
            .context("reading the outbox")?;
        let mut events = Vec::with_capacity(rows.len());
        let mut numbered = after;
        for row in &rows {
            let Some(payload) = row.get::<_, Option<&[u8]>>(1) else {
                numbered = row.get::<_, Option<i64>>(0).unwrap_or(after);
                continue;
            };
            let mut event = Event::decode(payload).context("decoding an outbox event")?;
            event.sequence = row.get(0);
            event.source = self.inner.source.clone();
            events.push(event);
        }
        let reached = match events.last() {
            Some(last) if events.len() as i64 >= BATCH => last.sequence,
            Some(last) => numbered.max(last.sequence),
            None => numbered.max(after),
        };
        Ok((events, reached))
    }

    /// Numbers every committed, unnumbered event. Cheap when there is nothing to do.
    pub async fn sequence_pending(&self) -> anyhow::Result<SequencerPass> {
        let mut conn = self.inner.pool.get().await.context("taking a database connection")?;
        let pending: bool = conn
            .query_one("SELECT EXISTS (SELECT 1 FROM outbox WHERE sequence IS NULL)", &[])
            .await
            .context("looking for unnumbered events")?
            .get(0);
        if !pending {
            return Ok(SequencerPass { numbered: 0, still_pending: false });
        }
        let tx = conn.transaction().await.context("beginning the sequencer transaction")?;
        // Waiting for the lock holds back new publishers, so wait only briefly.
        tx.batch_execute("SET LOCAL lock_timeout = '200ms'").await?;
        match tx.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.outbox'))", &[]).await {
            Ok(_) => {}
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) => {
                return Ok(SequencerPass { numbered: 0, still_pending: true });
            }
            Err(e) => return Err(e).context("taking the sequencer lock"),
        }
        let numbered = tx
            .execute(
                "WITH pending AS (
                     SELECT id, row_number() OVER (ORDER BY id) AS n FROM outbox WHERE sequence IS NULL
                 ), top AS (SELECT coalesce(max(sequence), 0) AS top FROM outbox)
                 UPDATE outbox o SET sequence = top.top + pending.n
                 FROM pending, top WHERE o.id = pending.id",
                &[],
            )
            .await
            .context("numbering events")?;
        tx.commit().await.context("committing the sequencer pass")?;
        if numbered > 0 {
            self.inner.wake.send_modify(|n| *n += 1);
        }
        Ok(SequencerPass { numbered, still_pending: false })
    }
}

/// Turns this process's commits into wake-ups: local readers at once, other replicas through
/// `NOTIFY`. Commits that happen while a `NOTIFY` is on its way are covered by the next one.
async fn notify_forever(pool: deadpool_postgres::Pool, channel: String, wake: watch::Sender<u64>) {
    let mut committed = COMMITTED.subscribe();
    let mut last_sent: Option<tokio::time::Instant> = None;
    while committed.changed().await.is_ok() {
        wake.send_modify(|n| *n += 1);
        // At most one NOTIFY per interval: commits meanwhile ride on the next one (a busy replica
        // would otherwise run a NOTIFY transaction for nearly every commit).
        if let Some(at) = last_sent {
            tokio::time::sleep_until(at + NOTIFY_INTERVAL).await;
            committed.borrow_and_update();
            wake.send_modify(|n| *n += 1);
        }
        last_sent = Some(tokio::time::Instant::now());
        let sent = async {
            let conn = pool.get().await.context("taking a database connection")?;
            conn.batch_execute(&format!("NOTIFY \"{channel}\"")).await.context("NOTIFY")
        };
        if let Err(error) = sent.await {
            tracing::warn!(error = format!("{error:#}"), channel, "could not notify other replicas; they will poll");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Keeps one LISTEN connection open and turns notifications into wake-ups of the feed readers.
async fn listen_forever(config: tokio_postgres::Config, tls: Tls, channel: String, wake: watch::Sender<u64>) {
    loop {
        let listened = match &tls {
            Tls::Disabled => listen_once(&config, NoTls, &channel, &wake).await,
            Tls::VerifyFull(tls) => listen_once(&config, tls.clone(), &channel, &wake).await,
        };
        if let Err(error) = listened {
            tracing::warn!(error = format!("{error:#}"), channel, "outbox listener lost; reconnecting");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn listen_once<T>(
    config: &tokio_postgres::Config,
    tls: T,
    channel: &str,
    wake: &watch::Sender<u64>,
) -> anyhow::Result<()>
where
    T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>,
    T::Stream: Send + 'static,
{
    let (client, mut connection) = config.connect(tls).await.context("connecting the outbox listener")?;
    let notify = wake.clone();
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            if let AsyncMessage::Notification(_) = message? {
                notify.send_modify(|n| *n += 1);
            }
        }
        Ok::<_, tokio_postgres::Error>(())
    });
    client.batch_execute(&format!("LISTEN \"{channel}\"")).await.context("LISTEN")?;
    // Anything committed while we were not listening is found by the readers' next pass.
    wake.send_modify(|n| *n += 1);
    driver.await.context("listener task")?.context("listener connection")?;
    drop(client);
    Ok(())
}
