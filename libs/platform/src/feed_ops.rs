//! `FeedOperations`: the parked events of every feed consumer in this process, listed and retried
//! by operators (`loyalty feeds parked`, `loyalty feeds retry`).
use crate::convert::to_timestamp;
use crate::feed::ApplyEvent;
use anyhow::Context;
use futures::future::BoxFuture;
use loyalty_api::events::v1 as pb;
use loyalty_api::events::v1::feed_operations_server::FeedOperations;
use prost::Message;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The parked events of one consumer.
pub trait ParkedFeed: Send + Sync + 'static {
    fn list(&self, limit: i64) -> BoxFuture<'_, anyhow::Result<Vec<pb::ParkedEvent>>>;
    /// Applies the parked event again; `Ok(None)` when there is no such event.
    fn retry(&self, sequence: i64) -> BoxFuture<'_, Result<Option<pb::ParkedEvent>, Status>>;
    fn names(&self) -> (&str, &str);
}

/// One consumer's parked events, applied again with its own handler.
pub struct ParkedEvents<H> {
    pub service: &'static str,
    pub consumer: String,
    pub pool: deadpool_postgres::Pool,
    pub handler: Arc<H>,
}

const COLUMNS: &str = "consumer, sequence, tenant_id, event_id, kind, reason, parked_at, attempts";

fn parked(service: &str, r: &tokio_postgres::Row) -> pb::ParkedEvent {
    pb::ParkedEvent {
        service: service.to_string(),
        consumer: r.get(0),
        sequence: r.get(1),
        tenant_id: r.get(2),
        event_id: r.get(3),
        kind: r.get(4),
        reason: r.get(5),
        parked_at: Some(to_timestamp(r.get(6))),
        attempts: r.get(7),
    }
}

impl<H: ApplyEvent> ParkedEvents<H> {
    async fn retry_now(&self, sequence: i64) -> anyhow::Result<Result<Option<pb::ParkedEvent>, String>> {
        let mut conn = self.pool.get().await.context("taking a database connection")?;
        let tx = conn.transaction().await?;
        let Some(row) = tx
            .query_opt(
                &format!(
                    "SELECT {COLUMNS}, payload FROM feed_parked_events WHERE consumer = $1 AND sequence = $2 FOR UPDATE"
                ),
                &[&self.consumer, &sequence],
            )
            .await?
        else {
            return Ok(Ok(None));
        };
        let event = pb::Event::decode(row.get::<_, &[u8]>(8)).context("decoding a parked event")?;
        let found = parked(self.service, &row);
        let applied = async {
            self.handler.begin(&tx).await?;
            self.handler.apply(&tx, &event).await
        };
        match applied.await {
            Ok(()) => {
                tx.execute(
                    "DELETE FROM feed_parked_events WHERE consumer = $1 AND sequence = $2",
                    &[&self.consumer, &sequence],
                )
                .await?;
                crate::outbox::commit(tx).await?;
                Ok(Ok(Some(found)))
            }
            Err(error) => {
                drop(tx);
                let reason = format!("{error:#}");
                let conn = self.pool.get().await.context("taking a database connection")?;
                conn.execute(
                    "UPDATE feed_parked_events SET reason = $3, attempts = attempts + 1 WHERE consumer = $1 AND sequence = $2",
                    &[&self.consumer, &sequence, &reason],
                )
                .await?;
                Ok(Err(reason))
            }
        }
    }
}

impl<H: ApplyEvent> ParkedFeed for ParkedEvents<H> {
    fn list(&self, limit: i64) -> BoxFuture<'_, anyhow::Result<Vec<pb::ParkedEvent>>> {
        Box::pin(async move {
            let conn = self.pool.get().await.context("taking a database connection")?;
            let rows = conn
                .query(
                    &format!("SELECT {COLUMNS} FROM feed_parked_events WHERE consumer = $1 ORDER BY parked_at, sequence LIMIT $2"),
                    &[&self.consumer, &limit],
                )
                .await
                .context("listing parked events")?;
            Ok(rows.iter().map(|r| parked(self.service, r)).collect())
        })
    }

    fn retry(&self, sequence: i64) -> BoxFuture<'_, Result<Option<pb::ParkedEvent>, Status>> {
        Box::pin(async move {
            match self.retry_now(sequence).await {
                Ok(Ok(found)) => Ok(found),
                Ok(Err(reason)) => Err(Status::failed_precondition(format!("the event failed again: {reason}"))),
                Err(error) => Err(crate::error::from_infrastructure(&error)),
            }
        })
    }

    fn names(&self) -> (&str, &str) {
        (self.service, &self.consumer)
    }
}

/// The gRPC service over every consumer of this process.
#[derive(Clone)]
pub struct FeedOperationsApi {
    feeds: Arc<Vec<Arc<dyn ParkedFeed>>>,
}

impl FeedOperationsApi {
    pub fn new(feeds: Vec<Arc<dyn ParkedFeed>>) -> Self {
        Self { feeds: Arc::new(feeds) }
    }
}

/// The right each method needs.
pub const RIGHTS: &[(&str, &str)] =
    &[("ListParkedEvents", crate::auth::OPERATE_FEEDS), ("RetryParkedEvent", crate::auth::OPERATE_FEEDS)];

#[tonic::async_trait]
impl FeedOperations for FeedOperationsApi {
    async fn list_parked_events(
        &self,
        request: Request<pb::ListParkedEventsRequest>,
    ) -> Result<Response<pb::ListParkedEventsResponse>, Status> {
        let limit = match request.get_ref().limit {
            n if n < 0 => return Err(crate::error::invalid_field("limit", "must not be negative")),
            0 => 100,
            n => i64::from(n.min(1000)),
        };
        let mut events = Vec::new();
        for feed in self.feeds.iter() {
            events.extend(feed.list(limit).await.map_err(|e| crate::error::from_infrastructure(&e))?);
        }
        events.sort_by_key(|e| e.parked_at.map(|t| (t.seconds, t.nanos)));
        events.truncate(limit as usize);
        Ok(Response::new(pb::ListParkedEventsResponse { events }))
    }

    async fn retry_parked_event(
        &self,
        request: Request<pb::RetryParkedEventRequest>,
    ) -> Result<Response<pb::ParkedEvent>, Status> {
        let r = request.into_inner();
        let feed = self
            .feeds
            .iter()
            .find(|f| f.names() == (r.service.as_str(), r.consumer.as_str()))
            .ok_or_else(|| Status::not_found("no such consumer in this process (service, consumer)"))?;
        feed.retry(r.sequence).await?.map(Response::new).ok_or_else(|| Status::not_found("parked event not found"))
    }
}
