//! The ledger's other writes over gRPC: reservations (LE-5), manual adjustments with their notice
//! (LE-3), early activation, blocking (CL-4) and programme updates. Every write is idempotent by
//! its key and publishes its events.
use super::LedgerApi;
use super::context::{Ctx, require_key, uuid};
use super::convert;
use super::writes::{balance_event, origin};
use crate::error::{LedgerError, Result};
use crate::reservations::{self, Close, CloseError};
use crate::{balances, ops, programmes};
use loyalty_api::events::v1::{self as ev, event::Payload};
use loyalty_api::ledger::v1 as pb;
use loyalty_platform::convert::{from_timestamp, to_timestamp};
use loyalty_platform::idempotency::{self, Claim};
use loyalty_platform::outbox::publish;
use prost::Message;
use time::Duration;
use uuid::Uuid;

fn reservation_event(ctx: &Ctx, id: Uuid, client: Uuid, points: i64, state: &str, order_ref: &str) -> ev::Event {
    let payload = ev::ReservationChanged {
        reservation_id: id.to_string(),
        client_id: client.to_string(),
        points,
        state: state.into(),
        order_ref: order_ref.into(),
    };
    ctx.event(&client.to_string(), Payload::ReservationChanged(payload))
}

pub async fn reserve(api: &LedgerApi, request: tonic::Request<pb::ReservePointsRequest>) -> Result<pb::Reservation> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    require_key(&ctx)?;
    let body = request.into_inner();
    let client = uuid("client_id", &body.client_id)?;
    if body.points <= 0 {
        return Err(LedgerError::field("points", "must be more than 0"));
    }
    if body.ttl_seconds < 0 {
        return Err(LedgerError::field("ttl_seconds", "must be 0 (the programme's default) or more"));
    }
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Claim::Replay(answer) =
        idempotency::claim(&tx, &ctx.tenant, &ctx.idempotency_key, "ReservePoints", &body.encode_to_vec()).await?
    {
        let mut replay = pb::Reservation::decode(answer.as_slice()).map_err(|e| LedgerError::Internal(e.into()))?;
        replay.replayed = true;
        return Ok(replay);
    }
    let programme = programmes::at(&tx, &ctx.tenant, ctx.now).await?;
    let ttl = Duration::seconds(i64::from(if body.ttl_seconds == 0 {
        programme.reservation_ttl_seconds as i32
    } else {
        body.ttl_seconds
    }));
    let (id, _) = reservations::reserve(
        &tx,
        &ctx.tenant,
        client,
        (body.points, &body.order_ref, ttl),
        ctx.now,
        &origin(&ctx, "reservation", "", None),
    )
    .await?;
    let (balance_changed, balance) = balance_event(&tx, &ctx, client).await?;
    publish(&tx, &reservation_event(&ctx, id, client, body.points, "held", &body.order_ref)).await?;
    publish(&tx, &balance_changed).await?;
    let answer = pb::Reservation {
        id: id.to_string(),
        client_id: client.to_string(),
        points: body.points,
        committed_points: 0,
        state: pb::ReservationState::Held as i32,
        order_ref: body.order_ref.clone(),
        expires_at: Some(to_timestamp(ctx.now + ttl)),
        balance: Some(balance),
        replayed: false,
    };
    idempotency::remember(&tx, &ctx.tenant, &ctx.idempotency_key, &client.to_string(), &answer.encode_to_vec()).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(answer)
}

/// Commit (all or part) or cancel a reservation.
pub async fn close(
    api: &LedgerApi,
    ctx: Ctx,
    id_text: &str,
    how: Close,
    body: &[u8],
    method: &str,
) -> Result<pb::Reservation> {
    require_key(&ctx)?;
    let id = uuid("reservation_id", id_text)?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Claim::Replay(answer) = idempotency::claim(&tx, &ctx.tenant, &ctx.idempotency_key, method, body).await? {
        let mut replay = pb::Reservation::decode(answer.as_slice()).map_err(|e| LedgerError::Internal(e.into()))?;
        replay.replayed = true;
        return Ok(replay);
    }
    reservations::close(&tx, &ctx.tenant, id, how, ctx.now, &origin(&ctx, "reservation", "", None)).await.map_err(
        |e| match e {
            CloseError::NotFound => LedgerError::NotFound("reservation"),
            CloseError::Closed(state) => LedgerError::FailedPrecondition(format!("the reservation is {state} already")),
            CloseError::TooMuch { reserved } => {
                LedgerError::field("points", &format!("is more than the {reserved} points reserved"))
            }
            CloseError::Store(e) => LedgerError::Internal(e),
        },
    )?;
    let row = tx
        .query_one("SELECT client_id, points, committed, state, order_ref, expires_at FROM reservations WHERE tenant_id = $1 AND id = $2", &[&ctx.tenant, &id])
        .await?;
    let (client, points, committed, state, order_ref): (Uuid, i64, i64, String, String) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    let (balance_changed, balance) = balance_event(&tx, &ctx, client).await?;
    publish(&tx, &reservation_event(&ctx, id, client, points, &state, &order_ref)).await?;
    publish(&tx, &balance_changed).await?;
    let answer = pb::Reservation {
        id: id.to_string(),
        client_id: client.to_string(),
        points,
        committed_points: committed,
        state: if state == "committed" { pb::ReservationState::Committed } else { pb::ReservationState::Cancelled }
            as i32,
        order_ref,
        expires_at: Some(to_timestamp(row.get(5))),
        balance: Some(balance),
        replayed: false,
    };
    idempotency::remember(&tx, &ctx.tenant, &ctx.idempotency_key, &client.to_string(), &answer.encode_to_vec()).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(answer)
}

