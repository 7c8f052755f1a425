//! What the card service asks others about a card's holder: whether the caller may see them (the
//! client service, with the caller's token, so tenant and store scope hold as there) and their
//! points for the till (the ledger, under the service's own identity).
use super::{CardApi, Ctx};
use loyalty_api::client::v1::GetClientRequest;
use loyalty_api::ledger::v1::GetBalanceRequest;
use loyalty_platform::ClientId;
use loyalty_platform::error::{ApiError, ApiResult};

/// What the client service says of a client id.
pub enum Holder {
    /// The client, visible to the caller.
    Visible,
    /// Merged into another client (the survivor answers for it).
    MergedInto(String),
}

/// NOT_FOUND unless the caller can see `client`: it exists in the caller's tenant and, for a
/// store-scoped token, registered or bought in one of its stores. `field` names the id in the error.
pub async fn holder(api: &CardApi, ctx: &Ctx, client: ClientId) -> ApiResult<Holder> {
    let mut clients = api.clients.clone();
    let request = GetClientRequest { client_id: client.to_string() };
    match clients.get_client(ctx.token.request(request)).await {
        Ok(found) if found.get_ref().id == client.to_string() => Ok(Holder::Visible),
        Ok(found) => Ok(Holder::MergedInto(found.into_inner().id)),
        Err(status) if status.code() == tonic::Code::NotFound => Err(ApiError::NotFound("client")),
        Err(status) => Err(ApiError::Status(status)),
    }
}

/// NOT_FOUND unless a store-scoped caller can see the holder of a card it reads or changes; callers
/// without a store scope see every card of their tenant.
pub async fn check_scope(api: &CardApi, ctx: &Ctx, client_id: &str) -> ApiResult<()> {
    if ctx.principal.store_scope().is_none() {
        return Ok(());
    }
    let client = ClientId::parse("card.client_id", client_id)?;
    holder(api, ctx, client).await.map(|_| ()).map_err(|_| ApiError::NotFound("card"))
}

/// The holder's available points and level name, as the till shows them.
pub async fn points(api: &CardApi, ctx: &Ctx, client_id: &str) -> ApiResult<(i64, String)> {
    let mut ledger = api.ledger.clone();
    let request = api
        .identity
        .request(ctx.tenant.as_str(), GetBalanceRequest { client_id: client_id.into(), ..Default::default() })?;
    match ledger.get_balance(request).await {
        Ok(balance) => {
            let b = balance.into_inner();
            Ok((b.available, b.level_name))
        }
        // A holder who never bought has no account yet.
        Err(status) if status.code() == tonic::Code::NotFound => Ok((0, String::new())),
        Err(status) => Err(ApiError::Status(tonic::Status::unavailable(format!(
            "the ledger did not answer with the holder's points: {}",
            status.message()
        )))),
    }
}
