//! Issuing cards, the POS lookup, a client's cards, block/unblock/replace/delete (CA-1 .. CA-3).
use super::holders::{Holder, check_scope, holder, points};
use super::{CardApi, Ctx};
use crate::store::{self, NewCard};
use crate::{domain, events};
use loyalty_api::card::v1 as pb;
use loyalty_api::card::v1::lookup_card_request::Key;
use loyalty_platform::error::{ApiError, ApiResult, Violations};
use loyalty_platform::idempotency;
use loyalty_platform::outbox::{publish, publish_many};
use loyalty_platform::{CardId, ClientId, StoreId};
use uuid::Uuid;

/// The store a new card is issued in: the one the request names, else the till's, else a scoped
/// token's only store. A store-scoped token issues only in its stores.
fn issuing_store(ctx: &Ctx, field: &str, named: &str) -> ApiResult<String> {
    let store = match StoreId::parse_optional(field, named)? {
        Some(store) => Some(store),
        None => {
            ctx.store().or_else(|| ctx.principal.store_scope().and_then(|s| s.first()).map(|s| StoreId::trusted(s)))
        }
    };
    match store {
        Some(store) => {
            ctx.check_store(field, &store)?;
            Ok(store.to_string())
        }
        None => Ok(String::new()),
    }
}

pub struct Issue<'a> {
    pub input: &'a pb::Card,
    pub field: &'a str,
    pub client_id: ClientId,
    pub store_id: &'a str,
}

/// Validates and writes one card inside `tx` (IssueCard, ReplaceCard).
async fn issue_in(tx: &deadpool_postgres::Transaction<'_>, ctx: &Ctx, issue: Issue<'_>) -> ApiResult<pb::Card> {
    let input = issue.input;
    let f = |name: &str| format!("{}.{name}", issue.field);
    let mut v = Violations::new();
    let template = match parse_optional_uuid(&f("template_id"), &input.template_id)? {
        Some(id) => {
            let t = store::settings::get_template(tx, &ctx.tenant, id).await?;
            v.add_if(t.is_none(), &f("template_id"), "is not a template of this tenant");
            t.map(|t| (id, t))
        }
        None => None,
    };
    let issue_form_id = parse_optional_uuid(&f("issue_form_id"), &input.issue_form_id)?;
    if let Some(id) = issue_form_id {
        v.add_if(
            !store::issue_form_exists(tx, &ctx.tenant, id).await?,
            &f("issue_form_id"),
            "is not an issue form of this tenant",
        );
    }
    let kind = domain::kind_name(input.kind)
        .or_else(|| template.as_ref().and_then(|(_, t)| domain::kind_name(t.kind)))
        .unwrap_or("physical");
    v.add_if(kind == "wallet" && input.wallet_link.is_empty(), &f("wallet_link"), "is required for a wallet card");
    let format = if input.barcode_format != 0 {
        domain::barcode_name(input.barcode_format)
    } else {
        template.as_ref().map(|(_, t)| domain::barcode_name(t.barcode_format)).unwrap_or("code128")
    };
    let number = if input.number.is_empty() {
        store::settings::next_number(tx, &ctx.tenant)
            .await?
            .ok_or_else(|| ApiError::precondition("the numbering rule has no numbers left; change it"))?
    } else {
        let rule = store::settings::rule(tx, &ctx.tenant).await?;
        if let Err(reason) = rule.check_supplied(&input.number) {
            v.add(f("number"), reason);
        }
        input.number.clone()
    };
    let barcode =
        domain::barcode(&number, &input.barcode, format).map_err(|e| v.add(f("barcode"), e)).unwrap_or_default();
    let at = issued_at(ctx, input, &f("created_at"), &mut v);
    v.into_result()?;
    let new = NewCard {
        id: CardId::generate(),
        number: &number,
        barcode: &barcode,
        barcode_format: format,
        kind,
        template_id: template.map(|(id, _)| id),
        issue_form_id,
        store_id: issue.store_id,
        client_id: issue.client_id,
        wallet_link: &input.wallet_link,
        tags: &input.tags,
        at,
    };
    store::insert(tx, &ctx.tenant, &new)
        .await?
        .ok_or_else(|| ApiError::AlreadyExists(format!("card number {number} or barcode {barcode} is already used")))
}

