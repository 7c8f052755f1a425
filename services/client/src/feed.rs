//! What the client service consumes: the ledger's purchases, so a store-scoped token also sees the
//! clients who bought in its stores (CL-11).
use anyhow::Context;
use futures::future::BoxFuture;
use loyalty_api::events::v1::{Event, WatchEventsRequest, event::Payload};
use loyalty_api::ledger::v1::ledger_service_client::LedgerServiceClient;
use loyalty_platform::auth::BearerToken;
use loyalty_platform::feed::ApplyEvent;
use tonic::transport::Channel;
use uuid::Uuid;

/// The ledger's `WatchEvents`, for [`loyalty_platform::feed::PeerFeed`].
pub fn watch_ledger(
    channel: Channel,
    bearer: BearerToken,
    request: WatchEventsRequest,
) -> BoxFuture<'static, Result<tonic::Streaming<Event>, tonic::Status>> {
    Box::pin(async move {
        LedgerServiceClient::with_interceptor(channel, bearer).watch_events(request).await.map(|r| r.into_inner())
    })
}

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
            // A purchase of a client merged since counts for the survivor.
            loyalty_platform::db::cached::execute(
                tx,
                "INSERT INTO purchase_stores (tenant_id, client_id, store_id, first_at)
                 SELECT $1, coalesce((SELECT merged_into FROM clients WHERE tenant_id = $1 AND id = $2), $2), $3, $4
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
