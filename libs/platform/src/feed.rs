//! Consuming another service's event feed into this service's schema, exactly once.
//!
//! Each event is applied in one transaction together with the consumer's cursor (the events that
//! have arrived together are applied in one, up to [`BATCH`]), so a crash between receiving and
//! applying only means the event is received again, and then skipped or applied, never applied
//! twice. One replica applies a feed at a time (a session advisory lock); the others wait
//! and take over when the leader's connection goes away.
//!
//! An event the handler refuses [`PARK_AFTER`] times in a row for a reason that is not the
//! database going away (a bad id, a constraint) is parked: written to `feed_parked_events` with the
//! reason, in the transaction that moves the cursor past it, so one poisoned event never holds back
//! every later event of every tenant. Parked events are counted in the metrics
//! (`feed_events_parked_total`), listed and retried through `FeedOperations` and `loyalty feeds`.
use crate::identity::ServiceIdentity;
use anyhow::Context;
use deadpool_postgres::Transaction;
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use loyalty_api::events::v1::Event;
use prost::Message;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The longest wait between attempts to follow a feed that keeps failing.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// Attempts at one event before it is parked.
pub const PARK_AFTER: u32 = 3;

/// The most events applied in one transaction (those that have arrived when the consumer looks).
const BATCH: usize = 500;

/// Where events come from: usually a `WatchEvents` call on another service, or an [`crate::outbox::Outbox`]
/// in the same process.
pub trait EventSource: Send + Sync + 'static {
    /// Events with sequence greater than `after`, in order, following live.
    fn watch(&self, after: i64) -> BoxFuture<'_, anyhow::Result<BoxStream<'static, anyhow::Result<Event>>>>;
}

impl EventSource for crate::outbox::Outbox {
    fn watch(&self, after: i64) -> BoxFuture<'_, anyhow::Result<BoxStream<'static, anyhow::Result<Event>>>> {
        let request = loyalty_api::events::v1::WatchEventsRequest { after_sequence: after, ..Default::default() };
        let stream = crate::outbox::Outbox::watch(self, None, request);
        Box::pin(async move { Ok(stream.map(|r| r.map_err(anyhow::Error::from)).boxed()) })
    }
}

/// What a consumer does with one event, inside the transaction that also moves its cursor.
/// Implement it as `async fn apply(&self, tx: &Transaction<'_>, event: &Event) -> anyhow::Result<()>`.
pub trait ApplyEvent: Send + Sync + 'static {
    fn apply(&self, tx: &Transaction<'_>, event: &Event) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// Applies the events of a batch in their order; a handler that can write many at once (one
    /// statement for the lot) does it here. By default, one by one.
    fn apply_many(&self, tx: &Transaction<'_>, events: &[&Event]) -> impl Future<Output = anyhow::Result<()>> + Send {
        async move {
            for event in events {
                self.apply(tx, event)
                    .await
                    .with_context(|| format!("applying event {} ({})", event.sequence, event.event_id))?;
            }
            Ok(())
        }
    }

    /// Runs once at the start of each transaction that applies events (one or a batch): settings
    /// and locks the handler needs for the whole transaction.
    fn begin(&self, _tx: &Transaction<'_>) -> impl Future<Output = anyhow::Result<()>> + Send {
        async { Ok(()) }
    }
}

/// Reads the feed of `source` and applies it with `handler`; its cursor is the row `name` of this
/// service's `feed_cursors`.
pub struct FeedConsumer<H> {
    pub name: String,
    pub pool: deadpool_postgres::Pool,
    pub source: Arc<dyn EventSource>,
    pub handler: Arc<H>,
    /// How long to wait before retrying after a failure.
    pub retry_after: Duration,
    /// The event that failed last and how many times in a row.
    failing: Mutex<(i64, u32)>,
}

/// Whether a failure is the database (or the network to it) going away: worth waiting out, never a
/// reason to park an event.
pub fn is_transient(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        if cause.downcast_ref::<deadpool_postgres::PoolError>().is_some() {
            return true;
        }
        let Some(db) = cause.downcast_ref::<tokio_postgres::Error>() else { return false };
        if db.is_closed() {
            return true;
        }
        match db.code().map(|c| c.code()) {
            // connection exceptions, serialization failure, deadlock, lock timeout, shutdown,
            // cannot connect now, too many connections
            Some(code) => {
                code.starts_with("08")
                    || matches!(code, "40001" | "40P01" | "55P03" | "57P01" | "57P02" | "57P03" | "53300")
            }
            None => true, // an I/O error without a server answer
        }
    })
}