pub async fn adjust(
    api: &LedgerApi,
    request: tonic::Request<pb::AdjustPointsRequest>,
) -> Result<pb::AdjustPointsResponse> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    require_key(&ctx)?;
    let body = request.into_inner();
    let client = uuid("client_id", &body.client_id)?;
    let mut v = loyalty_platform::error::Violations::new();
    v.add_if(body.points == 0, "points", "must not be 0: positive accrues, negative writes off");
    v.add_if(body.comment.trim().is_empty(), "comment", "is required");
    v.add_if(body.points < 0 && body.expires_at.is_some(), "expires_at", "only accruals have an expiry");
    let custom_expiry = body.expires_at.as_ref().map(|t| from_timestamp(t).filter(|e| *e > ctx.now));
    v.add_if(matches!(custom_expiry, Some(None)), "expires_at", "must be in the future");
    v.into_result()?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    if let Claim::Replay(answer) =
        idempotency::claim(&tx, &ctx.tenant, &ctx.idempotency_key, "AdjustPoints", &body.encode_to_vec()).await?
    {
        let mut replay =
            pb::AdjustPointsResponse::decode(answer.as_slice()).map_err(|e| LedgerError::Internal(e.into()))?;
        replay.replayed = true;
        return Ok(replay);
    }
    let programme = programmes::at(&tx, &ctx.tenant, ctx.now).await?;
    let source = if ctx.principal.kind == loyalty_api::common::v1::actor::Kind::User { "manual" } else { "api" };
    let how = origin(&ctx, source, body.comment.trim(), None);
    if body.points > 0 {
        let expires = custom_expiry.flatten().or_else(|| programme.expires_at(ctx.now));
        ops::earn(&tx, &ctx.tenant, client, body.points, (ctx.now, expires), ctx.now, &how).await?;
    } else {
        ops::spend(&tx, &ctx.tenant, client, -body.points, ctx.now, &how).await?;
    }
    let entry_id: Uuid = tx
        .query_one(
            "SELECT id FROM entries WHERE tenant_id = $1 AND client_id = $2 ORDER BY seq DESC LIMIT 1",
            &[&ctx.tenant, &client],
        )
        .await?
        .get(0);
    let (balance_changed, balance) = balance_event(&tx, &ctx, client).await?;
    let adjusted = ev::PointsAdjusted {
        entry_id: entry_id.to_string(),
        client_id: client.to_string(),
        points: body.points,
        comment: body.comment.trim().into(),
        source: source.into(),
    };
    publish(&tx, &ctx.event(&client.to_string(), Payload::PointsAdjusted(adjusted))).await?;
    if body.notify_by_sms && body.points > 0 {
        let name = super::client_name(api, &ctx, client).await;
        let notice = ev::PointsNotificationRequested {
            client_id: client.to_string(),
            channel: loyalty_api::common::v1::ContactChannel::Sms as i32,
            text: programme.credit_notice(&name, body.points, balance.available),
            points: body.points,
            balance: balance.available,
        };
        publish(&tx, &ctx.event(&client.to_string(), Payload::PointsNotificationRequested(notice))).await?;
    }
    publish(&tx, &balance_changed).await?;
    let answer = pb::AdjustPointsResponse { entry_id: entry_id.to_string(), balance: Some(balance), replayed: false };
    idempotency::remember(&tx, &ctx.tenant, &ctx.idempotency_key, &client.to_string(), &answer.encode_to_vec()).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(answer)
}

pub async fn activate(
    api: &LedgerApi,
    request: tonic::Request<pb::ActivatePendingPointsRequest>,
) -> Result<pb::Balance> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    let body = request.into_inner();
    let client = uuid("client_id", &body.client_id)?;
    let purchase = if body.purchase_id.is_empty() { None } else { Some(uuid("purchase_id", &body.purchase_id)?) };
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    balances::activate_pending(
        &tx,
        &ctx.tenant,
        client,
        purchase,
        ctx.now,
        &origin(&ctx, "manual", "early activation", purchase),
    )
    .await?;
    let (balance_changed, balance) = balance_event(&tx, &ctx, client).await?;
    publish(&tx, &balance_changed).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(balance)
}

pub async fn set_blocked(
    api: &LedgerApi,
    request: tonic::Request<pb::SetAccountBlockedRequest>,
) -> Result<pb::SetAccountBlockedResponse> {
    let ctx = Ctx::new(&request, None, api.clock())?;
    let body = request.into_inner();
    let client = uuid("client_id", &body.client_id)?;
    let conn = api.conn().await?;
    balances::set_blocked(&conn, &ctx.tenant, client, body.blocked).await?;
    Ok(pb::SetAccountBlockedResponse {})
}

pub async fn update_programme(
    api: &LedgerApi,
    request: tonic::Request<pb::UpdateProgrammeRequest>,
) -> Result<pb::Programme> {
    let ctx = Ctx::new(&request, request.get_ref().context.as_ref(), api.clock())?;
    let rules = convert::programme_from_wire(&request.get_ref().programme.clone().unwrap_or_default())?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    let published = programmes::publish(&tx, &ctx.tenant, &rules, ctx.now).await?;
    publish(
        &tx,
        &ctx.event(&ctx.tenant, Payload::ProgrammeChanged(ev::ProgrammeChanged { version: published.version })),
    )
    .await?;
    loyalty_platform::outbox::commit(tx).await?;
    let mut wire = convert::programme_to_wire(&published);
    wire.effective_from = Some(to_timestamp(ctx.now));
    Ok(wire)
}

pub fn close_how(points: i64) -> Close {
    Close::Commit(points)
}
