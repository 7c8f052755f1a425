//! Purchases and returns over gRPC (LE-6, LE-7). Every write is idempotent by its key and
//! publishes its events in its transaction.
use super::context::{Ctx, acting_store, card_holder, client, conceals_holder, origin};
use super::{LedgerApi, convert};
use crate::domain::programme::Programme;
use crate::domain::purchase::{self, Basket, Decision};
use crate::events::of_caller as ev;
use crate::store::balances::View;
use crate::store::purchases::{NewPurchase, Opened};
use crate::store::returns::NewReturn;
use crate::store::{self};
use loyalty_api::common::v1::Money;
use loyalty_api::ledger::v1 as pb;
use loyalty_api::ledger::v1::record_purchase_request::Buyer;
use loyalty_platform::convert::{from_timestamp, to_timestamp};
use loyalty_platform::error::{ApiError, ApiResult, Violations};
use loyalty_platform::idempotency;
use loyalty_platform::outbox::publish_many;
use loyalty_platform::{ClientId, PurchaseId};

/// The buyer: a card shown at the till (any member of the chain, the card active), or a client id
/// the caller can see. Returns the client and the card id.
async fn buyer(
    api: &LedgerApi,
    db: &impl deadpool_postgres::GenericClient,
    ctx: &Ctx,
    buyer: &Option<Buyer>,
) -> ApiResult<(ClientId, String)> {
    match buyer {
        Some(Buyer::CardNumber(number)) if !number.trim().is_empty() => {
            card_holder(api, ctx, "card_number", number).await
        }
        Some(Buyer::ClientId(id)) => {
            Ok((client(api, db, ctx, ClientId::parse("client_id", id)?).await?, String::new()))
        }
        _ => Err(ApiError::field("buyer", "give a client id or a card number")),
    }
}

/// The purchase to record, from what the caller sent and whom it names.
fn new_purchase(
    body: &pb::RecordPurchaseRequest,
    input: convert::PurchaseInput,
    (client_id, card_id, store_id): (ClientId, String, String),
    manual: bool,
) -> NewPurchase {
    NewPurchase {
        id: PurchaseId::generate(),
        client_id,
        check_id: body.check_id.clone(),
        store_id,
        seller_id: body.seller_id.clone(),
        purchased_at: input.purchased_at,
        amount_minor: input.amount.minor(),
        currency: input.amount.currency(),
        payment_method: input.payment_method,
        lines: input.lines,
        promo_code: body.promo_code.clone(),
        promotion_id: body.promotion_id.clone(),
        points_to_spend: input.points_to_spend,
        manual,
        card_id,
    }
}

/// The answer of a recorded purchase, and the events it publishes.
fn outcome(
    ctx: &Ctx,
    body: &pb::RecordPurchaseRequest,
    (p, d): (&NewPurchase, &Decision),
    opened: &Opened,
    previous_level: &str,
) -> (pb::PurchaseResult, Vec<loyalty_api::events::v1::Event>) {
    let view = View::of(&opened.account, &opened.head);
    let balance = convert::balance_with_level(&p.client_id.to_string(), &view, &opened.programme);
    let currency = p.currency.code().to_string();
    let wire = pb::Purchase {
        id: p.id.to_string(),
        client_id: p.client_id.to_string(),
        card_id: p.card_id.clone(),
        check_id: p.check_id.clone(),
        store_id: p.store_id.clone(),
        seller_id: p.seller_id.clone(),
        purchased_at: Some(to_timestamp(p.purchased_at)),
        amount: body.amount.clone(),
        payment_method: body.payment_method,
        lines: body.lines.clone(),
        promo_code: p.promo_code.clone(),
        promotion_id: p.promotion_id.clone(),
        points_earned: d.earned,
        points_spent: d.spent,
        status: pb::PurchaseStatus::Confirmed as i32,
        manual: p.manual,
        programme_version: opened.programme.version,
        returned_amount: Some(Money { minor_units: 0, currency }),
    };
    let mut events = vec![ev::purchase_recorded(ctx, p, d), ev::balance_changed(ctx, p.client_id, &view)];
    events.extend(ev::level_changed(ctx, p.client_id, (previous_level, &view.level_id), &opened.programme));
    (pb::PurchaseResult { purchase: Some(wire), balance: Some(balance), replayed: false }, events)
}

