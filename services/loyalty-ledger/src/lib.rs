//! The loyalty ledger (SPEC LE-1 .. LE-11). Work in progress: the domain model — programme rules,
//! the lot account with first-expiring-first spending, reservations, expiry, returns and debt, and
//! the hash chain of entries — is here and property-tested, with the storage of accounts, lots and
//! chained entries; the gRPC service, idempotency, purchases and the feeds follow in the next steps
//! of its issue.
pub mod api;
pub mod balances;
pub mod domain;
pub mod error;
pub mod events;
pub mod expiry;
pub mod feed;
pub mod merge;
pub mod ops;
pub mod programmes;
pub mod purchases;
pub mod reservations;
pub mod returns;
pub mod store;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// The schema this service owns, unless `database.schema` says otherwise.
pub const SCHEMA: &str = "ledger";

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
    ("VerifyAccount", "ledger.read"),
    ("SetAccountBlocked", "clients.write"),
    ("WatchEvents", loyalty_platform::outbox::READ_EVENTS),
];

/// Migrates the schema, adds the service, and starts its workers: expiry and activation at their
/// instants, reservation timeouts, and the client feed.
pub async fn register(
    settings: &loyalty_platform::config::PlatformSettings,
    services: &mut loyalty_platform::server::Services,
) -> anyhow::Result<()> {
    register_with_clock(settings, services, std::sync::Arc::new(loyalty_platform::clock::SystemClock)).await
}

/// Like [`register`] with a clock the caller moves (tests).
pub async fn register_with_clock(
    settings: &loyalty_platform::config::PlatformSettings,
    services: &mut loyalty_platform::server::Services,
    clock: loyalty_platform::clock::SharedClock,
) -> anyhow::Result<()> {
    use std::sync::Arc;
    let schema =
        if settings.database.schema.is_empty() { SCHEMA.to_string() } else { settings.database.schema.clone() };
    loyalty_platform::db::migrate(&settings.database, &schema, Some(migrations())).await?;
    let pool = loyalty_platform::db::pool(&settings.database, &schema)?;
    let outbox = loyalty_platform::outbox::Outbox::new(
        pool.clone(),
        &settings.database,
        &schema,
        "ledger",
        services.draining(),
    )?;
    let clients =
        tonic::transport::Channel::from_shared(settings.peer_endpoint(&settings.peers.client))?.connect_lazy();
    let cards = tonic::transport::Channel::from_shared(settings.peer_endpoint(&settings.peers.card))?.connect_lazy();
    let feed = loyalty_platform::feed::PeerFeed {
        channel: clients.clone(),
        keys: loyalty_platform::auth::TokenKeys::new(&settings.auth),
        subject: "ledger-service",
        kinds: &["client_blocked", "client_unblocked", "clients_merged"],
        call: loyalty_platform::feed::watch_clients,
    };
    let consumer =
        loyalty_platform::feed::FeedConsumer::new("client", pool.clone(), Arc::new(feed), Arc::new(feed::ClientEvents));
    // Stops leading when this replica drains, so another replica takes the feed over at once.
    tokio::spawn(consumer.run(services.draining()));
    tokio::spawn(loyalty_platform::idempotency::purge_periodically(pool.clone(), std::time::Duration::from_secs(3600)));
    tokio::spawn(sweep(pool.clone(), clock.clone()));
    services.add(
        loyalty_api::ledger::v1::ledger_service_server::LedgerServiceServer::new(api::LedgerApi::new(
            pool,
            outbox,
            clock,
            (clients, cards),
        )),
        RIGHTS,
    );
    Ok(())
}

/// Every half second: lots due to activate or expire, reservations past their deadline.
async fn sweep(pool: deadpool_postgres::Pool, clock: loyalty_platform::clock::SharedClock) {
    let origin = ops::Origin {
        source: "system",
        actor: serde_json::json!({"id": "ledger-sweep"}),
        comment: "",
        purchase_id: None,
    };
    loop {
        let now = clock.now();
        if let Err(e) = expiry::advance_due(&pool, now, 500, &origin).await {
            tracing::warn!(error = format!("{e:#}"), "expiry sweep failed");
        }
        if let Err(e) = reservations::time_out_due(&pool, now, 500, &origin).await {
            tracing::warn!(error = format!("{e:#}"), "reservation sweep failed");
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}