impl<H: ApplyEvent> FeedConsumer<H> {
    pub fn new(name: &str, pool: deadpool_postgres::Pool, source: Arc<dyn EventSource>, handler: Arc<H>) -> Self {
        Self {
            name: name.to_string(),
            pool,
            source,
            handler,
            retry_after: Duration::from_millis(500),
            failing: Mutex::new((0, 0)),
        }
    }

    /// Runs until `stop` is cancelled: waits to lead, then applies events as they come.
    pub async fn run(self, stop: CancellationToken) {
        // A peer that is down (or not deployed) is retried less and less often, up to every 30 s.
        let mut delay = self.retry_after;
        loop {
            let outcome = tokio::select! {
                _ = stop.cancelled() => return,
                outcome = self.lead_and_apply(&stop) => outcome,
            };
            let failed = outcome.is_err();
            if let Err(error) = outcome {
                let retry_in_ms = delay.as_millis() as u64;
                tracing::warn!(
                    consumer = self.name,
                    error = format!("{error:#}"),
                    retry_in_ms,
                    "feed consumer failed; retrying"
                );
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
            delay = if failed { (delay * 2).min(MAX_RETRY_DELAY) } else { self.retry_after };
        }
    }

    async fn lead_and_apply(&self, stop: &CancellationToken) -> anyhow::Result<()> {
        // The lock lives as long as this connection. It is taken out of the pool, so however this
        // future ends (even dropped mid-way) the connection closes and the lock goes with it,
        // instead of returning to the pool still holding it.
        let leader = deadpool_postgres::Object::take(self.pool.get().await.context("taking the leader connection")?);
        let lock_key = format!("loyalty.feed.{}", self.name);
        if !crate::db::wait_for_lead(&leader, &lock_key, stop).await? {
            return Ok(());
        }
        let result = self.apply_from_cursor(stop).await;
        drop(leader);
        result
    }

    async fn apply_from_cursor(&self, stop: &CancellationToken) -> anyhow::Result<()> {
        let cursor = self.cursor().await?;
        // What has arrived is applied together: a burst (a replay, a busy till) costs one
        // transaction per batch instead of one per event.
        let mut batches = self.source.watch(cursor).await?.ready_chunks(BATCH);
        loop {
            let next = tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                next = batches.next() => next,
            };
            let Some(batch) = next else { anyhow::bail!("the feed ended") };
            let batch = batch.into_iter().collect::<anyhow::Result<Vec<Event>>>()?;
            if batch.len() > 1 {
                match self.with_cursor_many(&batch).await {
                    Ok(()) => {
                        self.forget_failures();
                        continue;
                    }
                    Err(error) if is_transient(&error) => return Err(error),
                    // One event of the batch is refused: apply them one by one, so it alone is
                    // retried and parked.
                    Err(_) => {}
                }
            }
            for event in batch {
                match self.apply_one(&event).await {
                    Ok(()) => self.forget_failures(),
                    Err(error) if is_transient(&error) => return Err(error),
                    Err(error) if self.failed_again(event.sequence) < PARK_AFTER => return Err(error),
                    Err(error) => {
                        self.park(&event, &error).await?;
                        self.forget_failures();
                    }
                }
            }
        }
    }

    /// Applies `batch` in one transaction with the cursor, skipping what was applied already.
    async fn with_cursor_many(&self, batch: &[Event]) -> anyhow::Result<()> {
        let mut conn = self.pool.get().await.context("taking a database connection")?;
        let tx = conn.transaction().await?;
        let position = self.lock_cursor(&tx).await?;
        self.handler.begin(&tx).await?;
        let todo: Vec<&Event> = batch.iter().filter(|e| e.sequence > position).collect();
        let Some(last) = todo.last().map(|e| e.sequence) else { return Ok(()) };
        self.handler.apply_many(&tx, &todo).await?;
        tx.execute(
            "UPDATE feed_cursors SET position = $2, updated_at = now() WHERE consumer = $1",
            &[&self.name, &last],
        )
        .await
        .context("moving the cursor")?;
        crate::outbox::commit(tx).await.context("committing the applied events")?;
        metrics::gauge!("feed_consumer_position", "consumer" => self.name.clone()).set(last as f64);
        Ok(())
    }

