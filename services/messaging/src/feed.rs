//! What messaging follows: the client feed (who may be messaged, at which address) and the
//! ledger feed (balances for placeholders, purchases for conversions), each event applied in the
//! consumer's transaction.
use crate::domain::rules::Channel;
use crate::store::contacts::{self, Bought, Profile};
use crate::store::triggers;
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
pub const SEGMENT_EVENTS: &[&str] = &["segment_membership_changed"];

/// A client entering a segment within this long after an import changed their facts is taken to
/// have entered because of the import, and is not greeted.
const IMPORT_SETTLES: time::Duration = time::Duration::hours(1);

/// When the event happened (its commit time).
fn occurred(event: &Event) -> time::OffsetDateTime {
    event
        .occurred_at
        .as_ref()
        .and_then(loyalty_platform::convert::from_timestamp)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// Whether a person or an integration made the change (not the suite itself: a merge moving
/// points, a sweep).
fn by_someone(event: &Event) -> bool {
    use loyalty_api::common::v1::actor::Kind;
    let kind = event.actor.as_ref().map(|a| a.kind).unwrap_or(0);
    kind != Kind::System as i32 && kind != Kind::Service as i32
}

/// Whether the fact arrived by a file import: such facts fire no trigger.
fn by_import(event: &Event) -> bool {
    event.actor.as_ref().is_some_and(|a| a.channel == loyalty_api::common::v1::Channel::Import as i32)
}

fn date(d: Option<&loyalty_api::common::v1::Date>) -> Option<time::Date> {
    let d = d?;
    let month = time::Month::try_from(u8::try_from(d.month).ok()?).ok()?;
    time::Date::from_calendar_date(d.year, month, u8::try_from(d.day).ok()?).ok()
}

/// Fires the triggers of `kind` the event matches for `client`, once per event.
async fn fire(tx: &Transaction<'_>, event: &Event, kind: &str, client: Uuid, segment_id: &str) -> anyhow::Result<()> {
    let at = occurred(event);
    let fact = triggers::Fact {
        kind,
        segment_id,
        event_name: "",
        client,
        key: &event.event_id,
        at,
        // Entering a segment because an import just changed the client's facts greets nobody.
        unless_imported_since: (!segment_id.is_empty()).then(|| at - IMPORT_SETTLES),
    };
    triggers::fire(tx, &event.tenant_id, &fact).await?;
    Ok(())
}

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
                    birth_date: date(c.birth_date.as_ref()),
                };
                let client = id(&c.client_id)?;
                contacts::upsert_profile(tx, tenant, client, &profile).await?;
                if by_import(event) {
                    contacts::mark_imported(tx, tenant, client, occurred(event)).await?;
                }
                Ok(())
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
            Some(Payload::BalanceChanged(b)) => {
                let client = id(&b.client_id)?;
                let balance = contacts::Balance {
                    available: b.available,
                    earned_total: b.earned_total,
                    next_expiry_at: b.next_expiry_at.as_ref().and_then(loyalty_platform::convert::from_timestamp),
                    next_expiry_points: b.next_expiry_points,
                };
                let earned = contacts::set_balance(tx, tenant, client, &balance).await?;
                if by_import(event) {
                    contacts::mark_imported(tx, tenant, client, occurred(event)).await?;
                } else if earned > 0 && by_someone(event) {
                    // Points a merge moved onto the survivor were credited long ago.
                    fire(tx, event, "points_credited", client, "").await?;
                }
                Ok(())
            }
            Some(Payload::SegmentMembershipChanged(m)) => {
                let client = id(&m.client_id)?;
                let kind = if m.entered { "segment_entered" } else { "segment_left" };
                fire(tx, event, kind, client, &m.segment_id).await
            }
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
                    imported: by_import(event),
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