/// When the card was issued: now, or for a card a migration brings (channel IMPORT) the day the
/// other system issued it, which must not lie in the future. Other callers' `created_at` is
/// output only and ignored.
fn issued_at(ctx: &Ctx, input: &pb::Card, field: &str, v: &mut Violations) -> time::OffsetDateTime {
    let imported = ctx.actor.channel == loyalty_api::common::v1::Channel::Import as i32;
    let Some(given) = input.created_at.as_ref().filter(|_| imported) else { return ctx.now };
    match time::OffsetDateTime::from_unix_timestamp(given.seconds) {
        Ok(at) if at <= ctx.now => at,
        Ok(_) => {
            v.add(field, "lies in the future; a migrated card was issued before today");
            ctx.now
        }
        Err(_) => {
            v.add(field, "is not a time");
            ctx.now
        }
    }
}

fn parse_optional_uuid(field: &str, text: &str) -> ApiResult<Option<Uuid>> {
    if text.is_empty() {
        return Ok(None);
    }
    Uuid::parse_str(text).map(Some).map_err(|_| ApiError::field(field, "is not an id (a UUID)"))
}

/// The client a card is issued to: visible to the caller and not merged into another.
async fn card_holder(api: &CardApi, ctx: &Ctx, field: &str, text: &str) -> ApiResult<ClientId> {
    let client = ClientId::parse(field, text)?;
    match holder(api, ctx, client).await {
        Ok(Holder::Visible) => Ok(client),
        Ok(Holder::MergedInto(survivor)) => Err(ApiError::precondition(format!(
            "the client was merged into {survivor}; issue the card to the survivor"
        ))),
        Err(ApiError::NotFound(_)) => Err(ApiError::field(field, "is not a client of this tenant")),
        Err(other) => Err(other),
    }
}

pub async fn issue(api: &CardApi, request: tonic::Request<pb::IssueCardRequest>) -> ApiResult<pb::Card> {
    let ctx = api.ctx(&request, request.get_ref().context.as_ref())?;
    let body = request.into_inner();
    let input = body.card.clone().unwrap_or_default();
    let client_id = card_holder(api, &ctx, "card.client_id", &input.client_id).await?;
    let store_id = issuing_store(&ctx, "card.store_id", &input.store_id)?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Some(answer) = idempotency::replay(&tx, &ctx, "IssueCard", &body).await? {
        return Ok(answer);
    }
    let card = issue_in(&tx, &ctx, Issue { input: &input, field: "card", client_id, store_id: &store_id }).await?;
    publish(&tx, &events::changed(&ctx, &card, "issued")).await?;
    idempotency::keep(&tx, &ctx, &card.client_id, &card).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(card)
}

pub async fn get(api: &CardApi, request: tonic::Request<pb::GetCardRequest>) -> ApiResult<pb::Card> {
    let ctx = api.ctx(&request, None)?;
    let id = CardId::parse("card_id", &request.get_ref().card_id)?;
    let conn = api.conn().await?;
    let card = store::get(&conn, &ctx.tenant, id, false).await?.ok_or(ApiError::NotFound("card"))?;
    check_scope(api, &ctx, &card.client_id).await?;
    Ok(card)
}

