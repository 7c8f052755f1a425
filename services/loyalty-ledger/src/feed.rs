//! What the ledger consumes: the client feed. A block stops earning and spending (the client
//! service also calls SetAccountBlocked right after its commit; the feed makes a crash or restart
//! lose nothing); a merge moves points to the survivor; an erase loses nothing financial.
use anyhow::Context;
use futures::future::BoxFuture;
use loyalty_api::events::v1::{Event, event::Payload};
use loyalty_platform::feed::ApplyEvent;
use uuid::Uuid;

/// Applies client events to accounts, in the consumer's transaction.
pub struct ClientEvents;

impl ApplyEvent for ClientEvents {
    fn apply<'a>(
        &'a self,
        tx: &'a deadpool_postgres::Transaction<'a>,
        event: &'a Event,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let tenant = event.tenant_id.as_str();
            match &event.payload {
                Some(Payload::ClientBlocked(b)) => {
                    let client = Uuid::parse_str(&b.client_id).context("client id")?;
                    set_blocked(tx, tenant, client, true).await?;
                }
                Some(Payload::ClientUnblocked(b)) => {
                    let client = Uuid::parse_str(&b.client_id).context("client id")?;
                    set_blocked(tx, tenant, client, false).await?;
                }
                Some(Payload::ClientsMerged(m)) => {
                    let survivor = Uuid::parse_str(&m.survivor_client_id).context("survivor id")?;
                    let merged: Vec<Uuid> =
                        m.merged_client_ids.iter().filter_map(|i| Uuid::parse_str(i).ok()).collect();
                    let origin = crate::ops::Origin {
                        source: "merge",
                        actor: serde_json::json!({"id": "client-feed"}),
                        comment: "",
                        purchase_id: None,
                    };
                    let now = time::OffsetDateTime::now_utc();
                    crate::merge::merge_into(tx, tenant, survivor, &merged, now, &origin).await?;
                }
                _ => {}
            }
            Ok(())
        })
    }
}

async fn set_blocked(
    tx: &deadpool_postgres::Transaction<'_>,
    tenant: &str,
    client: Uuid,
    blocked: bool,
) -> anyhow::Result<()> {
    tx.execute(
        "INSERT INTO accounts (tenant_id, client_id, blocked) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, client_id) DO UPDATE SET blocked = $3, updated_at = now()",
        &[&tenant, &client, &blocked],
    )
    .await
    .context("setting the block")?;
    Ok(())
}
