//! The client service: customer profiles, stores and tenant settings, consents, tags, blocking,
//! merge, history and GDPR (SPEC CL-1 .. CL-11). It owns the `client` schema.
pub mod api;
pub mod config;
pub mod domain;
pub mod events;
pub mod feed;
pub mod store;

pub use config::Settings;

use loyalty_api::client::v1::client_service_server::ClientServiceServer;
use loyalty_platform::clock::{SharedClock, SystemClock};
use loyalty_platform::outbox::{READ_ALL_TENANTS, READ_EVENTS};
use loyalty_platform::server::Services;
use loyalty_platform::service::ServiceKit;
use std::sync::Arc;

/// The service's name: its settings prefix, default schema and event source.
pub const NAME: &str = "client";

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
    ("ImportClients", "clients.import"),
    ("CreateStore", "settings.write"),
    ("UpdateStore", "settings.write"),
    ("ListStores", "clients.read"),
    ("GetTenantSettings", "clients.read"),
    ("UpdateTenantSettings", "settings.write"),
    ("WatchEvents", READ_EVENTS),
];

/// What the client service's own identity may do: follow the ledger's purchases, and pass its
/// block decisions to the ledger (a right no person's token carries).
pub const IDENTITY_RIGHTS: &[&str] = &[READ_EVENTS, READ_ALL_TENANTS, loyalty_platform::auth::SET_LEDGER_BLOCK];

/// Migrates the schema and adds the service to `services`, with the wall clock.
pub async fn register(settings: &Settings, services: &mut Services) -> anyhow::Result<()> {
    register_with_clock(settings, services, Arc::new(SystemClock)).await
}

/// Like [`register`] with a clock the caller controls (tests).
pub async fn register_with_clock(
    settings: &Settings,
    services: &mut Services,
    clock: SharedClock,
) -> anyhow::Result<()> {
    let platform = &settings.platform;
    let kit = ServiceKit::start(NAME, platform, services, (migrations(), IDENTITY_RIGHTS)).await?;
    let purchases =
        kit.peer_feed(&platform.peers.ledger, &["purchase_recorded"], loyalty_platform::feed::watch_ledger)?;
    kit.follow(services, "ledger", purchases, feed::Purchases);
    let pool = kit.pool.clone();
    let every = std::time::Duration::from_secs(settings.clients.history_purge_every_s.max(1));
    kit.every("history past retention", every, move || {
        let pool = pool.clone();
        async move { store::history::purge_past_retention(&pool.get().await?).await }
    });
    let peers = api::Peers {
        cards: kit.peer(&platform.peers.card)?,
        ledger: kit.peer(&platform.peers.ledger)?,
        identity: kit.identity()?,
    };
    let api = api::ClientApi::new(&kit, clock, peers, settings.clients.clone());
    services.add(ClientServiceServer::new(api), RIGHTS);
    Ok(())
}
