//! The ledger's writes over gRPC, purchases and returns (the rest is in `points.rs`), and what
//! every write shares. Every write is idempotent by its key and publishes its events.
use super::LedgerApi;
use super::context::{Ctx, actor_json, require_key, uuid};
use super::convert;
use crate::domain::programme::Programme;
use crate::error::{LedgerError, Result};
use crate::ops::Origin;
use crate::purchases::{self, Line, NewPurchase, PurchaseError};
use crate::returns::{self, NewReturn, ReturnFailure};
use crate::{balances, programmes};
use loyalty_api::card::v1::{LookupCardRequest, lookup_card_request::Key};
use loyalty_api::common::v1::Money;
use loyalty_api::events::v1::{self as ev, event::Payload};
use loyalty_api::ledger::v1 as pb;
use loyalty_platform::convert::{from_timestamp, to_timestamp};
use loyalty_platform::idempotency::{self, Claim};
use loyalty_platform::outbox::publish_many;
use prost::Message;
use time::Duration;
use uuid::Uuid;

pub(super) fn origin<'a>(ctx: &Ctx, source: &'a str, comment: &'a str, purchase_id: Option<Uuid>) -> Origin<'a> {
    Origin { source, actor: actor_json(ctx), comment, purchase_id }
}

/// The account's balances as the read models see them, read after the change.
pub(super) async fn balance_event(
    db: &impl deadpool_postgres::GenericClient,
    ctx: &Ctx,
    client: Uuid,
) -> Result<(ev::Event, pb::Balance)> {
    let (view, programme) =
        futures::try_join!(balances::view(db, &ctx.tenant, client), programmes::at(db, &ctx.tenant, ctx.now))?;
    Ok(balance_event_of(ctx, client, &view, &programme))
}

/// The `BalanceChanged` event and the wire balance of `view`, levels named by `programme`.
pub(super) fn balance_event_of(
    ctx: &Ctx,
    client: Uuid,
    view: &balances::View,
    programme: &Programme,
) -> (ev::Event, pb::Balance) {
    let level = programme.levels.iter().find(|l| l.id == view.level_id);
    let wire = convert::balance(
        &client.to_string(),
        view,
        level.map(|l| l.name.as_str()).unwrap_or(""),
        level.map(|l| l.discount_bp).unwrap_or(0),
    );
    let payload = crate::events::balance_changed(client, view);
    (ctx.event(&client.to_string(), Payload::BalanceChanged(payload)), wire)
}

/// `LevelChanged` when a purchase or return moved the client to another level (LE-9).
pub(super) fn level_event(
    ctx: &Ctx,
    client: Uuid,
    previous: &str,
    now: &str,
    programme: &Programme,
) -> Option<ev::Event> {
    if previous == now {
        return None;
    }
    let level = programme.levels.iter().find(|l| l.id == now);
    let payload = ev::LevelChanged {
        client_id: client.to_string(),
        level_id: now.to_string(),
        level_name: level.map(|l| l.name.clone()).unwrap_or_default(),
        discount_basis_points: level.map(|l| l.discount_bp as i32).unwrap_or(0),
        previous_level_id: previous.to_string(),
    };
    Some(ctx.event(&client.to_string(), Payload::LevelChanged(payload)))
}

async fn buyer(api: &LedgerApi, ctx: &Ctx, buyer: &Option<pb::record_purchase_request::Buyer>) -> Result<Uuid> {
    use pb::record_purchase_request::Buyer;
    match buyer {
        Some(Buyer::ClientId(id)) => uuid("client_id", id),
        Some(Buyer::CardNumber(number)) if !number.trim().is_empty() => {
            let mut cards = api.cards.clone();
            match cards
                .lookup_card(ctx.token.request(LookupCardRequest { key: Some(Key::Number(number.trim().into())) }))
                .await
            {
                Ok(found) => uuid("card_number", &found.into_inner().client_id),
                Err(s) if s.code() == tonic::Code::NotFound => {
                    Err(LedgerError::field("card_number", "is not a card of this tenant"))
                }
                Err(s) => Err(LedgerError::Status(s)),
            }
        }
        _ => Err(LedgerError::field("buyer", "give a client id or a card number")),
    }
}

pub(super) fn money(amount: Option<&Money>) -> (i64, String) {
    amount.map(|m| (m.minor_units, m.currency.clone())).unwrap_or((0, String::new()))
}

fn purchase_error(e: PurchaseError) -> LedgerError {
    match e {
        PurchaseError::Blocked => {
            LedgerError::FailedPrecondition("the client is blocked: no earning or spending".into())
        }
        PurchaseError::Insufficient(i) => LedgerError::FailedPrecondition(format!(
            "insufficient points: {} available, {} wanted",
            i.available, i.wanted
        )),
        PurchaseError::OverShare { max } => {
            LedgerError::FailedPrecondition(format!("at most {max} points may pay this check"))
        }
        PurchaseError::BelowMinimum { min } => {
            LedgerError::FailedPrecondition(format!("spending needs a balance of at least {min}"))
        }
        PurchaseError::DuplicateCheck => LedgerError::AlreadyExists("this store's check was recorded already".into()),
        PurchaseError::Store(e) => LedgerError::Internal(e),
    }
}

