//! Issuing cards, the POS lookup, a client's cards, block/unblock/replace/delete (CA-1 .. CA-3).
use super::CardApi;
use super::context::{Ctx, forward, optional_uuid, uuid};
use crate::domain;
use crate::error::{CardError, Result};
use crate::store::{self, NewCard};
use loyalty_api::card::v1 as pb;
use loyalty_api::card::v1::lookup_card_request::Key;
use loyalty_api::client::v1::GetClientRequest;
use loyalty_api::events::v1::{CardChanged, CardReplaced, event::Payload};
use loyalty_platform::error::Violations;
use loyalty_platform::idempotency::{self, Claim};
use loyalty_platform::outbox::publish;
use prost::Message;
use uuid::Uuid;

/// The `CardChanged` event of a card as it is now.
pub fn changed(ctx: &Ctx, c: &pb::Card, change: &str) -> loyalty_api::events::v1::Event {
    let payload = CardChanged {
        card_id: c.id.clone(),
        client_id: c.client_id.clone(),
        number: c.number.clone(),
        barcode: c.barcode.clone(),
        kind: domain::kind_name(c.kind).unwrap_or("physical").into(),
        template_id: c.template_id.clone(),
        issue_form_id: c.issue_form_id.clone(),
        store_id: c.store_id.clone(),
        status: domain::status_name(c.status).unwrap_or("active").into(),
        tags: c.tags.clone(),
        issued_at: c.created_at,
        change: change.into(),
    };
    ctx.event(&c.id, Payload::CardChanged(payload))
}

/// The client must exist and be visible to the caller: asked of the client service with the
/// caller's token, so tenant and store scope apply there too.
async fn check_client(api: &CardApi, ctx: &Ctx, client_id: Uuid) -> Result<()> {
    let mut clients = api.clients.clone();
    match clients.get_client(forward(ctx, GetClientRequest { client_id: client_id.to_string() })).await {
        Ok(found) if found.get_ref().id == client_id.to_string() => Ok(()),
        Ok(_) => Err(CardError::FailedPrecondition("the client was merged into another; issue to the survivor".into())),
        Err(status) if status.code() == tonic::Code::NotFound => {
            Err(CardError::field("card.client_id", "is not a client of this tenant"))
        }
        Err(status) => Err(CardError::Status(status)),
    }
}

pub struct Issue<'a> {
    pub input: &'a pb::Card,
    pub field: &'a str,
    pub client_id: Uuid,
}

/// Validates and writes one card inside `tx` (IssueCard, ReplaceCard).
pub async fn issue_in(tx: &deadpool_postgres::Transaction<'_>, ctx: &Ctx, issue: Issue<'_>) -> Result<pb::Card> {
    let input = issue.input;
    let f = |name: &str| format!("{}.{name}", issue.field);
    let mut v = Violations::new();
    let template_id = optional_uuid(&f("template_id"), &input.template_id)?;
    let template = match template_id {
        Some(id) => {
            let t = store::get_template(tx, &ctx.tenant, id).await?;
            v.add_if(t.is_none(), &f("template_id"), "is not a template of this tenant");
            t
        }
        None => None,
    };
    let issue_form_id = optional_uuid(&f("issue_form_id"), &input.issue_form_id)?;
    if let Some(id) = issue_form_id {
        let known =
            tx.query_opt("SELECT 1 FROM issue_forms WHERE tenant_id = $1 AND id = $2", &[&ctx.tenant, &id]).await?;
        v.add_if(known.is_none(), &f("issue_form_id"), "is not an issue form of this tenant");
    }
    let kind = domain::kind_name(input.kind)
        .or_else(|| template.as_ref().and_then(|t| domain::kind_name(t.kind)))
        .unwrap_or("physical");
    if kind == "wallet" && input.wallet_link.is_empty() {
        v.add(f("wallet_link"), "is required for a wallet card");
    }
    let format = if input.barcode_format != 0 {
        domain::barcode_name(input.barcode_format)
    } else {
        template.as_ref().map(|t| domain::barcode_name(t.barcode_format)).unwrap_or("code128")
    };
    let rule = store::rule(tx, &ctx.tenant).await?;
    let number = if input.number.is_empty() {
        store::next_number(tx, &ctx.tenant)
            .await?
            .ok_or_else(|| CardError::FailedPrecondition("the numbering rule has no numbers left; change it".into()))?
    } else {
        if let Err(reason) = rule.check_supplied(&input.number) {
            v.add(f("number"), reason);
        }
        input.number.clone()
    };
    let barcode =
        domain::barcode(&number, &input.barcode, format).map_err(|e| v.add(f("barcode"), e)).unwrap_or_default();
    v.into_result()?;
    let new = NewCard {
        id: Uuid::now_v7(),
        number: &number,
        barcode: &barcode,
        barcode_format: format,
        kind,
        template_id,
        issue_form_id,
        store_id: if input.store_id.is_empty() { &ctx.actor.store_id } else { &input.store_id },
        client_id: issue.client_id,
        wallet_link: &input.wallet_link,
        tags: &input.tags,
        at: ctx.now,
    };
    store::insert(tx, &ctx.tenant, &new)
        .await?
        .ok_or_else(|| CardError::AlreadyExists(format!("card number {number} or barcode {barcode} is already used")))
}

