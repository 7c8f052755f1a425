//! The segment service (SPEC SE-1 .. SE-9): a read model of every client fact built from the
//! client, card and ledger feeds, the filter language answered over it in memory, segments,
//! dashboards and reports. It owns the `segment` schema.
//!
//! Why in memory: a marketer's filter builder asks for a count at every click, over a million
//! clients and ten million purchase lines. Per-client columns and day-ordered rows answer such
//! counts in milliseconds where SQL over the raw tables takes seconds; the `facts` table keeps
//! the model durable and lets every replica build the same one (see `model`).
pub mod api;
pub mod config;
pub mod domain;
pub mod feed;
pub mod membership;
pub mod model;
pub mod rebuild;
pub mod render;
pub mod store;

pub use config::Settings;

use loyalty_api::segment::v1::segment_service_server::SegmentServiceServer;
use loyalty_platform::clock::{SharedClock, SystemClock};
use loyalty_platform::outbox::{READ_ALL_TENANTS, READ_EVENTS};
use loyalty_platform::server::Services;
use loyalty_platform::service::ServiceKit;
use std::sync::Arc;
use std::time::Duration;

/// The service's name: its settings prefix, default schema and event source.
pub const NAME: &str = "segment";

mod embedded {
    refinery::embed_migrations!("migrations");
}

pub fn migrations() -> refinery::Runner {
    embedded::migrations::runner()
}

/// The right each RPC needs.
pub const RIGHTS: &[(&str, &str)] = &[
    ("ListFacts", "segments.read"),
    ("ParseFilter", "segments.read"),
    ("FormatFilter", "segments.read"),
    ("CountClients", "segments.read"),
    ("ListMatchingClients", "segments.read"),
    ("StreamClientIds", "segments.read"),
    ("GetClientFacts", "segments.read"),
    ("CreateSegment", "segments.write"),
    ("GetSegment", "segments.read"),
    ("UpdateSegment", "segments.write"),
    ("DeleteSegment", "segments.write"),
    ("ListSegments", "segments.read"),
    ("RefreshSegment", "segments.write"),
    ("ModifySegmentMembers", "segments.write"),
    ("GetSegmentMetrics", "analytics.read"),
    ("ListAutomaticSegments", "segments.read"),
    ("GetAutomaticSegmentSettings", "segments.read"),
    ("UpdateAutomaticSegmentSettings", "settings.write"),
    ("GetRfmGrid", "analytics.read"),
    ("GetDashboard", "analytics.read"),
    ("GetChart", "analytics.read"),
    ("RenderDashboard", "analytics.read"),
    ("GetCustomerTypeAnalytics", "analytics.read"),
    ("GetReport", "analytics.read"),
    ("RebuildReadModel", loyalty_platform::auth::OPERATE_READ_MODELS),
    ("WatchEvents", READ_EVENTS),
];

/// What the segment service's own identity may do: follow the client, card and ledger feeds.
pub const IDENTITY_RIGHTS: &[&str] = &[READ_EVENTS, READ_ALL_TENANTS];

/// Migrates the schema, follows the feeds, loads the read model and adds the service.
pub async fn register(settings: &Settings, services: &mut Services) -> anyhow::Result<()> {
    register_with_clock(settings, services, Arc::new(SystemClock)).await
}

/// Like [`register`] with a clock the caller moves (tests).
pub async fn register_with_clock(
    settings: &Settings,
    services: &mut Services,
    clock: SharedClock,
) -> anyhow::Result<()> {
    let platform = &settings.platform;
    let kit = ServiceKit::start(NAME, platform, services, (migrations(), IDENTITY_RIGHTS)).await?;
    use loyalty_platform::feed::{watch_cards, watch_clients, watch_ledger, watch_messaging};
    let mut replays = Vec::new();
    for (consumer, peer, kinds, call) in [
        ("client", &platform.peers.client, feed::CLIENT_EVENTS, watch_clients as loyalty_platform::feed::WatchCall),
        ("card", &platform.peers.card, feed::CARD_EVENTS, watch_cards),
        ("ledger", &platform.peers.ledger, feed::LEDGER_EVENTS, watch_ledger),
        ("messaging", &platform.peers.messaging, feed::MESSAGING_EVENTS, watch_messaging),
    ] {
        kit.follow(services, consumer, kit.peer_feed(peer, kinds, call)?, feed::Facts);
        replays.push((consumer, kit.peer_feed(peer, kinds, call)?));
    }
    let rebuilder = rebuild::Rebuilder::new(kit.pool.clone(), replays);
    let model = model::Model::default();
    let (pool, follower, batch) = (kit.pool.clone(), model.clone(), settings.segments.follow_batch.max(1));
    kit.every("facts to follow", Duration::from_millis(settings.segments.follow_every_ms.max(10)), move || {
        let (pool, model) = (pool.clone(), follower.clone());
        async move { model.follow(&pool, batch).await }
    });
    // The built-in segments' thresholds and RFM scores, at each tenant's midnight.
    let (refresher, now) = (model.clone(), clock.clone());
    let every = time::Duration::seconds(settings.segments.automatic_every_s.min(86_400) as i64);
    kit.every("automatic segments", Duration::from_secs(1), move || {
        let (model, now) = (refresher.clone(), now.clone());
        async move { Ok(tokio::task::spawn_blocking(move || model.refresh_automatic(now.now(), every)).await? as u64) }
    });
    for (lane, task) in
        [(membership::Lane::Saved, "segment membership"), (membership::Lane::BuiltIn, "built-in segment membership")]
    {
        let publisher = membership::Publisher::new(lane, model.clone(), kit.pool.clone(), clock.clone());
        kit.every(task, Duration::from_millis(settings.segments.follow_every_ms.max(10)), move || {
            let publisher = publisher.clone();
            async move { publisher.pass().await }
        });
    }
    let api = api::SegmentApi::new(&kit, clock, model, rebuilder, settings.segments.clone());
    services.add(SegmentServiceServer::new(api), RIGHTS);
    Ok(())
}