pub async fn record_purchase(
    api: &LedgerApi,
    request: tonic::Request<pb::RecordPurchaseRequest>,
    manual: bool,
) -> Result<pb::PurchaseResult> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    require_key(&ctx)?;
    let body = request.into_inner();
    let method = if manual { "AddManualPurchase" } else { "RecordPurchase" };
    let (amount, currency) = money(body.amount.as_ref());
    let mut v = loyalty_platform::error::Violations::new();
    v.add_if(amount <= 0, "amount.minor_units", "must be more than 0");
    v.add_if(body.points_to_spend < 0, "points_to_spend", "must be 0 or more");
    let purchased_at = body
        .purchased_at
        .as_ref()
        .map(|t| from_timestamp(t).ok_or(()))
        .transpose()
        .map_err(|_| LedgerError::field("purchased_at", "is out of range"))?;
    if manual {
        v.add_if(
            purchased_at.is_none_or(|t| t > ctx.now),
            "purchased_at",
            "a manual purchase needs a date in the past",
        );
    } else {
        v.add_if(purchased_at.is_some_and(|t| t > ctx.now + Duration::minutes(5)), "purchased_at", "is in the future");
    }
    let lines: Vec<Line> =
        body.lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let unit = l.unit_price.as_ref().map(|m| m.minor_units).unwrap_or(0);
                let line_amount = l.amount.as_ref().map(|m| m.minor_units).unwrap_or_else(|| {
                    i64::try_from(i128::from(unit) * i128::from(l.quantity_milli) / 1000).unwrap_or(0)
                });
                v.add_if(l.quantity_milli <= 0, &format!("lines[{i}].quantity_milli"), "must be more than 0");
                Line {
                    line_no: if l.line_no == 0 { i as i32 + 1 } else { l.line_no },
                    sku: l.sku.clone(),
                    name: l.name.clone(),
                    category: l.category.clone(),
                    quantity_milli: l.quantity_milli,
                    unit_price_minor: unit,
                    amount_minor: line_amount,
                    returned_quantity_milli: 0,
                }
            })
            .collect();
    if !lines.is_empty() {
        let sum: i64 = lines.iter().map(|l| l.amount_minor).sum();
        v.add_if(sum != amount, "lines", &format!("add up to {sum}, not the check's {amount}"));
    }
    v.into_result()?;
    let client = buyer(api, &ctx, &body.buyer).await?;
    let purchase = NewPurchase {
        id: Uuid::now_v7(),
        client_id: client,
        check_id: body.check_id.clone(),
        store_id: body.store_id.clone(),
        seller_id: body.seller_id.clone(),
        purchased_at,
        amount_minor: amount,
        currency: currency.clone(),
        payment_method: pb::PaymentMethod::try_from(body.payment_method)
            .map(|m| m.as_str_name().to_lowercase())
            .unwrap_or_default(),
        lines,
        promo_code: body.promo_code.clone(),
        promotion_id: body.promotion_id.clone(),
        points_to_spend: body.points_to_spend,
        manual,
    };
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    // The key, the account lock and the programme go in one round trip; a replay rolls back the lock.
    let encoded = body.encode_to_vec();
    let (claim, opened) = futures::try_join!(
        async {
            idempotency::claim(&tx, &ctx.tenant, &ctx.idempotency_key, method, &encoded)
                .await
                .map_err(LedgerError::Status)
        },
        async {
            purchases::open(&tx, &ctx.tenant, client, purchased_at.unwrap_or(ctx.now))
                .await
                .map_err(LedgerError::Internal)
        },
    )?;
    if let Claim::Replay(answer) = claim {
        let mut replay = pb::PurchaseResult::decode(answer.as_slice()).map_err(|e| LedgerError::Internal(e.into()))?;
        replay.replayed = true;
        return Ok(replay);
    }
    let origin = origin(&ctx, "purchase", "", Some(purchase.id));
    let mut decided =
        purchases::decide(&tx, &ctx.tenant, &purchase, opened, ctx.now, &origin).await.map_err(purchase_error)?;
    let recorded = &decided.recorded;
    let (balance_changed, balance) = balance_event_of(&ctx, client, &recorded.view, &recorded.programme);
    let wire = pb::Purchase {
        id: purchase.id.to_string(),
        client_id: client.to_string(),
        check_id: purchase.check_id.clone(),
        store_id: purchase.store_id.clone(),
        seller_id: purchase.seller_id.clone(),
        purchased_at: Some(to_timestamp(purchased_at.unwrap_or(ctx.now))),
        amount: body.amount.clone(),
        payment_method: body.payment_method,
        lines: body.lines.clone(),
        promo_code: purchase.promo_code.clone(),
        promotion_id: purchase.promotion_id.clone(),
        points_earned: recorded.earned,
        points_spent: recorded.spent,
        status: pb::PurchaseStatus::Confirmed as i32,
        manual,
        programme_version: recorded.programme.version,
        returned_amount: Some(Money { minor_units: 0, currency: currency.clone() }),
        ..Default::default()
    };
    let recorded_event = ev::PurchaseRecorded {
        purchase_id: wire.id.clone(),
        client_id: wire.client_id.clone(),
        store_id: wire.store_id.clone(),
        seller_id: wire.seller_id.clone(),
        purchased_at: wire.purchased_at,
        amount: wire.amount.clone(),
        payment_method: purchase.payment_method.clone(),
        lines: purchase
            .lines
            .iter()
            .map(|l| ev::PurchaseLineFacts {
                sku: l.sku.clone(),
                name: l.name.clone(),
                category: l.category.clone(),
                quantity_milli: l.quantity_milli,
                amount: Some(Money { minor_units: l.amount_minor, currency: currency.clone() }),
            })
            .collect(),
        promo_code: wire.promo_code.clone(),
        promotion_id: wire.promotion_id.clone(),
        points_earned: recorded.earned,
        points_spent: recorded.spent,
        manual,
        ..Default::default()
    };
    let mut events = vec![ctx.event(&wire.id, Payload::PurchaseRecorded(recorded_event)), balance_changed];
    events.extend(level_event(&ctx, client, &recorded.previous_level_id, &recorded.view.level_id, &recorded.programme));
    let answer = pb::PurchaseResult { purchase: Some(wire), balance: Some(balance), replayed: false };
    let encoded_answer = answer.encode_to_vec();
    // Everything this purchase writes goes in one round trip, then the commit.
    futures::try_join!(
        async { decided.write(&tx, &ctx.tenant, &purchase).await.map_err(purchase_error) },
        async { publish_many(&tx, &events).await.map_err(LedgerError::Internal) },
        async {
            idempotency::remember(&tx, &ctx.tenant, &ctx.idempotency_key, &client.to_string(), &encoded_answer)
                .await
                .map_err(LedgerError::Internal)
        },
    )?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(answer)
}