    fn failed_again(&self, sequence: i64) -> u32 {
        let mut failing = self.failing.lock().unwrap_or_else(|p| p.into_inner());
        *failing = if failing.0 == sequence { (sequence, failing.1 + 1) } else { (sequence, 1) };
        failing.1
    }

    fn forget_failures(&self) {
        *self.failing.lock().unwrap_or_else(|p| p.into_inner()) = (0, 0);
    }

    /// The last sequence this consumer applied.
    pub async fn cursor(&self) -> anyhow::Result<i64> {
        let conn = self.pool.get().await.context("taking a database connection")?;
        conn.execute("INSERT INTO feed_cursors (consumer) VALUES ($1) ON CONFLICT DO NOTHING", &[&self.name])
            .await
            .context("creating the cursor")?;
        let row = conn
            .query_one("SELECT position FROM feed_cursors WHERE consumer = $1", &[&self.name])
            .await
            .context("reading the cursor")?;
        Ok(row.get(0))
    }

    /// The cursor's position, its row locked until `tx` ends: the lock makes the position check and
    /// the apply atomic even if two replicas ever ran.
    async fn lock_cursor(&self, tx: &Transaction<'_>) -> anyhow::Result<i64> {
        let row = tx
            .query_one("SELECT position FROM feed_cursors WHERE consumer = $1 FOR UPDATE", &[&self.name])
            .await
            .context("locking the cursor")?;
        Ok(row.get(0))
    }

    async fn move_cursor(&self, tx: &Transaction<'_>, to: i64) -> anyhow::Result<()> {
        tx.execute("UPDATE feed_cursors SET position = $2, updated_at = now() WHERE consumer = $1", &[&self.name, &to])
            .await
            .context("moving the cursor")?;
        Ok(())
    }

    /// Runs `work` in a transaction that holds the cursor and moves it to `event`, unless the
    /// event was applied already (delivered again after a reconnect).
    async fn with_cursor(&self, event: &Event, work: impl AsyncWork) -> anyhow::Result<()> {
        let mut conn = self.pool.get().await.context("taking a database connection")?;
        let tx = conn.transaction().await?;
        if event.sequence <= self.lock_cursor(&tx).await? {
            return Ok(());
        }
        work.run(&tx).await?;
        self.move_cursor(&tx, event.sequence).await?;
        crate::outbox::commit(tx).await.context("committing the applied event")?;
        metrics::gauge!("feed_consumer_position", "consumer" => self.name.clone()).set(event.sequence as f64);
        Ok(())
    }

    async fn apply_one(&self, event: &Event) -> anyhow::Result<()> {
        let handler = self.handler.clone();
        self.with_cursor(event, Apply { handler, event })
            .await
            .with_context(|| format!("applying event {} ({})", event.sequence, event.event_id))
    }

    async fn park(&self, event: &Event, error: &anyhow::Error) -> anyhow::Result<()> {
        tracing::error!(
            consumer = self.name,
            sequence = event.sequence,
            tenant = event.tenant_id,
            error = format!("{error:#}"),
            "feed event parked after {PARK_AFTER} failed attempts; later events go on"
        );
        let parked = Park { consumer: &self.name, event, reason: format!("{error:#}") };
        self.with_cursor(event, parked).await.context("parking an event")?;
        metrics::counter!("feed_events_parked_total", "consumer" => self.name.clone()).increment(1);
        Ok(())
    }
}

/// Work done in the cursor's transaction.
trait AsyncWork {
    fn run(self, tx: &Transaction<'_>) -> impl Future<Output = anyhow::Result<()>> + Send;
}

struct Apply<'e, H> {
    handler: Arc<H>,
    event: &'e Event,
}

impl<H: ApplyEvent> AsyncWork for Apply<'_, H> {
    async fn run(self, tx: &Transaction<'_>) -> anyhow::Result<()> {
        self.handler.begin(tx).await?;
        self.handler.apply(tx, self.event).await
    }
}

