//! What messaging follows: the client feed (who may be messaged, at which address) and the
//! ledger feed (balances for placeholders, purchases for conversions), each event applied in the
//! consumer's transaction.
use crate::domain::rules::Channel;
use crate::store::contacts::{self, Bought, Profile};
use deadpool_postgres::Transaction;
use loyalty_api::common::v1::ConsentStatus;
use loyalty_api::events::v1::{Event, event::Payload};
use loyalty_platform::feed::ApplyEvent;
use uuid::Uuid;

pub const CLIENT_EVENTS: &[&str] = &[
    "client_upserted",
    "client_deleted",
    "client_blocked",
    "client_unblocked",
    "consent_changed",
    "clients_merged",
    "client_erased",
    "tenant_settings_changed",
];
pub const LEDGER_EVENTS: &[&str] = &["purchase_recorded", "balance_changed", "points_notification_requested"];

fn id(text: &str) -> anyhow::Result<Uuid> {
    Uuid::parse_str(text).map_err(|_| anyhow::anyhow!("{text:?} is not a client id"))
}

/// Keeps the contacts table as the client and ledger feeds say.
pub struct Contacts;

impl ApplyEvent for Contacts {
    async fn apply(&self, tx: &Transaction<'_>, event: &Event) -> anyhow::Result<()> {
        let tenant = event.tenant_id.as_str();
        match &event.payload {
            Some(Payload::ClientUpserted(c)) => {
                let profile = Profile {
                    first_name: &c.first_name,
                    last_name: &c.last_name,
                    email: &c.email,
                    phone: &c.phone,
                    city: &c.city,
                    registration_store_id: &c.registration_store_id,
                };
                contacts::upsert_profile(tx, tenant, id(&c.client_id)?, &profile).await
            }
            Some(Payload::ConsentChanged(c)) => {
                let Some(channel) = Channel::from_contract(c.channel) else { return Ok(()) };
                let status = match ConsentStatus::try_from(c.status).unwrap_or(ConsentStatus::Unknown) {
                    ConsentStatus::Subscribed => "subscribed",
                    ConsentStatus::Unsubscribed => "unsubscribed",
                    _ => "unknown",
                };
                contacts::set_consent(tx, tenant, id(&c.client_id)?, channel, status, &c.address).await
            }
            Some(Payload::ClientBlocked(c)) => contacts::set_blocked(tx, tenant, id(&c.client_id)?, true).await,
            Some(Payload::ClientUnblocked(c)) => contacts::set_blocked(tx, tenant, id(&c.client_id)?, false).await,
            Some(Payload::ClientDeleted(c)) => contacts::set_deleted(tx, tenant, id(&c.client_id)?).await,
            Some(Payload::ClientsMerged(m)) => {
                for merged in &m.merged_client_ids {
                    contacts::set_deleted(tx, tenant, id(merged)?).await?;
                }
                Ok(())
            }
            Some(Payload::ClientErased(c)) => contacts::erase(tx, tenant, id(&c.client_id)?).await,
            Some(Payload::TenantSettingsChanged(s)) => {
                contacts::set_tenant(tx, tenant, &s.time_zone, &s.currency).await
            }
            Some(Payload::BalanceChanged(b)) => contacts::set_balance(tx, tenant, id(&b.client_id)?, b.available).await,
            Some(Payload::PurchaseRecorded(p)) if !p.client_id.is_empty() => {
                let at = p
                    .purchased_at
                    .as_ref()
                    .and_then(loyalty_platform::convert::from_timestamp)
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
                let amount = p.amount.clone().unwrap_or_default();
                let categories: Vec<String> = p.lines.iter().map(|l| l.category.clone()).collect();
                let client = id(&p.client_id)?;
                let bought = Bought {
                    at,
                    minor: amount.minor_units,
                    currency: &amount.currency,
                    store_id: &p.store_id,
                    categories: &categories,
                };
                contacts::record_purchase(tx, tenant, client, &bought).await?;
                crate::store::deliveries::convert(tx, tenant, client, at).await
            }
            Some(Payload::PointsNotificationRequested(n)) if !n.text.is_empty() => {
                // The points-credited notice (LE-3): one per event that asked for it.
                let Some(channel) = Channel::from_contract(n.channel) else { return Ok(()) };
                let literal = n.text.replace('{', "{{").replace('}', "}}");
                let content =
                    loyalty_api::messaging::v1::Content { channel: n.channel, body: literal, ..Default::default() };
                let occurrence = format!("notice:{}", event.event_id);
                let at = event
                    .occurred_at
                    .as_ref()
                    .and_then(loyalty_platform::convert::from_timestamp)
                    .unwrap_or(time::OffsetDateTime::now_utc());
                let id = (occurrence.as_str(), id(&n.client_id)?, channel.name());
                crate::store::deliveries::add_notice(tx, tenant, id, &prost::Message::encode_to_vec(&content), at)
                    .await?;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}
