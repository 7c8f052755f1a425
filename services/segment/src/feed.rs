//! What the segment service consumes: the client, card and ledger feeds, every event a filter uses
//! kept in the `facts` table in the consumer's transaction (the replicas' models follow the table).
use anyhow::Context;
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
    "tag_changed",
    "clients_merged",
    "client_erased",
    "tenant_settings_changed",
];
pub const CARD_EVENTS: &[&str] = &["card_changed"];
/// What the messaging feed tells: which segments each campaign's audience names (a segment in use
/// is not deleted), and each mailing's steps (002's "received / opened / clicked a mailing").
pub const MESSAGING_EVENTS: &[&str] = &["campaign_changed", "delivery_changed"];
pub const LEDGER_EVENTS: &[&str] = &["purchase_recorded", "purchase_returned", "balance_changed", "level_changed"];

/// Keeps the events of one feed as facts.
pub struct Facts;

impl ApplyEvent for Facts {
    async fn begin(&self, tx: &Transaction<'_>) -> anyhow::Result<()> {
        crate::store::facts::begin_writing(tx).await
    }

    async fn apply(&self, tx: &Transaction<'_>, event: &Event) -> anyhow::Result<()> {
        if let Some(loyalty_api::events::v1::event::Payload::CampaignChanged(c)) = &event.payload {
            let tenant = loyalty_platform::TenantId::trusted(&event.tenant_id);
            let finished = matches!(c.state.as_str(), "completed" | "cancelled" | "deleted");
            let segments = if finished { &[][..] } else { &c.segment_ids[..] };
            return crate::store::segments::set_user(tx, &tenant, "campaign", &c.campaign_id, &c.name, segments).await;
        }
        crate::store::facts::record(tx, event).await
    }

    /// A batch's plain facts go in one statement; the events that need statements of their own
    /// are applied in their place, after the facts before them.
    async fn apply_many(&self, tx: &Transaction<'_>, events: &[&Event]) -> anyhow::Result<()> {
        use crate::store::facts;
        let mut puts = Vec::new();
        for event in events {
            if let Some(put) = facts::plain(event) {
                puts.push(put);
                continue;
            }
            facts::put_many(tx, &mut puts).await?;
            self.apply(tx, event)
                .await
                .with_context(|| format!("applying event {} ({})", event.sequence, event.event_id))?;
        }
        facts::put_many(tx, &mut puts).await
    }
}
