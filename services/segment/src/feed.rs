//! What the segment service consumes: the client, card and ledger feeds, every event a filter uses
//! kept in the `facts` table in the consumer's transaction (the replicas' models follow the table).
use deadpool_postgres::Transaction;
use loyalty_api::events::v1::Event;
use loyalty_platform::feed::ApplyEvent;

/// The client events a filter uses.
pub const CLIENT_EVENTS: &[&str] = &[
    "client_upserted",
    "client_deleted",
    "client_blocked",
    "client_unblocked",
    "consent_changed",
    "client_tags_changed",
    "clients_merged",
    "client_erased",
    "tenant_settings_changed",
];
pub const CARD_EVENTS: &[&str] = &["card_changed"];
pub const LEDGER_EVENTS: &[&str] = &["purchase_recorded", "purchase_returned", "balance_changed", "level_changed"];

/// Keeps the events of one feed as facts.
pub struct Facts;

impl ApplyEvent for Facts {
    async fn apply(&self, tx: &Transaction<'_>, event: &Event) -> anyhow::Result<()> {
        crate::store::facts::record(tx, event).await
    }
}