/// The POS path: the card by number or barcode, refused when it is not active.
pub async fn lookup(
    api: &CardApi,
    request: tonic::Request<pb::LookupCardRequest>,
) -> ApiResult<pb::LookupCardResponse> {
    let ctx = api.ctx(&request, None)?;
    let body = request.get_ref();
    let (by_number, key) = match &body.key {
        Some(Key::Number(n)) if !n.trim().is_empty() => (true, n.trim().to_string()),
        Some(Key::Barcode(b)) if !b.trim().is_empty() => (false, b.trim().to_string()),
        _ => return Err(ApiError::field("key", "give a card number or a barcode")),
    };
    let conn = api.conn().await?;
    let mut card = store::lookup(&conn, &ctx.tenant, by_number, &key).await?.ok_or(ApiError::NotFound("card"))?;
    if !body.any_status {
        refuse_at_till(&conn, &ctx, &card).await?;
    }
    let scoped = ctx.principal.store_scope().is_some();
    let (points_available, level_name) =
        if scoped || body.with_points { points(api, &ctx, &card.client_id).await? } else { (0, String::new()) };
    let client_id = if scoped { String::new() } else { card.client_id.clone() };
    card.client_id.clone_from(&client_id);
    Ok(pb::LookupCardResponse { card: Some(card), client_id, points_available, level_name })
}

/// FAILED_PRECONDITION naming the status of a card that is not active (and a successor's number).
async fn refuse_at_till(db: &impl deadpool_postgres::GenericClient, ctx: &Ctx, card: &pb::Card) -> ApiResult<()> {
    let status = domain::status_name(card.status).unwrap_or("active");
    if status == "active" {
        return Ok(());
    }
    let successor = match CardId::parse_optional("successor_card_id", &card.successor_card_id)? {
        Some(id) => store::number_of(db, &ctx.tenant, id).await?,
        None => None,
    };
    Err(ApiError::precondition(domain::not_at_till(status, successor.as_deref()).unwrap_or_default()))
}

pub async fn of_client(
    api: &CardApi,
    request: tonic::Request<pb::ListClientCardsRequest>,
) -> ApiResult<pb::ListClientCardsResponse> {
    let ctx = api.ctx(&request, None)?;
    let client_id = ClientId::parse("client_id", &request.get_ref().client_id)?;
    let conn = api.conn().await?;
    let cards = store::of_client(&conn, &ctx.tenant, client_id).await?;
    // A client without cards, and any client for a store-scoped token, is asked of the client
    // service: unknown and invisible clients are NOT_FOUND, not an empty list.
    if cards.is_empty() || ctx.principal.store_scope().is_some() {
        holder(api, &ctx, client_id).await?;
    }
    let active = cards.iter().filter(|c| c.status == pb::CardStatus::Active as i32).count();
    Ok(pb::ListClientCardsResponse { total_count: cards.len() as i32, active_count: active as i32, cards })
}

/// A card moving between states: where it may come from, why, and what the event calls it.
struct Transition<'a> {
    to: &'a str,
    reason: String,
    change: &'a str,
    method: &'a str,
}

/// Moves a card between states in one idempotent transaction.
async fn transition(
    api: &CardApi,
    ctx: &Ctx,
    id: CardId,
    t: Transition<'_>,
    request: &impl prost::Message,
) -> ApiResult<pb::Card> {
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Some(answer) = idempotency::replay(&tx, ctx, t.method, request).await? {
        return Ok(answer);
    }
    let card = store::get(&tx, &ctx.tenant, id, true).await?.ok_or(ApiError::NotFound("card"))?;
    check_scope(api, ctx, &card.client_id).await?;
    let current = domain::status_name(card.status).unwrap_or("active");
    if !domain::may_become(current, t.to) {
        return Err(ApiError::precondition(format!("the card is {current}; it cannot become {}", t.to)));
    }
    let card = store::set_status(&tx, &ctx.tenant, id, t.to, &t.reason, None, ctx.now)
        .await?
        .ok_or(ApiError::NotFound("card"))?;
    publish(&tx, &events::changed(ctx, &card, t.change)).await?;
    idempotency::keep(&tx, ctx, &card.client_id, &card).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(card)
}

fn reason(text: &str, required: bool) -> ApiResult<String> {
    let text = text.trim();
    if required && text.is_empty() {
        return Err(ApiError::field("reason", "is required: say why"));
    }
    Ok(text.to_string())
}