pub async fn record(
    api: &LedgerApi,
    request: tonic::Request<pb::RecordPurchaseRequest>,
    manual: bool,
) -> ApiResult<pb::PurchaseResult> {
    let ctx = api.ctx(&request, request.get_ref().context.as_ref())?;
    ctx.require_key()?;
    let body = request.into_inner();
    let method = if manual { "AddManualPurchase" } else { "RecordPurchase" };
    let input = convert::purchase_input(&body, ctx.now, manual)?;
    if body.history {
        check_history(&body, manual)?;
    }
    let store_id = acting_store(&ctx, "store_id", &body.store_id)?;
    let mut conn = api.conn().await?;
    let (client_id, card_id) = buyer(api, &conn, &ctx, &body.buyer).await?;
    let tx = conn.transaction().await?;
    // The key, the account lock, the programme and the time zone go in one round trip; a replay
    // rolls back the lock.
    let (replayed, mut opened, zone) = futures::try_join!(
        idempotency::replay::<pb::PurchaseResult>(&tx, &ctx, method, &body),
        async { Ok(store::purchases::open(&tx, &ctx.tenant, client_id, input.purchased_at).await?) },
        async { Ok(store::clients::time_zone(&tx, &ctx.tenant).await?) },
    )?;
    if let Some(mut answer) = replayed {
        answer.replayed = true;
        return Ok(answer);
    }
    convert::check_against(&opened.programme, &input.amount)?;
    let p = new_purchase(&body, input, (client_id, card_id, store_id), manual);
    let previous_level = opened.head.level_id.clone();
    let decision =
        if body.history { history(&ctx, &mut opened) } else { decide(&tx, &ctx, &p, &mut opened, &zone).await? };
    let (mut answer, events) = outcome(&ctx, &body, (&p, &decision), &opened, &previous_level);
    if conceals_holder(&ctx, matches!(body.buyer, Some(Buyer::CardNumber(_)))) {
        conceal(&mut answer);
    }
    let how = origin(&ctx, "purchase", "", Some(p.id));
    let subject = client_id.to_string();
    // Everything this purchase writes goes in one round trip, then the commit.
    futures::try_join!(
        store::purchases::write(&tx, &ctx.tenant, &p, (&mut opened, &decision), (ctx.now, &how)),
        async { Ok(publish_many(&tx, &events).await?) },
        idempotency::keep(&tx, &ctx, &subject, &answer),
    )?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(answer)
}

/// The level basis before the purchase, then the domain's decision on the opened account.
async fn decide(
    tx: &deadpool_postgres::Transaction<'_>,
    ctx: &Ctx,
    p: &NewPurchase,
    opened: &mut Opened,
    zone: &str,
) -> ApiResult<Decision> {
    let programme: &Programme = &opened.programme;
    let since = purchase::level_period_start(programme, p.purchased_at);
    let basis =
        store::purchases::level_basis(tx, &ctx.tenant, p.client_id, !programme.level_by_purchases, since).await?;
    let basket =
        Basket { amount_minor: p.amount_minor, points_to_spend: p.points_to_spend, purchased_at: p.purchased_at };
    let zone = loyalty_platform::tz::stored(zone);
    let rules = (opened.head.blocked, &opened.programme, &zone);
    let decision = purchase::decide(&mut opened.account, rules, &basket, basis, ctx.now)?;
    opened.head.level_id.clone_from(&decision.level_id);
    Ok(decision)
}

/// A history purchase is a manual one with a check id that spends nothing.
fn check_history(body: &pb::RecordPurchaseRequest, manual: bool) -> ApiResult<()> {
    let mut v = Violations::new();
    v.add_if(!manual, "history", "only AddManualPurchase records a purchase from another system");
    v.add_if(
        body.check_id.trim().is_empty(),
        "check_id",
        "is required for history: it keeps a check from being recorded twice",
    );
    v.add_if(
        body.points_to_spend != 0,
        "points_to_spend",
        "must be 0: a purchase from another system spends no points here",
    );
    v.add_if(!body.reservation_id.is_empty(), "reservation_id", "must be empty for history");
    Ok(v.into_result()?)
}

