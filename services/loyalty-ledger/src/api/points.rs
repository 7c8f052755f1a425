//! The ledger's other writes over gRPC: reservations (LE-5), manual adjustments with their notice
//! (LE-3), early activation, and the block the client service passes on (CL-4). Every write is
//! idempotent by its key and publishes its events.
use super::context::{Ctx, client, conceals_holder, holder, origin};
use super::{LedgerApi, convert};
use crate::events::of_caller as ev;
use crate::store;
use crate::store::balances::View;
use crate::store::reservations::{Close, Held};
use loyalty_api::events::v1::{self as events, event::Payload};
use loyalty_api::ledger::v1 as pb;
use loyalty_platform::convert::{from_timestamp, to_timestamp};
use loyalty_platform::error::{ApiError, ApiResult, Violations};
use loyalty_platform::idempotency;
use loyalty_platform::money::Points;
use loyalty_platform::outbox::{publish, publish_many};
use loyalty_platform::{ClientId, PurchaseId, ReservationId};
use time::Duration;

/// The wire reservation of `held`, with the account's balance after the change.
fn reservation(held: &Held, balance: pb::Balance) -> pb::Reservation {
    let state = match held.state.as_str() {
        "held" => pb::ReservationState::Held,
        "committed" => pb::ReservationState::Committed,
        _ => pb::ReservationState::Cancelled,
    };
    pb::Reservation {
        id: held.id.to_string(),
        client_id: held.client.to_string(),
        points: held.points,
        committed_points: held.committed,
        state: state as i32,
        order_ref: held.order_ref.clone(),
        expires_at: Some(to_timestamp(held.expires_at)),
        balance: Some(balance),
        replayed: false,
    }
}

/// The balance after a change, and the event that tells read models.
async fn balance_after(
    tx: &deadpool_postgres::Transaction<'_>,
    ctx: &Ctx,
    client: ClientId,
) -> ApiResult<(pb::Balance, events::Event)> {
    let (view, programme): (View, _) = futures::try_join!(
        store::balances::view(tx, &ctx.tenant, client),
        store::programmes::at(tx, &ctx.tenant, ctx.now)
    )?;
    let balance = convert::balance_with_level(&client.to_string(), &view, &programme);
    Ok((balance, ev::balance_changed(ctx, client, &view)))
}

fn check_reserve(body: &pb::ReservePointsRequest) -> ApiResult<()> {
    let mut v = Violations::new();
    v.add_if(
        body.points <= 0 || Points::new(body.points).is_none(),
        "points",
        "must be more than 0, and at most 10^12",
    );
    v.add_if(body.ttl_seconds < 0, "ttl_seconds", "must be 0 (the programme's default) or more");
    Ok(v.into_result()?)
}

pub async fn reserve(api: &LedgerApi, request: tonic::Request<pb::ReservePointsRequest>) -> ApiResult<pb::Reservation> {
    let ctx = api.ctx(&request, request.get_ref().context.as_ref())?;
    ctx.require_key()?;
    let body = request.into_inner();
    check_reserve(&body)?;
    let mut conn = api.conn().await?;
    let client = holder(api, &conn, &ctx, (&body.client_id, &body.card_number)).await?;
    let tx = conn.transaction().await?;
    if let Some(mut answer) = idempotency::replay::<pb::Reservation>(&tx, &ctx, "ReservePoints", &body).await? {
        answer.replayed = true;
        return Ok(answer);
    }
    let programme = store::programmes::at(&tx, &ctx.tenant, ctx.now).await?;
    let seconds = if body.ttl_seconds == 0 { programme.reservation_ttl_seconds as i32 } else { body.ttl_seconds };
    let ttl = Duration::seconds(i64::from(seconds));
    let how = origin(&ctx, "reservation", "", None);
    let (id, _) =
        store::reservations::reserve(&tx, &ctx.tenant, client, (body.points, &body.order_ref, ttl), ctx.now, &how)
            .await?;
    let held = store::reservations::get(&tx, &ctx.tenant, id).await?.ok_or(ApiError::NotFound("reservation"))?;
    let (balance, balance_changed) = balance_after(&tx, &ctx, client).await?;
    publish_many(&tx, &[ev::reservation_changed(&ctx, &held), balance_changed]).await?;
    let mut answer = reservation(&held, balance);
    if conceals_holder(&ctx, body.client_id.is_empty()) {
        answer.client_id.clear();
        if let Some(b) = answer.balance.as_mut() {
            b.client_id.clear();
        }
    }
    idempotency::keep(&tx, &ctx, &client.to_string(), &answer).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(answer)
}