pub async fn return_purchase(
    api: &LedgerApi,
    request: tonic::Request<pb::ReturnPurchaseRequest>,
) -> Result<pb::ReturnResult> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    require_key(&ctx)?;
    let body = request.into_inner();
    let purchase_id = uuid("purchase_id", &body.purchase_id)?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Claim::Replay(answer) =
        idempotency::claim(&tx, &ctx.tenant, &ctx.idempotency_key, "ReturnPurchase", &body.encode_to_vec()).await?
    {
        let mut replay = pb::ReturnResult::decode(answer.as_slice()).map_err(|e| LedgerError::Internal(e.into()))?;
        replay.replayed = true;
        return Ok(replay);
    }
    let new = NewReturn {
        id: Uuid::now_v7(),
        purchase_id,
        lines: body.lines.iter().map(|l| (l.line_no, l.quantity_milli)).collect(),
        accepted_by: body.accepted_by.clone(),
        store_id: body.store_id.clone(),
    };
    let done = returns::record(&tx, &ctx.tenant, &new, ctx.now, &origin(&ctx, "return", "", Some(purchase_id)))
        .await
        .map_err(|e| match e {
        ReturnFailure::NotFound => LedgerError::NotFound("purchase"),
        ReturnFailure::Invalid(reason) => LedgerError::field("lines", &format!("{reason:?}")),
        ReturnFailure::Store(e) => LedgerError::Internal(e),
    })?;
    let client = done.client;
    let (view, programme) =
        futures::try_join!(balances::view(&tx, &ctx.tenant, client), programmes::at(&tx, &ctx.tenant, ctx.now))?;
    let (balance_changed, balance) = balance_event_of(&ctx, client, &view, &programme);
    let returned = ev::PurchaseReturned {
        return_id: new.id.to_string(),
        purchase_id: purchase_id.to_string(),
        client_id: client.to_string(),
        store_id: new.store_id.clone(),
        accepted_by: new.accepted_by.clone(),
        returned_at: Some(to_timestamp(ctx.now)),
        amount: Some(Money { minor_units: done.amount, currency: String::new() }),
        points_cancelled: done.cancelled,
        points_refunded: done.refunded,
        ..Default::default()
    };
    let mut events = vec![ctx.event(&purchase_id.to_string(), Payload::PurchaseReturned(returned)), balance_changed];
    events.extend(level_event(&ctx, client, &done.previous_level_id, &done.level_id, &programme));
    publish_many(&tx, &events).await?;
    let answer = pb::ReturnResult {
        return_id: new.id.to_string(),
        purchase: None,
        amount: Some(Money { minor_units: done.amount, currency: String::new() }),
        points_cancelled: done.cancelled,
        points_refunded: done.refunded,
        points_shortfall: done.shortfall,
        balance: Some(balance),
        replayed: false,
    };
    idempotency::remember(&tx, &ctx.tenant, &ctx.idempotency_key, &client.to_string(), &answer.encode_to_vec()).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(answer)
}
