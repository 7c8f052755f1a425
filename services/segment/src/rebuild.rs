//! Rebuilding the read model from the feeds: in one transaction that holds the feed consumers back
//! (the writers' lock), every fact is forgotten and each feed is replayed from sequence 0 to where
//! its consumer stands, through the same handler the consumers use; the table's generation is
//! bumped, so every replica forgets its model and loads the rebuilt table. The consumers then go
//! on from where they stood: nothing is applied twice or skipped. The feeds keep
//! `outbox.retention_days` (730 by default) of history; facts older than that are not replayed.
use crate::feed::Facts;
use crate::store;
use futures::StreamExt;
use loyalty_api::segment::v1::{RebuildProgress, rebuild_progress::Stage};
use loyalty_platform::feed::{ApplyEvent, PeerFeed};
use std::sync::Arc;
use tokio::sync::mpsc;

/// The feeds to replay, named by their consumers.
#[derive(Clone)]
pub struct Rebuilder {
    pool: deadpool_postgres::Pool,
    feeds: Arc<Vec<(&'static str, PeerFeed)>>,
}

/// How often progress is told, in events.
const TELL_EVERY: i64 = 10_000;

impl Rebuilder {
    pub fn new(pool: deadpool_postgres::Pool, feeds: Vec<(&'static str, PeerFeed)>) -> Self {
        Rebuilder { pool, feeds: Arc::new(feeds) }
    }

    /// Replays every feed into an emptied facts table; tells progress on `progress`. Returns the
    /// facts the table holds.
    /// Also returns the table's new generation.
    pub async fn run(
        &self,
        progress: &mpsc::Sender<Result<RebuildProgress, tonic::Status>>,
    ) -> anyhow::Result<(i64, i64)> {
        let mut conn = self.pool.get().await?;
        let tx = conn.transaction().await?;
        store::facts::hold_writers(&tx).await?;
        let generation = store::facts::clear_for_rebuild(&tx).await?;
        for (consumer, feed) in self.feeds.iter() {
            let until = store::facts::cursor(&tx, consumer).await?;
            let tell = |done| RebuildProgress {
                stage: Stage::Replaying as i32,
                feed: consumer.to_string(),
                done,
                total: until,
                facts: 0,
            };
            let _ = progress.send(Ok(tell(0))).await;
            if until == 0 {
                // Nothing was taken from this feed (messaging not deployed yet): nothing to replay,
                // and its service need not be there to ask.
                continue;
            }
            let mut events = feed.events(0, true).await?;
            let mut done = 0;
            while let Some(event) = events.next().await {
                let event = event?;
                if event.sequence > until {
                    break;
                }
                Facts.apply(&tx, &event).await?;
                done += 1;
                if done % TELL_EVERY == 0 {
                    let _ = progress.send(Ok(tell(event.sequence))).await;
                }
            }
            let _ = progress.send(Ok(tell(until))).await;
        }
        let facts = store::facts::count(&tx).await?;
        tx.commit().await?;
        Ok((facts, generation))
    }
}
