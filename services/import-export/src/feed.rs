//! What the import-export service consumes: the client feed. An erased client (GDPR) leaves the
//! row reports, and the tenant's export files made before the erasure (any may hold them) are
//! withdrawn.
use deadpool_postgres::Transaction;
use loyalty_api::events::v1::{Event, event::Payload};
use loyalty_platform::feed::ApplyEvent;
use loyalty_platform::{ClientId, TenantId};

/// The client events the service applies.
pub const CLIENT_EVENTS: &[&str] = &["client_erased"];

pub struct ClientEvents {
    pub clock: loyalty_platform::clock::SharedClock,
}

impl ApplyEvent for ClientEvents {
    async fn apply(&self, tx: &Transaction<'_>, event: &Event) -> anyhow::Result<()> {
        if let Some(Payload::ClientErased(e)) = &event.payload {
            let tenant = TenantId::trusted(&event.tenant_id);
            let client = ClientId::from_event(&e.client_id)?;
            // Every file made until now may hold them (the segment read model may have been
            // behind the erasure when an export read it).
            let now = self.clock.now();
            crate::store::files::forget_client(tx, &tenant, client.uuid(), now).await?;
        }
        Ok(())
    }
}
