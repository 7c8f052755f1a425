//! What the card service consumes: the client feed. A client merge moves the merged clients' cards
//! to the survivor; an erase clears the personal fields cards hold (wallet links).
use deadpool_postgres::Transaction;
use loyalty_api::events::v1::{Event, event::Payload};
use loyalty_platform::feed::ApplyEvent;
use loyalty_platform::outbox::publish_many;
use loyalty_platform::{ClientId, TenantId};

/// Applies client events to cards, in the consumer's transaction.
pub struct ClientEvents;

impl ApplyEvent for ClientEvents {
    async fn apply(&self, tx: &Transaction<'_>, event: &Event) -> anyhow::Result<()> {
        let tenant = TenantId::trusted(&event.tenant_id);
        match &event.payload {
            Some(Payload::ClientsMerged(m)) => {
                let survivor = ClientId::from_event(&m.survivor_client_id)?;
                let merged =
                    m.merged_client_ids.iter().map(|i| ClientId::from_event(i)).collect::<Result<Vec<_>, _>>()?;
                let cards = crate::store::move_to_survivor(tx, &tenant, survivor, &merged).await?;
                let events: Vec<Event> = cards.iter().map(|c| crate::events::touched(event, c, "moved")).collect();
                publish_many(tx, &events).await?;
            }
            Some(Payload::ClientErased(e)) => {
                let cards = crate::store::forget_person(tx, &tenant, ClientId::from_event(&e.client_id)?).await?;
                let events: Vec<Event> = cards.iter().map(|c| crate::events::touched(event, c, "erased")).collect();
                publish_many(tx, &events).await?;
            }
            _ => {}
        }
        Ok(())
    }
}
