//! The messaging service (SPEC ME-1 .. ME-7): campaigns over email (SMS, push and Telegram next),
//! sent at most once per recipient and run, never without consent, measured per recipient. It owns
//! the `messaging` schema, with a read model of every client's addresses and consents followed
//! from the client feed, and balances and purchases from the ledger feed.
pub mod api;
pub mod config;
pub mod consent;
pub mod domain;
pub mod feed;
pub mod schedule;
pub mod send;
pub mod store;
pub mod tracking;
pub mod triggers;

pub use config::Settings;

use loyalty_api::messaging::v1::messaging_service_server::MessagingServiceServer;
use loyalty_platform::clock::{SharedClock, SystemClock};
use loyalty_platform::outbox::{READ_ALL_TENANTS, READ_EVENTS};
use loyalty_platform::server::Services;
use loyalty_platform::service::ServiceKit;
use std::sync::Arc;

/// The service's name: its settings prefix, default schema and event source.
pub const NAME: &str = "messaging";

mod embedded {
    refinery::embed_migrations!("migrations");
}

pub fn migrations() -> refinery::Runner {
    embedded::migrations::runner()
}

/// The right each RPC needs.
pub const RIGHTS: &[(&str, &str)] = &[
    ("SetChannelProvider", "settings.write"),
    ("ListChannelProviders", "campaigns.read"),
    ("SendTestMessage", "settings.write"),
    ("GetSendingRules", "campaigns.read"),
    ("SetSendingRules", "settings.write"),
    ("CreateTemplate", "campaigns.write"),
    ("GetTemplate", "campaigns.read"),
    ("UpdateTemplate", "campaigns.write"),
    ("DeleteTemplate", "campaigns.write"),
    ("ListTemplates", "campaigns.read"),
    ("PreviewMessage", "campaigns.read"),
    ("CreateCampaign", "campaigns.write"),
    ("GetCampaign", "campaigns.read"),
    ("UpdateCampaign", "campaigns.write"),
    ("ListCampaigns", "campaigns.read"),
    ("StartCampaign", "campaigns.send"),
    ("PauseCampaign", "campaigns.send"),
    ("CancelCampaign", "campaigns.send"),
    ("GetCampaignStats", "campaigns.read"),
    // A trigger sends by itself: writing one needs the right to send.
    ("CreateTrigger", "campaigns.send"),
    ("GetTrigger", "campaigns.read"),
    ("UpdateTrigger", "campaigns.send"),
    ("DeleteTrigger", "campaigns.send"),
    ("ListTriggers", "campaigns.read"),
    ("RecordClientEvent", "campaigns.send"),
    ("SendTransactional", "campaigns.send"),
    ("ListDeliveries", "campaigns.read"),
    ("RecordTracking", "campaigns.track"),
    ("RecordDeliveryReceipt", "campaigns.track"),
    ("WatchEvents", READ_EVENTS),
];

/// What the messaging service's own identity may do: follow the client and ledger feeds, record a
/// recipient's unsubscribe with the client service, and take a scheduled run's audience.
pub const IDENTITY_RIGHTS: &[&str] = &[READ_EVENTS, READ_ALL_TENANTS, "clients.write", "segments.read"];

/// Migrates the schema, follows the feeds, starts the sender and adds the service.
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
    use loyalty_platform::feed::{watch_clients, watch_ledger};
    kit.follow(
        services,
        "client",
        kit.peer_feed(&platform.peers.client, feed::CLIENT_EVENTS, watch_clients)?,
        feed::Contacts,
    );
    kit.follow(
        services,
        "ledger",
        kit.peer_feed(&platform.peers.ledger, feed::LEDGER_EVENTS, watch_ledger)?,
        feed::Contacts,
    );
    kit.follow(
        services,
        "segment",
        kit.peer_feed(&platform.peers.segment, feed::SEGMENT_EVENTS, loyalty_platform::feed::watch_segments)?,
        feed::Contacts,
    );
    let sealer = domain::secrets::Sealer::new(settings.messaging.secrets_key.expose())?;
    let links_key = if settings.messaging.links_key.expose().is_empty() {
        ring::digest::digest(&ring::digest::SHA256, &[&b"links:"[..], sealer.raw_key()].concat()).as_ref().to_vec()
    } else {
        settings.messaging.links_key.expose().as_bytes().to_vec()
    };
    let signer = domain::links::Signer::new(&links_key);
    let mut own = settings.messaging.clone();
    let listener = tokio::net::TcpListener::bind(&own.tracking_listen)
        .await
        .map_err(|e| anyhow::anyhow!("messaging.tracking_listen {:?}: {e}", own.tracking_listen))?;
    if own.public_url.is_empty() {
        own.public_url = format!("http://{}", listener.local_addr()?);
    }
    let unsubscriber = consent::Unsubscriber { clients: kit.peer(&platform.peers.client)?, identity: kit.identity()? };
    let tracking = tracking::Tracking {
        pool: kit.pool.clone(),
        signer: signer.clone(),
        unsubscriber: unsubscriber.clone(),
        clock: clock.clone(),
    };
    let tracking = Arc::new(tracking);
    tracking::serve(listener, tracking.clone(), services.draining());
    let scheduler = Arc::new(schedule::Scheduler {
        pool: kit.pool.clone(),
        segments: kit.peer(&platform.peers.segment)?,
        identity: kit.identity()?,
        clock: clock.clone(),
    });
    kit.every("scheduled campaigns", std::time::Duration::from_millis(500), move || {
        let scheduler = scheduler.clone();
        async move { scheduler.pass().await }
    });
    let triggers = Arc::new(triggers::Triggers {
        pool: kit.pool.clone(),
        segments: kit.peer(&platform.peers.segment)?,
        identity: kit.identity()?,
        clock: clock.clone(),
    });
    kit.every("triggers", std::time::Duration::from_millis(500), move || {
        let triggers = triggers.clone();
        async move { triggers.pass().await }
    });
    let sender = send::Sender::new(&kit, own.clone(), (sealer.clone(), signer, unsubscriber), clock.clone())?;
    tokio::spawn(sender.run(services.draining()));
    let api = api::MessagingApi::new(&kit, clock, sealer, (own, tracking))?;
    services.add(MessagingServiceServer::new(api), RIGHTS);
    Ok(())
}