pub async fn issue(api: &CardApi, request: tonic::Request<pb::IssueCardRequest>) -> Result<pb::Card> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    let body = request.into_inner();
    let input = body.card.clone().unwrap_or_default();
    let client_id = uuid("card.client_id", &input.client_id)?;
    check_client(api, &ctx, client_id).await?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Claim::Replay(answer) =
        idempotency::claim(&tx, &ctx.tenant, &ctx.idempotency_key, "IssueCard", &body.encode_to_vec()).await?
    {
        return pb::Card::decode(answer.as_slice()).map_err(|e| CardError::Internal(e.into()));
    }
    let card = issue_in(&tx, &ctx, Issue { input: &input, field: "card", client_id }).await?;
    publish(&tx, &changed(&ctx, &card, "issued")).await?;
    idempotency::remember(&tx, &ctx.tenant, &ctx.idempotency_key, &card.client_id, &card.encode_to_vec()).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(card)
}

pub async fn get(api: &CardApi, request: tonic::Request<pb::GetCardRequest>) -> Result<pb::Card> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let id = uuid("card_id", &request.get_ref().card_id)?;
    let conn = api.conn().await?;
    store::get(&conn, &ctx.tenant, id, false).await?.ok_or(CardError::NotFound("card"))
}

pub async fn lookup(api: &CardApi, request: tonic::Request<pb::LookupCardRequest>) -> Result<pb::LookupCardResponse> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let (by_number, key) = match &request.get_ref().key {
        Some(Key::Number(n)) if !n.trim().is_empty() => (true, n.trim().to_string()),
        Some(Key::Barcode(b)) if !b.trim().is_empty() => (false, b.trim().to_string()),
        _ => return Err(CardError::field("key", "give a card number or a barcode")),
    };
    let conn = api.conn().await?;
    let card = store::lookup(&conn, &ctx.tenant, by_number, &key).await?.ok_or(CardError::NotFound("card"))?;
    Ok(pb::LookupCardResponse { client_id: card.client_id.clone(), card: Some(card) })
}

pub async fn of_client(
    api: &CardApi,
    request: tonic::Request<pb::ListClientCardsRequest>,
) -> Result<pb::ListClientCardsResponse> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let client_id = uuid("client_id", &request.get_ref().client_id)?;
    let conn = api.conn().await?;
    let cards = store::of_client(&conn, &ctx.tenant, client_id).await?;
    let active = cards.iter().filter(|c| c.status == pb::CardStatus::Active as i32).count();
    Ok(pb::ListClientCardsResponse { total_count: cards.len() as i32, active_count: active as i32, cards })
}

