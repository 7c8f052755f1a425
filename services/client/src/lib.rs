//! The client service: customer profiles, stores and tenant settings, consents, tags, blocking,
//! merge, history and GDPR (SPEC CL-1 .. CL-11). It owns the `client` schema.
pub mod api;
pub mod domain;
pub mod error;
pub mod events;
pub mod feed;
pub mod store;

use loyalty_api::client::v1::client_service_server::ClientServiceServer;
use loyalty_platform::clock::{SharedClock, SystemClock};
use loyalty_platform::config::PlatformSettings;
use loyalty_platform::outbox::{Outbox, READ_EVENTS};
use loyalty_platform::server::Services;
use std::sync::Arc;

/// The schema this service owns, unless `database.schema` says otherwise.
pub const SCHEMA: &str = "client";

mod embedded {
    refinery::embed_migrations!("migrations");
}

pub fn migrations() -> refinery::Runner {
    embedded::migrations::runner()
}

/// The right each RPC needs.
pub const RIGHTS: &[(&str, &str)] = &[
    ("CreateClient", "clients.write"),
    ("GetClient", "clients.read"),
    ("BatchGetClients", "clients.read"),
    ("UpdateClient", "clients.write"),
    ("DeleteClient", "clients.write"),
    ("ListClients", "clients.read"),
    ("BlockClient", "clients.write"),
    ("UnblockClient", "clients.write"),
    ("SetConsent", "clients.write"),
    ("CheckMarketingPermission", "clients.read"),
    ("CreateTag", "clients.write"),
    ("UpdateTag", "clients.write"),
    ("DeleteTag", "clients.write"),
    ("ListTags", "clients.read"),
    ("ModifyClientTags", "clients.write"),
    ("BulkEditTags", "clients.write"),
    ("MergeClients", "clients.write"),
    ("ListClientHistory", "clients.read"),
    ("EraseClient", "clients.erase"),
    ("ExportClientData", "clients.export"),
    ("CreateStore", "settings.write"),
    ("UpdateStore", "settings.write"),
    ("ListStores", "clients.read"),
    ("GetTenantSettings", "clients.read"),
    ("UpdateTenantSettings", "settings.write"),
    ("WatchEvents", READ_EVENTS),
];

pub fn schema(settings: &PlatformSettings) -> String {
    if settings.database.schema.is_empty() { SCHEMA.to_string() } else { settings.database.schema.clone() }
}

/// Migrates the schema and adds the service to `services`, with the wall clock.
pub async fn register(settings: &PlatformSettings, services: &mut Services) -> anyhow::Result<()> {
    register_with_clock(settings, services, Arc::new(SystemClock)).await
}

/// Like [`register`] with a clock the caller controls (tests).
pub async fn register_with_clock(
    settings: &PlatformSettings,
    services: &mut Services,
    clock: SharedClock,
) -> anyhow::Result<()> {
    let schema = schema(settings);
    loyalty_platform::db::migrate(&settings.database, &schema, Some(migrations())).await?;
    let pool = loyalty_platform::db::pool(&settings.database, &schema)?;
    let outbox = Outbox::new(pool.clone(), &settings.database, &schema, "client", services.draining())?;
    let cards = tonic::transport::Channel::from_shared(settings.peer_endpoint(&settings.peers.card))?.connect_lazy();
    let ledger = tonic::transport::Channel::from_shared(settings.peer_endpoint(&settings.peers.ledger))?.connect_lazy();
    let purchases = loyalty_platform::feed::PeerFeed {
        channel: ledger.clone(),
        keys: loyalty_platform::auth::TokenKeys::new(&settings.auth),
        subject: "client-service",
        kinds: &["purchase_recorded"],
        call: loyalty_platform::feed::watch_ledger,
    };
    let consumer = loyalty_platform::feed::FeedConsumer::new(
        "ledger",
        pool.clone(),
        Arc::new(purchases),
        Arc::new(feed::Purchases),
    );
    // Stops leading when this replica drains, so another replica takes the feed over at once.
    tokio::spawn(consumer.run(services.draining()));
    tokio::spawn(loyalty_platform::idempotency::purge_periodically(pool.clone(), std::time::Duration::from_secs(3600)));
    services.add(ClientServiceServer::new(api::ClientApi::new(pool, outbox, clock, (cards, ledger))), RIGHTS);
    Ok(())
}
