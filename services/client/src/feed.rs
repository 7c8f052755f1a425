//! What the client service consumes: the ledger's purchases, so a store-scoped token also sees the
//! clients who bought in its stores (CL-11).
use anyhow::Context;
use futures::future::BoxFuture;
use loyalty_api::events::v1::{Event, event::Payload};
use loyalty_platform::feed::ApplyEvent;
use uuid::Uuid;

/// Records where clients buy, in the consumer's transaction.
pub struct Purchases;

impl ApplyEvent for Purchases {
    fn apply<'a>(
        &'a self,
        tx: &'a deadpool_postgres::Transaction<'a>,
        event: &'a Event,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let Some(Payload::PurchaseRecorded(p)) = &event.payload else { return Ok(()) };
            if p.store_id.is_empty() {
                return Ok(());
            }
            let client = Uuid::parse_str(&p.client_id).context("client id")?;
            let at = p
                .purchased_at
                .as_ref()
                .and_then(loyalty_platform::convert::from_timestamp)
                .unwrap_or_else(time::OffsetDateTime::now_utc);
            // A purchase of a client merged since counts for the survivor; an erased client's
            // purchases are not recorded here again.
            loyalty_platform::db::cached::execute(
                tx,
                "INSERT INTO purchase_stores (tenant_id, client_id, store_id, first_at)
                 SELECT $1, coalesce((SELECT merged_into FROM clients WHERE tenant_id = $1 AND id = $2), $2), $3, $4
                 WHERE NOT EXISTS (SELECT 1 FROM clients WHERE tenant_id = $1 AND id = $2 AND erased)
                 ON CONFLICT (tenant_id, client_id, store_id) DO UPDATE
                     SET first_at = least(purchase_stores.first_at, excluded.first_at)",
                &[&event.tenant_id, &client, &p.store_id, &at],
            )
            .await
            .context("recording the store of a purchase")?;
            Ok(())
        })
    }
}
