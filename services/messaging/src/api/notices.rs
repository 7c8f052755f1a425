//! `SendTransactional` (ME-5): one message to one client, sent regardless of marketing consent but
//! never to a blocked, erased or deleted client, once per idempotency key.
use super::MessagingApi;
use crate::domain::content;
use crate::domain::rules::{self, Exclusion};
use crate::store::{contacts, deliveries, providers};
use loyalty_api::messaging::v1 as pb;
use loyalty_platform::error::{ApiError, ApiResult};
use loyalty_platform::request::Caller;
use prost::Message;
use tonic::Request;

pub async fn send(api: &MessagingApi, r: Request<pb::SendTransactionalRequest>) -> ApiResult<pb::Delivery> {
    let caller = Caller::new(&r, r.get_ref().context.as_ref(), api.clock.as_ref())?;
    caller.require_key()?;
    let body = r.into_inner();
    let client = super::uuid_of("client_id", &body.client_id)?;
    let prepared = content::prepare(body.content.as_ref(), "content", false)?;
    let db = api.pool.get().await.map_err(anyhow::Error::from)?;
    let contact = contacts::load(&db, &caller.tenant, client).await?;
    let visible = contact.as_ref().filter(|c| c.seen_by(caller.principal.store_scope()));
    match rules::recipient(visible, prepared.channel, false) {
        Ok(_) => {}
        Err(Exclusion::NotFound) => return Err(ApiError::NotFound("client")),
        Err(why) => {
            return Err(ApiError::precondition(format!(
                "the client cannot receive it: {}",
                why.reason().replace('_', " ")
            )));
        }
    }
    match providers::load(&db, caller.tenant.as_str(), prepared.channel.name()).await? {
        Some(p) if p.provider.enabled => {}
        _ => return Err(super::providers::no_provider(prepared.channel)),
    }
    let occurrence = format!("tx:{}", caller.idempotency_key);
    let content = body.content.unwrap_or_default().encode_to_vec();
    let id = deliveries::add_notice(
        &db,
        caller.tenant.as_str(),
        (&occurrence, client, prepared.channel.name()),
        &content,
        caller.now,
    )
    .await?;
    super::deliveries::one(&db, &caller.tenant, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("delivery {id} vanished").into())
}
