//! Consuming another service's event feed into this service's schema, exactly once.
//!
//! Each event is applied in one transaction together with the consumer's cursor, so a crash between
//! receiving and applying only means the event is received again, and then skipped or applied, never
//! applied twice. One replica applies a feed at a time (a session advisory lock); the others wait
//! and take over when the leader's connection goes away.
use anyhow::Context;
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use loyalty_api::events::v1::Event;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The longest wait between attempts to follow a feed that keeps failing.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

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
pub trait ApplyEvent: Send + Sync + 'static {
    fn apply<'a>(
        &'a self,
        tx: &'a deadpool_postgres::Transaction<'a>,
        event: &'a Event,
    ) -> BoxFuture<'a, anyhow::Result<()>>;
}

/// Reads the feed of `source` and applies it with `handler`; its cursor is the row `name` of this
/// service's `feed_cursors`.
pub struct FeedConsumer {
    pub name: String,
    pub pool: deadpool_postgres::Pool,
    pub source: Arc<dyn EventSource>,
    pub handler: Arc<dyn ApplyEvent>,
    /// How long to wait before retrying after a failure.
    pub retry_after: Duration,
}

impl FeedConsumer {
    pub fn new(
        name: &str,
        pool: deadpool_postgres::Pool,
        source: Arc<dyn EventSource>,
        handler: Arc<dyn ApplyEvent>,
    ) -> Self {
        Self { name: name.to_string(), pool, source, handler, retry_after: Duration::from_millis(500) }
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
        loop {
            let won: bool = leader
                .query_one("SELECT pg_try_advisory_lock(hashtext(current_schema() || '.' || $1))", &[&lock_key])
                .await
                .context("trying the consumer lock")?
                .get(0);
            if won {
                break;
            }
            tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
        let result = self.apply_from_cursor(stop).await;
        drop(leader);
        result
    }

    async fn apply_from_cursor(&self, stop: &CancellationToken) -> anyhow::Result<()> {
        let cursor = self.cursor().await?;
        let mut events = self.source.watch(cursor).await?;
        loop {
            let next = tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                next = events.next() => next,
            };
            match next {
                Some(event) => self.apply_one(&event?).await?,
                None => anyhow::bail!("the feed ended"),
            }
        }
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

    async fn apply_one(&self, event: &Event) -> anyhow::Result<()> {
        let mut conn = self.pool.get().await.context("taking a database connection")?;
        let tx = conn.transaction().await?;
        // The row lock makes the position check and the apply atomic even if two replicas ever ran.
        let position: i64 = tx
            .query_one("SELECT position FROM feed_cursors WHERE consumer = $1 FOR UPDATE", &[&self.name])
            .await
            .context("locking the cursor")?
            .get(0);
        if event.sequence <= position {
            return Ok(()); // delivered again after a reconnect: already applied
        }
        self.handler
            .apply(&tx, event)
            .await
            .with_context(|| format!("applying event {} ({})", event.sequence, event.event_id))?;
        tx.execute(
            "UPDATE feed_cursors SET position = $2, updated_at = now() WHERE consumer = $1",
            &[&self.name, &event.sequence],
        )
        .await
        .context("moving the cursor")?;
        crate::outbox::commit(tx).await.context("committing the applied event")?;
        metrics::gauge!("feed_consumer_position", "consumer" => self.name.clone()).set(event.sequence as f64);
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

/// Another service's feed, followed with a service token this service mints for itself (it holds
/// the signing key): a system principal that may read every tenant's events.
pub struct PeerFeed {
    pub channel: tonic::transport::Channel,
    pub keys: crate::auth::TokenKeys,
    /// Who is reading, e.g. "card-service".
    pub subject: &'static str,
    /// Only these payload kinds.
    pub kinds: &'static [&'static str],
    pub call: WatchCall,
}

impl EventSource for PeerFeed {
    fn watch(&self, after: i64) -> BoxFuture<'_, anyhow::Result<BoxStream<'static, anyhow::Result<Event>>>> {
        Box::pin(async move {
            let rights = [crate::outbox::READ_EVENTS, crate::outbox::READ_ALL_TENANTS];
            let mut grant = crate::auth::Grant::new("system", &rights);
            grant.subject = self.subject;
            grant.kind = "system";
            let bearer = crate::auth::BearerToken::new(&self.keys.mint(&grant)?)?;
            let request = loyalty_api::events::v1::WatchEventsRequest {
                after_sequence: after,
                kinds: self.kinds.iter().map(|k| k.to_string()).collect(),
                replay_only: false,
            };
            let stream = (self.call)(self.channel.clone(), bearer, request).await.context("watching a peer's feed")?;
            Ok(stream.map(|e| e.map_err(anyhow::Error::from)).boxed())
        })
    }
}