/// Commits (all or part) or cancels a reservation of a client the caller can see.
pub async fn close<T: prost::Message + HasContext>(
    api: &LedgerApi,
    request: &tonic::Request<T>,
    (id_text, how, method): (&str, Close, &str),
) -> ApiResult<pb::Reservation> {
    let ctx = api.ctx(request, request.get_ref().context())?;
    ctx.require_key()?;
    let id = ReservationId::parse("reservation_id", id_text)?;
    let mut conn = api.conn().await?;
    let found = store::reservations::get(&conn, &ctx.tenant, id).await?.ok_or(ApiError::NotFound("reservation"))?;
    client(api, &conn, &ctx, found.client).await.map_err(|_| ApiError::NotFound("reservation"))?;
    let tx = conn.transaction().await?;
    if let Some(mut answer) = idempotency::replay::<pb::Reservation>(&tx, &ctx, method, request.get_ref()).await? {
        answer.replayed = true;
        return Ok(answer);
    }
    store::reservations::close(&tx, &ctx.tenant, id, how, ctx.now, &origin(&ctx, "reservation", "", None)).await?;
    let held = store::reservations::get(&tx, &ctx.tenant, id).await?.ok_or(ApiError::NotFound("reservation"))?;
    let (balance, balance_changed) = balance_after(&tx, &ctx, held.client).await?;
    publish_many(&tx, &[ev::reservation_changed(&ctx, &held), balance_changed]).await?;
    let answer = reservation(&held, balance);
    idempotency::keep(&tx, &ctx, &held.client.to_string(), &answer).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(answer)
}

/// The request context of a request that has one.
pub trait HasContext {
    fn context(&self) -> Option<&loyalty_api::common::v1::RequestContext>;
}

impl HasContext for pb::CommitReservationRequest {
    fn context(&self) -> Option<&loyalty_api::common::v1::RequestContext> {
        self.context.as_ref()
    }
}

impl HasContext for pb::CancelReservationRequest {
    fn context(&self) -> Option<&loyalty_api::common::v1::RequestContext> {
        self.context.as_ref()
    }
}

/// Reads an adjustment: points within bounds and the programme's limit, a comment, an expiry in the
/// future for accruals only.
fn check_adjustment(body: &pb::AdjustPointsRequest, ctx: &Ctx, limit: i64) -> ApiResult<Option<time::OffsetDateTime>> {
    let mut v = Violations::new();
    v.add_if(body.points == 0, "points", "must not be 0: positive accrues, negative writes off");
    match Points::new(body.points) {
        None => v.add("points", "must be between -10^12 and 10^12"),
        Some(_) if body.opening_balance && body.points < 0 => {
            v.add("points", "an opening balance accrues: it must be positive")
        }
        Some(p) if p.get().abs() > limit && !body.opening_balance => {
            v.add("points", format!("moves more than the programme's limit of {limit} points for one adjustment"))
        }
        Some(_) => {}
    }
    v.add_if(body.comment.trim().is_empty(), "comment", "is required: say why");
    v.add_if(body.points < 0 && body.expires_at.is_some(), "expires_at", "only accruals have an expiry");
    let expiry = body.expires_at.as_ref().map(|t| from_timestamp(t).filter(|e| *e > ctx.now));
    v.add_if(matches!(expiry, Some(None)), "expires_at", "must be in the future");
    v.into_result()?;
    Ok(expiry.flatten())
}

