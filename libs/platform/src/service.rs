//! What every service does when it is built, in one place: its schema migrated, its pool and
//! outbox, idempotency keys and outbox rows purged past their retention, the feeds it follows
//! (with their parked events listed in `FeedOperations`), the sweeps it repeats.
//!
//! ```text
//! let kit = ServiceKit::start("card", &settings, services, (migrations(), IDENTITY_RIGHTS)).await?;
//! kit.follow(services, "client", kit.peer_feed(&settings.peers.client, KINDS, watch_clients)?, feed::ClientEvents);
//! services.add(CardServiceServer::new(CardApi::new(&kit, ...)), RIGHTS);
//! ```
use crate::config::PlatformSettings;
use crate::feed::{ApplyEvent, FeedConsumer, PeerFeed, WatchCall};
use crate::feed_ops::ParkedEvents;
use crate::identity::ServiceIdentity;
use crate::outbox::Outbox;
use crate::server::Services;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A service's shared machinery, built by [`ServiceKit::start`].
pub struct ServiceKit {
    /// "client", "card", "ledger": names it in events, settings and metrics.
    pub name: &'static str,
    pub settings: PlatformSettings,
    pub schema: String,
    pub pool: deadpool_postgres::Pool,
    pub outbox: Outbox,
    /// The rights this service's own identity needs (its token carries them).
    pub identity_rights: &'static [&'static str],
    draining: CancellationToken,
}

impl ServiceKit {
    /// Migrates the service's schema (under an advisory lock: replicas starting together migrate
    /// one at a time), opens its pool and outbox, and starts the retention purges.
    pub async fn start(
        name: &'static str,
        settings: &PlatformSettings,
        services: &Services,
        (migrations, identity_rights): (refinery::Runner, &'static [&'static str]),
    ) -> anyhow::Result<Self> {
        let schema = schema_of(name, settings);
        crate::db::migrate(&settings.database, &schema, Some(migrations)).await?;
        let pool = crate::db::pool(&settings.database, &schema)?;
        let draining = services.draining();
        let outbox = Outbox::new(pool.clone(), &settings.database, &schema, name, draining.clone())?;
        let kit = Self { name, settings: settings.clone(), schema, pool, outbox, identity_rights, draining };
        kit.start_purges();
        Ok(kit)
    }

    fn start_purges(&self) {
        let pool = self.pool.clone();
        self.every("idempotency keys past retention", Duration::from_secs(3600), move || {
            let pool = pool.clone();
            async move { crate::idempotency::purge_expired(&**pool.get().await?).await }
        });
        let pool = self.pool.clone();
        let days = i32::try_from(self.settings.outbox.retention_days).unwrap_or(i32::MAX);
        self.every("outbox past retention", Duration::from_secs(3600), move || {
            let pool = pool.clone();
            async move { crate::outbox::purge_older_than(&**pool.get().await?, days).await }
        });
    }

    /// A lazily connecting channel to a peer service (`settings.peers.<name>`).
    pub fn peer(&self, configured: &str) -> anyhow::Result<tonic::transport::Channel> {
        self.settings.peer_channel(configured)
    }

    /// This service's own identity (`identity.token_file`).
    pub fn identity(&self) -> anyhow::Result<ServiceIdentity> {
        ServiceIdentity::new(self.name, &self.settings, self.identity_rights)
    }

    /// The feed of the peer at `configured`, read with `call` under this service's identity.
    pub fn peer_feed(
        &self,
        configured: &str,
        kinds: &'static [&'static str],
        call: WatchCall,
    ) -> anyhow::Result<PeerFeed> {
        Ok(PeerFeed { channel: self.peer(configured)?, identity: self.identity()?, kinds, call })
    }

    /// Applies `feed` with `handler` for as long as the server serves; cursor row `consumer`.
    /// When this replica drains it stops leading, so another replica takes the feed over at once.
    pub fn follow<H: ApplyEvent>(&self, services: &mut Services, consumer: &str, feed: PeerFeed, handler: H) {
        let handler = Arc::new(handler);
        let runner = FeedConsumer::new(consumer, self.pool.clone(), Arc::new(feed), handler.clone());
        tokio::spawn(runner.run(self.draining.clone()));
        services.add_parked(Arc::new(ParkedEvents {
            service: self.name,
            consumer: consumer.to_string(),
            pool: self.pool.clone(),
            handler,
        }));
    }

    /// Runs `pass` every `every` until the server drains (see [`crate::sweep::every`]).
    pub fn every<F, Fut>(&self, name: &'static str, every: Duration, pass: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<u64>> + Send + 'static,
    {
        tokio::spawn(crate::sweep::every(name, every, self.draining.clone(), pass));
    }
}

/// The schema service `name` owns: `database.schema`, or the service's name.
pub fn schema_of(name: &str, settings: &PlatformSettings) -> String {
    if settings.database.schema.is_empty() { name.replace('-', "_") } else { settings.database.schema.clone() }
}
