//! What the client service consumes: the ledger's purchases, so a store-scoped token also sees the
//! clients who bought in its stores (CL-11).
use deadpool_postgres::Transaction;
use loyalty_api::events::v1::{Event, event::Payload};
use loyalty_platform::feed::ApplyEvent;
use loyalty_platform::{ClientId, StoreId, TenantId};

/// Records where clients buy, in the consumer's transaction.
pub struct Purchases;

impl ApplyEvent for Purchases {
    async fn apply(&self, tx: &Transaction<'_>, event: &Event) -> anyhow::Result<()> {
        let Some(Payload::PurchaseRecorded(p)) = &event.payload else { return Ok(()) };
        if p.store_id.is_empty() {
            return Ok(());
        }
        let at = p
            .purchased_at
            .as_ref()
            .and_then(loyalty_platform::convert::from_timestamp)
            .unwrap_or_else(time::OffsetDateTime::now_utc);
        let tenant = TenantId::trusted(&event.tenant_id);
        crate::store::clients::record_purchase_store(
            tx,
            &tenant,
            ClientId::from_event(&p.client_id)?,
            &StoreId::trusted(&p.store_id),
            at,
        )
        .await
    }
}
