//! What the card service consumes: the client feed. A client merge moves the merged clients' cards to
//! the survivor; an erase clears the personal fields cards hold (wallet links).
use anyhow::Context;
use futures::future::BoxFuture;
use loyalty_api::card::v1::Card;
use loyalty_api::events::v1::{CardChanged, Event, event::Payload};
use loyalty_platform::feed::ApplyEvent;
use loyalty_platform::outbox::publish_many;
use uuid::Uuid;

/// Applies client events to cards, in the consumer's transaction.
pub struct ClientEvents;

fn moved(event: &Event, card: &Card) -> Event {
    let payload = CardChanged {
        card_id: card.id.clone(),
        client_id: card.client_id.clone(),
        number: card.number.clone(),
        barcode: card.barcode.clone(),
        status: crate::domain::status_name(card.status).unwrap_or("active").into(),
        store_id: card.store_id.clone(),
        template_id: card.template_id.clone(),
        issue_form_id: card.issue_form_id.clone(),
        kind: crate::domain::kind_name(card.kind).unwrap_or("physical").into(),
        tags: card.tags.clone(),
        issued_at: card.created_at,
        change: "moved".into(),
    };
    let mut e = loyalty_platform::outbox::event(
        &event.tenant_id,
        event.actor.clone().unwrap_or_default(),
        &card.id,
        Payload::CardChanged(payload),
    );
    e.traceparent = event.traceparent.clone();
    e
}

impl ApplyEvent for ClientEvents {
    fn apply<'a>(
        &'a self,
        tx: &'a deadpool_postgres::Transaction<'a>,
        event: &'a Event,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            match &event.payload {
                Some(Payload::ClientsMerged(m)) => {
                    let survivor = Uuid::parse_str(&m.survivor_client_id).context("survivor id")?;
                    let merged: Vec<Uuid> =
                        m.merged_client_ids.iter().filter_map(|i| Uuid::parse_str(i).ok()).collect();
                    let rows = tx
                        .query(
                            &format!(
                                "UPDATE cards SET client_id = $2, updated_at = now() WHERE tenant_id = $1 AND client_id = ANY($3)
                                 RETURNING {}",
                                crate::store::CARD_COLUMNS
                            ),
                            &[&event.tenant_id, &survivor, &merged],
                        )
                        .await
                        .context("moving cards to the survivor")?;
                    let events: Vec<Event> = rows.iter().map(crate::store::card).map(|c| moved(event, &c)).collect();
                    publish_many(tx, &events).await?;
                }
                Some(Payload::ClientErased(e)) => {
                    let client = Uuid::parse_str(&e.client_id).context("client id")?;
                    tx.execute(
                        "UPDATE cards SET wallet_link = '', updated_at = now() WHERE tenant_id = $1 AND client_id = $2",
                        &[&event.tenant_id, &client],
                    )
                    .await
                    .context("clearing the erased client's wallet links")?;
                }
                _ => {}
            }
            Ok(())
        })
    }
}
