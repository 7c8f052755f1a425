//! The loyalty ledger (SPEC LE-1 .. LE-11): programme rules, accounts of points in lots with their
//! own activation and expiry, purchases and returns, reservations, manual adjustments, levels, and
//! hash-chained entries that every balance can be checked against. It owns the `ledger` schema and
//! follows the client feed (blocks, merges, erasures, which clients exist).
pub mod api;
pub mod config;
pub mod domain;
pub mod events;
pub mod feed;
pub mod store;

pub use config::Settings;

use loyalty_api::ledger::v1::ledger_service_server::LedgerServiceServer;
use loyalty_platform::clock::{SharedClock, SystemClock};
use loyalty_platform::outbox::{READ_ALL_TENANTS, READ_EVENTS};
use loyalty_platform::server::Services;
use loyalty_platform::service::ServiceKit;
use std::sync::Arc;
use std::time::Duration;

/// The service's name: its settings prefix, default schema and event source.
pub const NAME: &str = "ledger";

mod embedded {
    refinery::embed_migrations!("migrations");
}

pub fn migrations() -> refinery::Runner {
    embedded::migrations::runner()
}

/// The right each RPC needs.
pub const RIGHTS: &[(&str, &str)] = &[
    ("GetProgramme", "ledger.read"),
    ("UpdateProgramme", "programme.write"),
    ("ListProgrammeVersions", "ledger.read"),
    ("RecordPurchase", "purchases.write"),
    ("AddManualPurchase", "purchases.manual"),
    ("GetPurchase", "ledger.read"),
    ("ListPurchases", "ledger.read"),
    ("ReturnPurchase", "purchases.write"),
    ("ReservePoints", "purchases.write"),
    ("CommitReservation", "purchases.write"),
    ("CancelReservation", "purchases.write"),
    ("AdjustPoints", "ledger.manual"),
    ("ActivatePendingPoints", "ledger.manual"),
    ("GetBalance", "ledger.read"),
    ("BatchGetBalances", "ledger.read"),
    ("ListEntries", "ledger.read"),
    ("ExportEntries", "ledger.read"),
    ("ListOperations", "ledger.read"),
    ("VerifyAccount", "ledger.read"),
    // Only the client service's own identity holds it: no person's token changes a ledger block.
    ("SetAccountBlocked", loyalty_platform::auth::SET_LEDGER_BLOCK),
    ("WatchEvents", READ_EVENTS),
];

/// What the ledger's own identity may do: follow the client feed, look cards up at the till, and
/// ask the client service about a client id it has not heard of yet.
pub const IDENTITY_RIGHTS: &[&str] = &[READ_EVENTS, READ_ALL_TENANTS, "cards.read", "clients.read"];

/// The client events the ledger applies.
const CLIENT_EVENTS: &[&str] = &[
    "client_upserted",
    "client_deleted",
    "client_blocked",
    "client_unblocked",
    "clients_merged",
    "client_erased",
    "tenant_settings_changed",
];

/// Migrates the schema, adds the service, and starts its workers.
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
    kit.follow(services, "client", clients, feed::ClientEvents { clock: clock.clone() });
    start_sweeps(&kit, settings, &clock);
    let peers = api::Peers {
        clients: kit.peer(&platform.peers.client)?,
        cards: kit.peer(&platform.peers.card)?,
        identity: kit.identity()?,
    };
    services.add(LedgerServiceServer::new(api::LedgerApi::new(&kit, clock, peers)), RIGHTS);
    Ok(())
}

/// Lots due to activate or expire, reservations past their deadline, levels to review.
fn start_sweeps(kit: &ServiceKit, settings: &Settings, clock: &SharedClock) {
    let every = Duration::from_millis(settings.sweep.every_ms.max(10));
    let batch = settings.sweep.batch.max(1);
    let (pool, clock_for_lots) = (kit.pool.clone(), clock.clone());
    kit.every("lots due", every, move || {
        let (pool, now) = (pool.clone(), clock_for_lots.now());
        async move { store::expiry::advance_due(&pool, now, batch).await }
    });
    let (pool, clock_for_reservations) = (kit.pool.clone(), clock.clone());
    kit.every("reservations due", every, move || {
        let (pool, now) = (pool.clone(), clock_for_reservations.now());
        async move { store::reservations::time_out_due(&pool, now, batch).await }
    });
    let (pool, clock) = (kit.pool.clone(), clock.clone());
    kit.every("levels to review", every, move || {
        let (pool, now) = (pool.clone(), clock.now());
        async move { store::levels::review_due(&pool, now, batch).await }
    });
}