pub async fn block(api: &CardApi, request: tonic::Request<pb::BlockCardRequest>) -> ApiResult<pb::Card> {
    let ctx = api.ctx(&request, request.get_ref().context.as_ref())?;
    let body = request.get_ref();
    let id = CardId::parse("card_id", &body.card_id)?;
    let t = Transition { to: "blocked", reason: reason(&body.reason, false)?, change: "blocked", method: "BlockCard" };
    transition(api, &ctx, id, t, body).await
}

pub async fn unblock(api: &CardApi, request: tonic::Request<pb::UnblockCardRequest>) -> ApiResult<pb::Card> {
    let ctx = api.ctx(&request, request.get_ref().context.as_ref())?;
    let body = request.get_ref();
    let id = CardId::parse("card_id", &body.card_id)?;
    let t = Transition { to: "active", reason: String::new(), change: "unblocked", method: "UnblockCard" };
    transition(api, &ctx, id, t, body).await
}

pub async fn delete(api: &CardApi, request: tonic::Request<pb::DeleteCardRequest>) -> ApiResult<pb::Card> {
    let ctx = api.ctx(&request, request.get_ref().context.as_ref())?;
    let body = request.get_ref();
    let id = CardId::parse("card_id", &body.card_id)?;
    let t = Transition { to: "deleted", reason: reason(&body.reason, true)?, change: "deleted", method: "DeleteCard" };
    transition(api, &ctx, id, t, body).await
}

/// The new card of a replacement takes the old one's kind, template and tags unless it names its
/// own.
fn successor_input(old: &pb::Card, given: Option<pb::Card>) -> pb::Card {
    let mut input = given.unwrap_or_default();
    if input.kind == 0 {
        input.kind = old.kind;
    }
    if input.template_id.is_empty() {
        input.template_id.clone_from(&old.template_id);
    }
    if input.tags.is_empty() {
        input.tags.clone_from(&old.tags);
    }
    input
}

pub async fn replace(
    api: &CardApi,
    request: tonic::Request<pb::ReplaceCardRequest>,
) -> ApiResult<pb::ReplaceCardResponse> {
    let ctx = api.ctx(&request, request.get_ref().context.as_ref())?;
    let body = request.into_inner();
    let id = CardId::parse("card_id", &body.card_id)?;
    let why = reason(&body.reason, false)?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Some(answer) = idempotency::replay(&tx, &ctx, "ReplaceCard", &body).await? {
        return Ok(answer);
    }
    let old = store::get(&tx, &ctx.tenant, id, true).await?.ok_or(ApiError::NotFound("card"))?;
    check_scope(api, &ctx, &old.client_id).await?;
    let status = domain::status_name(old.status).unwrap_or("active");
    if !domain::may_become(status, "replaced") {
        return Err(ApiError::precondition(format!("the card is {status}; only active or blocked cards are replaced")));
    }
    let input = successor_input(&old, body.new_card.clone());
    let store_id = issuing_store(&ctx, "new_card.store_id", &input.store_id)?;
    let client_id = ClientId::parse("card.client_id", &old.client_id)?;
    let new = issue_in(&tx, &ctx, Issue { input: &input, field: "new_card", client_id, store_id: &store_id }).await?;
    let successor = CardId::parse("new_card.id", &new.id)?;
    let old = store::set_status(&tx, &ctx.tenant, id, "replaced", &why, Some(successor), ctx.now)
        .await?
        .ok_or(ApiError::NotFound("card"))?;
    let published = [
        events::changed(&ctx, &new, "issued"),
        events::changed(&ctx, &old, "replaced"),
        events::replaced(&ctx, &old, &new),
    ];
    publish_many(&tx, &published).await?;
    let answer = pb::ReplaceCardResponse { old_card: Some(old), new_card: Some(new) };
    idempotency::keep(&tx, &ctx, &client_id.to_string(), &answer).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(answer)
}
