//! What the ledger consumes: the client feed. Which clients exist and where they registered (so an
//! unknown id is NOT_FOUND and a store-scoped token's reach is known); a block stops earning and
//! spending (the client service also calls SetAccountBlocked right after its commit; the feed makes
//! a crash or restart lose nothing); a merge moves points to the survivor; an erase scrubs the
//! personal data the ledger's own events carry and loses nothing financial; the tenant's time zone
//! decides month and year ends.
use crate::store::{self, accounts::Origin};
use deadpool_postgres::Transaction;
use loyalty_api::events::v1::{AccountBlockChanged, Event, event::Payload};
use loyalty_platform::clock::SharedClock;
use loyalty_platform::feed::ApplyEvent;
use loyalty_platform::{ClientId, TenantId};

/// Applies client events to accounts, in the consumer's transaction.
pub struct ClientEvents {
    pub clock: SharedClock,
}

impl ApplyEvent for ClientEvents {
    async fn apply(&self, tx: &Transaction<'_>, event: &Event) -> anyhow::Result<()> {
        let tenant = TenantId::trusted(&event.tenant_id);
        let now = self.clock.now();
        match &event.payload {
            Some(Payload::ClientUpserted(c)) => {
                store::clients::live(tx, &tenant, ClientId::from_event(&c.client_id)?, &c.registration_store_id)
                    .await?;
            }
            Some(Payload::ClientDeleted(c)) => {
                store::clients::gone(tx, &tenant, ClientId::from_event(&c.client_id)?, "deleted").await?;
            }
            Some(Payload::ClientErased(c)) => {
                let client = ClientId::from_event(&c.client_id)?;
                store::clients::gone(tx, &tenant, client, "erased").await?;
                loyalty_platform::outbox::rewrite_subject(tx, tenant.as_str(), &client.to_string(), scrub).await?;
            }
            Some(Payload::ClientBlocked(b)) => block(tx, &tenant, (&b.client_id, true, &b.comment), now).await?,
            Some(Payload::ClientUnblocked(b)) => block(tx, &tenant, (&b.client_id, false, &b.comment), now).await?,
            Some(Payload::ClientsMerged(m)) => {
                let survivor = ClientId::from_event(&m.survivor_client_id)?;
                let merged =
                    m.merged_client_ids.iter().map(|i| ClientId::from_event(i)).collect::<Result<Vec<_>, _>>()?;
                let origin = Origin::system("merge", "client-feed");
                store::merge::merge_into(tx, &tenant, survivor, &merged, now, &origin).await?;
                store::clients::merged(tx, &tenant, survivor, &merged).await?;
                publish_merge(tx, &tenant, survivor, &merged, now).await?;
            }
            Some(Payload::TenantSettingsChanged(s)) => store::clients::set_time_zone(tx, &tenant, &s.time_zone).await?,
            _ => {}
        }
        Ok(())
    }
}

/// What read models learn of a merge: the survivor's level (recomputed from the purchases it now
/// holds) and the new balances of the survivor and of every merged account.
async fn publish_merge(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    survivor: ClientId,
    merged: &[ClientId],
    now: time::OffsetDateTime,
) -> anyhow::Result<()> {
    let (before, after, programme) = store::merge::settle_level(tx, tenant, survivor, now).await?;
    let mut events: Vec<Event> =
        crate::events::level(tenant, survivor, (&before, &after), &programme).into_iter().collect();
    for client in std::iter::once(&survivor).chain(merged.iter().filter(|m| **m != survivor)) {
        let view = store::balances::view(tx, tenant, *client).await?;
        events.push(crate::events::balance(tenant, *client, &view));
    }
    loyalty_platform::outbox::publish_many(tx, &events).await
}

/// Applies a block decision of the client service, recording and publishing it when it changes
/// the account (the direct call may have applied it first).
pub async fn block(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    (client, blocked, comment): (&str, bool, &str),
    now: time::OffsetDateTime,
) -> anyhow::Result<()> {
    let client = ClientId::from_event(client)?;
    let origin = Origin { comment, ..Origin::system("client", "client-service") };
    if store::balances::set_blocked(tx, tenant, client, blocked, (now, &origin)).await? {
        let payload = AccountBlockChanged { client_id: client.to_string(), blocked, comment: comment.to_string() };
        let event = loyalty_platform::outbox::event(
            tenant.as_str(),
            crate::events::sweep_actor(),
            &client.to_string(),
            Payload::AccountBlockChanged(payload),
        );
        loyalty_platform::outbox::publish(tx, &event).await?;
    }
    Ok(())
}

/// Removes the personal data the ledger's events carry about an erased client: the name in a
/// points-credited notice, and comments.
fn scrub(event: &mut Event) {
    match event.payload.as_mut() {
        Some(Payload::PointsNotificationRequested(n)) => n.text.clear(),
        Some(Payload::PointsAdjusted(a)) => a.comment.clear(),
        Some(Payload::AccountBlockChanged(b)) => b.comment.clear(),
        _ => {}
    }
}