/// Moves a card between states, checking where it may come from.
async fn transition(
    api: &CardApi,
    ctx: &Ctx,
    id: Uuid,
    to: &str,
    from: &[&str],
    reason: &str,
    change: &str,
) -> Result<pb::Card> {
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    let card = store::get(&tx, &ctx.tenant, id, true).await?.ok_or(CardError::NotFound("card"))?;
    let current = domain::status_name(card.status).unwrap_or("active");
    if !from.contains(&current) {
        return Err(CardError::FailedPrecondition(format!("the card is {current}; it cannot become {to}")));
    }
    let card =
        store::set_status(&tx, &ctx.tenant, id, to, reason, None, ctx.now).await?.ok_or(CardError::NotFound("card"))?;
    publish(&tx, &changed(ctx, &card, change)).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(card)
}

fn reason(text: &str, required: bool) -> Result<String> {
    let text = text.trim();
    if required && text.is_empty() {
        return Err(CardError::field("reason", "is required: say why"));
    }
    if text.chars().count() > 500 {
        return Err(CardError::field("reason", "is longer than 500 characters"));
    }
    Ok(text.to_string())
}

pub async fn block(api: &CardApi, request: tonic::Request<pb::BlockCardRequest>) -> Result<pb::Card> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    let id = uuid("card_id", &request.get_ref().card_id)?;
    let why = reason(&request.get_ref().reason, false)?;
    transition(api, &ctx, id, "blocked", &["active"], &why, "blocked").await
}

pub async fn unblock(api: &CardApi, request: tonic::Request<pb::UnblockCardRequest>) -> Result<pb::Card> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    let id = uuid("card_id", &request.get_ref().card_id)?;
    transition(api, &ctx, id, "active", &["blocked"], "", "unblocked").await
}

pub async fn delete(api: &CardApi, request: tonic::Request<pb::DeleteCardRequest>) -> Result<pb::Card> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    let id = uuid("card_id", &request.get_ref().card_id)?;
    let why = reason(&request.get_ref().reason, true)?;
    transition(api, &ctx, id, "deleted", &["active", "blocked"], &why, "deleted").await
}

pub async fn replace(
    api: &CardApi,
    request: tonic::Request<pb::ReplaceCardRequest>,
) -> Result<pb::ReplaceCardResponse> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    let body = request.into_inner();
    let id = uuid("card_id", &body.card_id)?;
    let why = reason(&body.reason, false)?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Claim::Replay(answer) =
        idempotency::claim(&tx, &ctx.tenant, &ctx.idempotency_key, "ReplaceCard", &body.encode_to_vec()).await?
    {
        return pb::ReplaceCardResponse::decode(answer.as_slice()).map_err(|e| CardError::Internal(e.into()));
    }
    let old = store::get(&tx, &ctx.tenant, id, true).await?.ok_or(CardError::NotFound("card"))?;
    let status = domain::status_name(old.status).unwrap_or("active");
    if !["active", "blocked"].contains(&status) {
        return Err(CardError::FailedPrecondition(format!(
            "the card is {status}; only active or blocked cards are replaced"
        )));
    }
    let mut input = body.new_card.unwrap_or_default();
    if input.kind == 0 {
        input.kind = old.kind;
    }
    if input.template_id.is_empty() {
        input.template_id = old.template_id.clone();
    }
    if input.tags.is_empty() {
        input.tags = old.tags.clone();
    }
    let client_id = uuid("card.client_id", &old.client_id)?;
    let new = issue_in(&tx, &ctx, Issue { input: &input, field: "new_card", client_id }).await?;
    let successor = uuid("new_card.id", &new.id)?;
    let old = store::set_status(&tx, &ctx.tenant, id, "replaced", &why, Some(successor), ctx.now)
        .await?
        .ok_or(CardError::NotFound("card"))?;
    publish(&tx, &changed(&ctx, &new, "issued")).await?;
    publish(&tx, &changed(&ctx, &old, "replaced")).await?;
    let replaced =
        CardReplaced { old_card_id: old.id.clone(), new_card_id: new.id.clone(), client_id: old.client_id.clone() };
    publish(&tx, &ctx.event(&old.id, Payload::CardReplaced(replaced))).await?;
    let answer = pb::ReplaceCardResponse { old_card: Some(old), new_card: Some(new) };
    idempotency::remember(&tx, &ctx.tenant, &ctx.idempotency_key, &client_id.to_string(), &answer.encode_to_vec())
        .await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(answer)
}
