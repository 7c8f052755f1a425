//! The card service: loyalty cards, templates, issue forms, the POS lookup, bulk change and merge
//! (SPEC CA-1 .. CA-5). It owns the `card` schema and follows the client feed.
pub mod api;
pub mod domain;
pub mod error;
pub mod events;
pub mod store;

use loyalty_api::card::v1::card_service_server::CardServiceServer;
use loyalty_platform::auth::TokenKeys;
use loyalty_platform::clock::SystemClock;
use loyalty_platform::config::PlatformSettings;
use loyalty_platform::feed::FeedConsumer;
use loyalty_platform::outbox::{Outbox, READ_EVENTS};
use loyalty_platform::server::Services;
use std::sync::Arc;

/// The schema this service owns, unless `database.schema` says otherwise.
pub const SCHEMA: &str = "card";

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

/// Migrates the schema, adds the service to `services` and starts following the client feed.
pub async fn register(settings: &PlatformSettings, services: &mut Services) -> anyhow::Result<()> {
    let schema =
        if settings.database.schema.is_empty() { SCHEMA.to_string() } else { settings.database.schema.clone() };
    loyalty_platform::db::migrate(&settings.database, &schema, Some(migrations())).await?;
    let pool = loyalty_platform::db::pool(&settings.database, &schema)?;
    let outbox = Outbox::new(pool.clone(), &settings.database, &schema, "card", services.draining())?;
    let clients =
        tonic::transport::Channel::from_shared(settings.peer_endpoint(&settings.peers.client))?.connect_lazy();
    let feed = loyalty_platform::feed::PeerFeed {
        channel: clients.clone(),
        keys: TokenKeys::new(&settings.auth),
        subject: "card-service",
        kinds: &["clients_merged", "client_erased"],
        call: loyalty_platform::feed::watch_clients,
    };
    let consumer = FeedConsumer::new("client", pool.clone(), Arc::new(feed), Arc::new(events::ClientEvents));
    // Leads while this replica serves; when it drains, another replica takes the lock and the feed.
    tokio::spawn(consumer.run(services.draining()));
    tokio::spawn(loyalty_platform::idempotency::purge_periodically(pool.clone(), std::time::Duration::from_secs(3600)));
    services.add(CardServiceServer::new(api::CardApi::new(pool, outbox, Arc::new(SystemClock), clients)), RIGHTS);
    Ok(())
}