pub async fn adjust(
    api: &LedgerApi,
    request: tonic::Request<pb::AdjustPointsRequest>,
) -> ApiResult<pb::AdjustPointsResponse> {
    let ctx = api.ctx(&request, request.get_ref().context.as_ref())?;
    ctx.require_key()?;
    let body = request.into_inner();
    let mut conn = api.conn().await?;
    let client = client(api, &conn, &ctx, ClientId::parse("client_id", &body.client_id)?).await?;
    let tx = conn.transaction().await?;
    if let Some(mut answer) = idempotency::replay::<pb::AdjustPointsResponse>(&tx, &ctx, "AdjustPoints", &body).await? {
        answer.replayed = true;
        return Ok(answer);
    }
    let (programme, zone) = futures::try_join!(
        store::programmes::at(&tx, &ctx.tenant, ctx.now),
        store::clients::time_zone(&tx, &ctx.tenant)
    )?;
    let custom_expiry = check_adjustment(&body, &ctx, programme.max_adjustment_points)?;
    let source = match ctx.principal.kind {
        _ if body.opening_balance => OPENING,
        loyalty_api::common::v1::actor::Kind::User => "manual",
        _ => "api",
    };
    if body.opening_balance
        && let Some(first) = store::entries::opening(&tx, &ctx.tenant, client).await?
    {
        return Err(ApiError::AlreadyExists(format!("the client already has an opening balance: entry {first}")));
    }
    let how = origin(&ctx, source, body.comment.trim(), None);
    if body.points > 0 {
        let expires = custom_expiry.or_else(|| programme.expires_at(ctx.now, &loyalty_platform::tz::stored(&zone)));
        store::accounts::earn(&tx, &ctx.tenant, client, body.points, (ctx.now, expires), ctx.now, &how).await?;
    } else {
        store::accounts::spend(&tx, &ctx.tenant, client, -body.points, ctx.now, &how).await?;
    }
    let entry_id = store::entries::last_id(&tx, &ctx.tenant, client).await?;
    let (balance, balance_changed) = balance_after(&tx, &ctx, client).await?;
    let adjusted = events::PointsAdjusted {
        entry_id: entry_id.to_string(),
        client_id: client.to_string(),
        points: body.points,
        comment: body.comment.trim().into(),
        source: source.into(),
    };
    let mut published = vec![ctx.event(&client.to_string(), Payload::PointsAdjusted(adjusted))];
    if body.notify_by_sms && body.points > 0 {
        let name = client_name(api, &ctx, client).await;
        published.push(notice(
            &ctx,
            client,
            programme.credit_notice(&name, body.points, balance.available),
            (body.points, balance.available),
        ));
    }
    published.push(balance_changed);
    publish_many(&tx, &published).await?;
    let answer = pb::AdjustPointsResponse { entry_id: entry_id.to_string(), balance: Some(balance), replayed: false };
    idempotency::keep(&tx, &ctx, &client.to_string(), &answer).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(answer)
}

/// The source of an opening balance's entries.
const OPENING: &str = "opening";

/// The points-credited SMS notice (LE-3, ME-5), for messaging to send.
fn notice(ctx: &Ctx, client: ClientId, text: String, (points, balance): (i64, i64)) -> events::Event {
    let notice = events::PointsNotificationRequested {
        client_id: client.to_string(),
        channel: loyalty_api::common::v1::ContactChannel::Sms as i32,
        text,
        points,
        balance,
    };
    ctx.event(&client.to_string(), Payload::PointsNotificationRequested(notice))
}

/// The client's first name for a notice (asked under the ledger's identity); empty when the client
/// service cannot say.
async fn client_name(api: &LedgerApi, ctx: &Ctx, client: ClientId) -> String {
    let body = loyalty_api::client::v1::GetClientRequest { client_id: client.to_string() };
    let asked = match api.identity.request(ctx.tenant.as_str(), body) {
        Ok(request) => api.clients.clone().get_client(request).await.map_err(|s| s.to_string()),
        Err(e) => Err(format!("{e:#}")),
    };
    match asked {
        Ok(c) => c.into_inner().first_name,
        Err(error) => {
            tracing::warn!(error, "no client name for the notice");
            String::new()
        }
    }
}

pub async fn activate(
    api: &LedgerApi,
    request: tonic::Request<pb::ActivatePendingPointsRequest>,
) -> ApiResult<pb::Balance> {
    let ctx = api.ctx(&request, request.get_ref().context.as_ref())?;
    let body = request.into_inner();
    let purchase = PurchaseId::parse_optional("purchase_id", &body.purchase_id)?;
    let mut conn = api.conn().await?;
    let client = client(api, &conn, &ctx, ClientId::parse("client_id", &body.client_id)?).await?;
    let tx = conn.transaction().await?;
    if let Some(answer) = idempotency::replay(&tx, &ctx, "ActivatePendingPoints", &body).await? {
        return Ok(answer);
    }
    let how = origin(&ctx, "manual", "early activation", purchase);
    store::balances::activate_pending(&tx, &ctx.tenant, client, purchase, ctx.now, &how).await?;
    let (balance, balance_changed) = balance_after(&tx, &ctx, client).await?;
    publish(&tx, &balance_changed).await?;
    idempotency::keep(&tx, &ctx, &client.to_string(), &balance).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(balance)
}

/// The client service's block decision (its own identity only), recorded and published.
pub async fn set_blocked(
    api: &LedgerApi,
    request: tonic::Request<pb::SetAccountBlockedRequest>,
) -> ApiResult<pb::SetAccountBlockedResponse> {
    let ctx = api.ctx(&request, None)?;
    let body = request.into_inner();
    let client = ClientId::parse("client_id", &body.client_id)?;
    let mut conn = api.conn().await?;
    let tx = conn.transaction().await?;
    crate::feed::block(&tx, &ctx.tenant, (&client.to_string(), body.blocked, &body.comment), ctx.now).await?;
    loyalty_platform::outbox::commit(tx).await?;
    Ok(pb::SetAccountBlockedResponse {})
}