/// The decision for a history purchase: the account moved to now (lots that activate or expire
/// on the way), nothing earned or spent, the level as it is.
fn history(ctx: &Ctx, opened: &mut Opened) -> Decision {
    let changes = opened.account.advance(ctx.now);
    let level_id = opened.head.level_id.clone();
    Decision { changes, earned: 0, spent: 0, lot: None, debt_paid: Vec::new(), level_id }
}

/// Leaves the member's identity out of a till's answer.
fn conceal(answer: &mut pb::PurchaseResult) {
    if let Some(p) = answer.purchase.as_mut() {
        p.client_id.clear();
    }
    if let Some(b) = answer.balance.as_mut() {
        b.client_id.clear();
    }
}

/// Reads a return: its lines (each named once, quantities above 0), its store, its time.
fn new_return(ctx: &Ctx, body: &pb::ReturnPurchaseRequest) -> ApiResult<NewReturn> {
    let purchase_id = PurchaseId::parse("purchase_id", &body.purchase_id)?;
    let store_id = acting_store(ctx, "store_id", &body.store_id)?;
    let returned_at = match &body.returned_at {
        Some(t) => from_timestamp(t)
            .filter(|at| *at <= ctx.now + time::Duration::minutes(5))
            .ok_or_else(|| ApiError::field("returned_at", "is out of range or in the future"))?,
        None => ctx.now,
    };
    Ok(NewReturn {
        id: uuid::Uuid::now_v7(),
        purchase_id,
        lines: body.lines.iter().map(|l| (l.line_no, l.quantity_milli)).collect(),
        accepted_by: body.accepted_by.clone(),
        store_id,
        returned_at,
    })
}

/// A return at a till (LE-7): a purchase of the tenant, returned in a store the caller may act in.
pub async fn give_back(
    api: &LedgerApi,
    request: tonic::Request<pb::ReturnPurchaseRequest>,
) -> ApiResult<pb::ReturnResult> {
    let ctx = api.ctx(&request, request.get_ref().context.as_ref())?;
    ctx.require_key()?;
    let body = request.into_inner();
    let new = new_return(&ctx, &body)?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Some(mut answer) = idempotency::replay::<pb::ReturnResult>(&tx, &ctx, "ReturnPurchase", &body).await? {
        answer.replayed = true;
        return Ok(answer);
    }
    let zone = loyalty_platform::tz::stored(&store::clients::time_zone(&tx, &ctx.tenant).await?);
    let how = origin(&ctx, "return", "", Some(new.purchase_id));
    let done = store::returns::record(&tx, &ctx.tenant, &new, (ctx.now, &zone), &how).await?;
    let (view, programme) = futures::try_join!(
        store::balances::view(&tx, &ctx.tenant, done.client),
        store::programmes::at(&tx, &ctx.tenant, ctx.now)
    )?;
    let mut events = vec![ev::purchase_returned(&ctx, &new, &done), ev::balance_changed(&ctx, done.client, &view)];
    events.extend(ev::level_changed(&ctx, done.client, (&done.previous_level_id, &done.level_id), &programme));
    publish_many(&tx, &events).await?;
    let mut answer = pb::ReturnResult {
        return_id: new.id.to_string(),
        purchase: None,
        amount: Some(Money { minor_units: done.amount, currency: done.currency.clone() }),
        points_cancelled: done.cancelled,
        points_refunded: done.refunded,
        points_shortfall: done.shortfall,
        balance: Some(convert::balance_with_level(&done.client.to_string(), &view, &programme)),
        replayed: false,
    };
    if conceals_holder(&ctx, true)
        && let Some(b) = answer.balance.as_mut()
    {
        b.client_id.clear();
    }
    idempotency::keep(&tx, &ctx, &done.client.to_string(), &answer).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(answer)
}