struct Park<'e> {
    consumer: &'e str,
    event: &'e Event,
    reason: String,
}

impl AsyncWork for Park<'_> {
    async fn run(self, tx: &Transaction<'_>) -> anyhow::Result<()> {
        let kind = self.event.payload.as_ref().map(|p| p.kind()).unwrap_or("");
        tx.execute(
            "INSERT INTO feed_parked_events (tenant_id, consumer, sequence, event_id, kind, reason, attempts, payload)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            &[
                &self.event.tenant_id,
                &self.consumer,
                &self.event.sequence,
                &self.event.event_id,
                &kind,
                &self.reason,
                &(PARK_AFTER as i32),
                &self.event.encode_to_vec(),
            ],
        )
        .await
        .context("writing the parked event")?;
        Ok(())
    }
}

/// Calls one service's `WatchEvents` with a bearer token (each service's generated client differs).
pub type WatchCall = fn(
    tonic::transport::Channel,
    crate::auth::BearerToken,
    loyalty_api::events::v1::WatchEventsRequest,
) -> BoxFuture<'static, Result<tonic::Streaming<Event>, tonic::Status>>;

/// Generates the [`WatchCall`] of one service's generated client.
macro_rules! watch_call {
    ($(#[$doc:meta])* $name:ident, $client:path) => {
        $(#[$doc])*
        pub fn $name(
            channel: tonic::transport::Channel,
            bearer: crate::auth::BearerToken,
            request: loyalty_api::events::v1::WatchEventsRequest,
        ) -> BoxFuture<'static, Result<tonic::Streaming<Event>, tonic::Status>> {
            Box::pin(async move {
                <$client>::with_interceptor(channel, bearer).watch_events(request).await.map(|r| r.into_inner())
            })
        }
    };
}

watch_call!(
    /// The client service's `WatchEvents`, for [`PeerFeed`].
    watch_clients,
    loyalty_api::client::v1::client_service_client::ClientServiceClient<tonic::transport::Channel>
);
watch_call!(
    /// The ledger's `WatchEvents`, for [`PeerFeed`].
    watch_ledger,
    loyalty_api::ledger::v1::ledger_service_client::LedgerServiceClient<tonic::transport::Channel>
);
watch_call!(
    /// The card service's `WatchEvents`, for [`PeerFeed`].
    watch_cards,
    loyalty_api::card::v1::card_service_client::CardServiceClient<tonic::transport::Channel>
);
watch_call!(
    /// The messaging service's `WatchEvents` (deliveries, campaigns), for [`PeerFeed`].
    watch_messaging,
    loyalty_api::messaging::v1::messaging_service_client::MessagingServiceClient<tonic::transport::Channel>
);
watch_call!(
    /// The segment service's `WatchEvents` (membership changes), for [`PeerFeed`].
    watch_segments,
    loyalty_api::segment::v1::segment_service_client::SegmentServiceClient<tonic::transport::Channel>
);

/// Another service's feed, followed under this service's own identity (a service token that may
/// read every tenant's events, and nothing else it does not need).
pub struct PeerFeed {
    pub channel: tonic::transport::Channel,
    pub identity: ServiceIdentity,
    /// Only these payload kinds.
    pub kinds: &'static [&'static str],
    pub call: WatchCall,
}

impl PeerFeed {
    /// The feed's events after `after`: what is retained, then (unless `replay_only`) live ones.
    pub async fn events(
        &self,
        after: i64,
        replay_only: bool,
    ) -> anyhow::Result<BoxStream<'static, anyhow::Result<Event>>> {
        let bearer = self.identity.bearer()?;
        let request = loyalty_api::events::v1::WatchEventsRequest {
            after_sequence: after,
            kinds: self.kinds.iter().map(|k| k.to_string()).collect(),
            replay_only,
        };
        let stream = (self.call)(self.channel.clone(), bearer, request).await.context("watching a peer's feed")?;
        Ok(stream.map(|e| e.map_err(anyhow::Error::from)).boxed())
    }
}

impl EventSource for PeerFeed {
    fn watch(&self, after: i64) -> BoxFuture<'_, anyhow::Result<BoxStream<'static, anyhow::Result<Event>>>> {
        Box::pin(self.events(after, false))
    }
}
