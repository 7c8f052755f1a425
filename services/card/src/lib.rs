//! The card service: loyalty cards, templates, issue forms, the POS lookup, bulk change and merge
//! (SPEC CA-1 .. CA-5). It owns the `card` schema and follows the client feed.
pub mod api;
pub mod config;
pub mod domain;
pub mod events;
pub mod feed;
pub mod store;

pub use config::Settings;

use loyalty_api::card::v1::card_service_server::CardServiceServer;
use loyalty_platform::clock::{SharedClock, SystemClock};
use loyalty_platform::outbox::{READ_ALL_TENANTS, READ_EVENTS};
use loyalty_platform::server::Services;
use loyalty_platform::service::ServiceKit;
use std::sync::Arc;

/// The service's name: its settings prefix, default schema and event source.
pub const NAME: &str = "card";

mod embedded {
    refinery::embed_migrations!("migrations");
}

pub fn migrations() -> refinery::Runner {
    embedded::migrations::runner()
}

/// The right each RPC needs.
pub const RIGHTS: &[(&str, &str)] = &[
    ("CreateCardTemplate", "settings.write"),
    ("UpdateCardTemplate", "settings.write"),
    ("ListCardTemplates", "cards.read"),
    ("DeleteCardTemplate", "settings.write"),
    ("CreateIssueForm", "settings.write"),
    ("ListIssueForms", "cards.read"),
    ("GetNumberingRule", "cards.read"),
    ("UpdateNumberingRule", "settings.write"),
    ("IssueCard", "cards.write"),
    ("GetCard", "cards.read"),
    ("LookupCard", "cards.read"),
    ("ListCards", "cards.read"),
    ("ListClientCards", "cards.read"),
    ("BlockCard", "cards.write"),
    ("UnblockCard", "cards.write"),
    ("ReplaceCard", "cards.write"),
    ("DeleteCard", "cards.write"),
    ("BulkChangeCards", "cards.bulk"),
    ("MergeCards", "cards.write"),
    ("WatchEvents", READ_EVENTS),
];

/// What the card service's own identity may do: follow the client feed, read a holder's points
/// for the till.
pub const IDENTITY_RIGHTS: &[&str] = &[READ_EVENTS, READ_ALL_TENANTS, "ledger.read"];

/// The client events the service applies.
const CLIENT_EVENTS: &[&str] = &["clients_merged", "client_erased"];

/// Migrates the schema, adds the service to `services` and starts following the client feed.
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
    let clients = kit.peer_feed(&platform.peers.client, CLIENT_EVENTS, loyalty_platform::feed::watch_clients)?;
    kit.follow(services, "client", clients, feed::ClientEvents);
    let peers = api::Peers {
        clients: kit.peer(&platform.peers.client)?,
        ledger: kit.peer(&platform.peers.ledger)?,
        identity: kit.identity()?,
    };
    let api = api::CardApi::new(&kit, clock, peers, settings.cards.clone());
    services.add(CardServiceServer::new(api), RIGHTS);
    Ok(())
}
