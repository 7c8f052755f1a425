//! Who is calling, and whom a call is about: a client id is one of the caller's tenant's clients
//! and one a store-scoped token may see (the client service's rule: registered in one of its
//! stores, or bought in one), a card is active, a store in the body is one the token may act in.
use super::LedgerApi;
use crate::store;
use crate::store::accounts::Origin;
use crate::store::clients::Known;
use deadpool_postgres::GenericClient;
use loyalty_api::card::v1::{LookupCardRequest, lookup_card_request::Key};
use loyalty_api::client::v1::GetClientRequest;
use loyalty_platform::error::{ApiError, ApiResult};
use loyalty_platform::request::Caller;
use loyalty_platform::{ClientId, PurchaseId, StoreId};

pub type Ctx = Caller;

/// The actor as stored on entries.
pub fn actor_json(ctx: &Ctx) -> serde_json::Value {
    let a = &ctx.actor;
    serde_json::json!({ "kind": a.kind, "id": a.id, "name": a.name, "channel": a.channel, "store_id": a.store_id })
}

/// Who made a change and why, for its entries.
pub fn origin<'a>(ctx: &Ctx, source: &'a str, comment: &'a str, purchase: Option<PurchaseId>) -> Origin<'a> {
    Origin { source, actor: actor_json(ctx), comment, purchase_id: purchase.map(PurchaseId::uuid) }
}

/// The client `id` names, as the caller may reach it: NOT_FOUND when no client of the tenant has
/// it or a store-scoped token cannot see them; a merged id answers with its survivor.
pub async fn client(api: &LedgerApi, db: &impl GenericClient, ctx: &Ctx, id: ClientId) -> ApiResult<ClientId> {
    let known = match store::clients::find(db, &ctx.tenant, id).await? {
        Some(known) => known,
        None => ask_client_service(api, db, ctx, id).await?,
    };
    let (id, registered_in) = match known {
        Known::Live { registration_store } => (id, registration_store),
        Known::MergedInto(survivor) => match store::clients::find(db, &ctx.tenant, survivor).await? {
            Some(Known::Live { registration_store }) => (survivor, registration_store),
            _ => return Err(ApiError::NotFound("client")),
        },
        Known::Gone => return Err(ApiError::NotFound("client")),
    };
    if let Some(stores) = ctx.principal.store_scope()
        && !stores.contains(&registered_in)
        && !store::purchases::bought_in(db, &ctx.tenant, id, stores).await?
    {
        return Err(ApiError::NotFound("client"));
    }
    Ok(id)
}

/// A client id the client feed has not brought yet (just registered): the client service is asked
/// under the ledger's own identity, and the answer is remembered.
async fn ask_client_service(api: &LedgerApi, db: &impl GenericClient, ctx: &Ctx, id: ClientId) -> ApiResult<Known> {
    let request = api.identity.request(ctx.tenant.as_str(), GetClientRequest { client_id: id.to_string() })?;
    match api.clients.clone().get_client(request).await {
        Ok(found) => {
            let found = found.into_inner();
            if found.id != id.to_string() {
                // Merged into `found`; the feed records the merge itself.
                return Ok(Known::MergedInto(ClientId::parse("client_id", &found.id)?));
            }
            store::clients::live(db, &ctx.tenant, id, &found.registration_store_id).await?;
            Ok(Known::Live { registration_store: found.registration_store_id })
        }
        Err(status) if status.code() == tonic::Code::NotFound => Err(ApiError::NotFound("client")),
        Err(status) => Err(ApiError::Status(tonic::Status::unavailable(format!(
            "the client service could not say whether the client exists: {}",
            status.message()
        )))),
    }
}

/// The holder of card `number` (the POS path: any member of the chain can be served by card,
/// whatever the till's store). A card that is not active is FAILED_PRECONDITION naming its status.
/// Returns the client and the card id.
pub async fn card_holder(api: &LedgerApi, ctx: &Ctx, field: &str, number: &str) -> ApiResult<(ClientId, String)> {
    let lookup = LookupCardRequest { key: Some(Key::Number(number.trim().into())), ..Default::default() };
    let request = api.identity.request(ctx.tenant.as_str(), lookup)?;
    match api.cards.clone().lookup_card(request).await {
        Ok(found) => {
            let found = found.into_inner();
            let card = found.card.map(|c| c.id).unwrap_or_default();
            Ok((ClientId::parse(field, &found.client_id)?, card))
        }
        Err(s) if s.code() == tonic::Code::NotFound => Err(ApiError::field(field, "is not a card of this tenant")),
        Err(s) if s.code() == tonic::Code::FailedPrecondition => Err(ApiError::precondition(s.message().to_string())),
        Err(s) => Err(ApiError::Status(s)),
    }
}

/// Who a request is about: a client id (which the caller must see) or a card number (any member).
pub async fn holder(
    api: &LedgerApi,
    db: &impl GenericClient,
    ctx: &Ctx,
    (client_id, card_number): (&str, &str),
) -> ApiResult<ClientId> {
    match (client_id.trim(), card_number.trim()) {
        ("", "") => Err(ApiError::field("client_id", "give a client id or a card number")),
        (id, "") => client(api, db, ctx, ClientId::parse("client_id", id)?).await,
        ("", number) => Ok(card_holder(api, ctx, "card_number", number).await?.0),
        _ => Err(ApiError::field("card_number", "give a client id or a card number, not both")),
    }
}

/// The store a till request acts in: the one the body names, else the context's, else a scoped
/// token's only store. A store-scoped token acts only in its stores, and must say which.
pub fn acting_store(ctx: &Ctx, field: &str, named: &str) -> ApiResult<String> {
    let store = match StoreId::parse_optional(field, named)? {
        Some(store) => Some(store),
        None => ctx.store().or_else(|| match ctx.principal.store_scope() {
            Some([only]) => Some(StoreId::trusted(only)),
            _ => None,
        }),
    };
    match store {
        Some(store) => {
            ctx.check_store(field, &store)?;
            Ok(store.to_string())
        }
        None if ctx.principal.store_scope().is_some() => {
            Err(ApiError::field(field, "is required: a token limited to some stores must say which store acts"))
        }
        None => Ok(String::new()),
    }
}

/// Whether an answer to the caller leaves out who the member is: a store-scoped token (a cashier)
/// serving a member by card sees the points, not the client's identity.
pub fn conceals_holder(ctx: &Ctx, by_card: bool) -> bool {
    by_card && ctx.principal.store_scope().is_some()
}
