//! Triggers (ME-4): written, read, changed and deleted by marketing staff with the right to send;
//! `RecordClientEvent` fires the event triggers. A store-scoped token's trigger reaches only its
//! stores' clients, and such a token sees and changes only triggers of its stores.
use super::MessagingApi;
use crate::domain::content;
use crate::domain::rules::Channel;
use crate::store::{contacts, deliveries, triggers};
use loyalty_api::messaging::v1 as pb;
use loyalty_api::messaging::v1::TriggerKind as K;
use loyalty_api::messaging::v1::trigger::Body;
use loyalty_api::segment::v1 as spb;
use loyalty_api::segment::v1::segment_service_client::SegmentServiceClient;
use loyalty_platform::TenantId;
use loyalty_platform::convert::to_timestamp;
use loyalty_platform::error::{ApiError, ApiResult, Violations};
use loyalty_platform::request::Caller;
use tonic::Request;
use uuid::Uuid;

const MAX_NAME: usize = 200;
const MAX_EVENT_ID: usize = 200;

fn kind_name(kind: K) -> Option<&'static str> {
    Some(match kind {
        K::Birthday => "birthday",
        K::DaysAfterFirstPurchase => "days_after_first_purchase",
        K::PointsCredited => "points_credited",
        K::PointsExpiring => "points_expiring",
        K::SegmentEntered => "segment_entered",
        K::SegmentLeft => "segment_left",
        K::Date => "date",
        K::Event => "event",
        K::Unspecified => return None,
    })
}

/// An event name: 1 .. 64 of a-z, 0-9, "_", ".", "-".
fn event_name_ok(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-'))
}

/// What a trigger's author may write; the rest is output.
fn check(t: &pb::Trigger, v: &mut Violations) {
    if t.name.trim().is_empty() {
        v.add("trigger.name", "give the trigger a name");
    } else if t.name.chars().count() > MAX_NAME {
        v.add("trigger.name", format!("is longer than {MAX_NAME} characters"));
    }
    let kind = K::try_from(t.kind).unwrap_or(K::Unspecified);
    let days = |range: std::ops::RangeInclusive<i32>, what: &str, v: &mut Violations| {
        if !range.contains(&t.offset_days) {
            v.add("trigger.offset_days", format!("is {what}, from {} to {}", range.start(), range.end()));
        }
    };
    match kind {
        K::Unspecified => v.add("trigger.kind", "choose what fires it: birthday, days after the first purchase, points credited, points expiring, segment entered or left, a date or an event"),
        K::Birthday => days(-60..=60, "days after the birthday (negative: before)", v),
        K::DaysAfterFirstPurchase => days(0..=3650, "the days after the first purchase", v),
        K::PointsExpiring => days(0..=365, "the days before the points expire", v),
        K::SegmentEntered | K::SegmentLeft if t.segment_id.trim().is_empty() => {
            v.add("trigger.segment_id", "name the segment whose members it greets");
        }
        K::Date => match t.date.as_ref() {
            None => v.add("trigger.date", "give the day it sends"),
            Some(d) => {
                let month = u8::try_from(d.month).ok().and_then(|m| time::Month::try_from(m).ok());
                let day = u8::try_from(d.day).ok();
                let real = month.zip(day).is_some_and(|(m, day)| time::Date::from_calendar_date(d.year, m, day).is_ok());
                if !real {
                    v.add("trigger.date", "is not a calendar date");
                }
            }
        },
        K::Event if !event_name_ok(&t.event_name) => {
            v.add("trigger.event_name", "is 1 to 64 of a-z, 0-9, \"_\", \".\" and \"-\"");
        }
        _ => {}
    }
    if !t.send_at_local_time.is_empty() && crate::triggers::minutes_of(&t.send_at_local_time).is_none() {
        v.add("trigger.send_at_local_time", "is a local time as HH:MM, 00:00 to 23:59");
    }
    match &t.body {
        None => v.add("trigger.content", "give the content or a template id"),
        Some(Body::Content(c)) => {
            if let Err(more) = content::prepare(Some(c), "trigger.content", true) {
                v.extend(more);
            }
        }
        Some(Body::TemplateId(_)) => {}
    }
}

/// The channel the trigger sends on, its template looked up (and checked as marketing content).
async fn channel_of(
    db: &impl crate::store::GenericClient,
    tenant: &TenantId,
    body: Option<&Body>,
) -> ApiResult<Channel> {
    let (body, template) = match body {
        Some(Body::Content(c)) => (super::Body::Content(c), false),
        Some(Body::TemplateId(id)) => (super::Body::Template(id), true),
        None => (super::Body::Missing, false),
    };
    let (content, channel) = super::content_and_channel(db, tenant, "trigger", body).await?;
    if template {
        content::prepare(Some(&content), "template.content", true).map_err(ApiError::InvalidArgument)?;
    }
    Ok(channel)
}

/// The segment service, under the caller's token, answers the audience (and the segment of a
/// segment trigger): its error is the caller's.
async fn check_audience(api: &MessagingApi, caller: &Caller, t: &pb::Trigger) -> ApiResult<()> {
    let mut segments = SegmentServiceClient::new(api.segments.clone());
    if t.audience.as_ref().and_then(|a| a.source.as_ref()).is_some() {
        let request = caller.token.request(spb::CountClientsRequest { audience: t.audience.clone() });
        segments.count_clients(request).await.map_err(ApiError::Status)?;
    }
    if matches!(K::try_from(t.kind), Ok(K::SegmentEntered | K::SegmentLeft)) {
        let request = caller.token.request(spb::GetSegmentRequest { segment_id: t.segment_id.clone() });
        segments.get_segment(request).await.map_err(|s| match s.code() {
            tonic::Code::NotFound => ApiError::field("trigger.segment_id", "names no segment"),
            _ => ApiError::Status(s),
        })?;
    }
    Ok(())
}

/// Whether a token scoped to `stores` may see the trigger: one created within those stores.
fn visible(t: &triggers::Row, caller: &Caller) -> ApiResult<bool> {
    let Some(scope) = caller.principal.store_scope() else { return Ok(true) };
    Ok(t.stores()?.is_some_and(|own| own.iter().all(|s| scope.contains(s))))
}

async fn shown(db: &impl crate::store::GenericClient, tenant: &TenantId, t: &triggers::Row) -> ApiResult<pb::Trigger> {
    let totals = deliveries::totals(db, tenant, deliveries::Of::Trigger(t.id)).await?;
    Ok(with_totals(t, totals))
}

/// The trigger as the API shows it, with its figures.
fn with_totals(t: &triggers::Row, totals: deliveries::Totals) -> pb::Trigger {
    pb::Trigger {
        id: t.id.to_string(),
        created_at: Some(to_timestamp(t.created_at)),
        updated_at: Some(to_timestamp(t.updated_at)),
        stats: Some(super::deliveries::shown_stats(totals)),
        ..t.definition.clone()
    }
}

/// The trigger as stored: names trimmed, a segment id as the segment service shows it.
fn written(mut t: pb::Trigger) -> pb::Trigger {
    t.name = t.name.trim().to_string();
    t.segment_id = match Uuid::parse_str(t.segment_id.trim()) {
        Ok(id) => id.to_string(),
        Err(_) => t.segment_id.trim().to_string(),
    };
    t.event_name = t.event_name.trim().to_string();
    pb::Trigger { id: String::new(), created_at: None, updated_at: None, stats: None, ..t }
}

pub async fn create(api: &MessagingApi, r: Request<pb::CreateTriggerRequest>) -> ApiResult<pb::Trigger> {
    let caller = api.caller(&r)?;
    let Some(given) = r.into_inner().trigger else { return Err(ApiError::field("trigger", "give the trigger")) };
    let mut v = Violations::new();
    check(&given, &mut v);
    if !v.is_empty() {
        return Err(ApiError::InvalidArgument(v));
    }
    let db = api.pool.get().await.map_err(anyhow::Error::from)?;
    let channel = channel_of(&db, &caller.tenant, given.body.as_ref()).await?;
    check_audience(api, &caller, &given).await?;
    let definition = written(given);
    let zone = contacts::tenant_zone(&db, caller.tenant.as_str()).await?;
    let row = triggers::Row {
        id: Uuid::now_v7(),
        kind: kind_name(K::try_from(definition.kind).unwrap_or(K::Unspecified)).unwrap_or("").into(),
        definition,
        channel: channel.name().into(),
        created_by: match super::stores(&caller) {
            Some(stores) => serde_json::to_string(&stores).map_err(anyhow::Error::from)?,
            None => String::new(),
        },
        created_at: caller.now,
        updated_at: caller.now,
        // A date-based trigger looks at today too, once its send time comes.
        swept_on: loyalty_platform::tz::local_date(caller.now, &zone).previous_day(),
    };
    triggers::save(&db, &caller.tenant, &row).await?;
    shown(&db, &caller.tenant, &row).await
}

/// The trigger `id` of the caller's tenant, if the caller may see it.
async fn find(
    db: &impl crate::store::GenericClient,
    caller: &Caller,
    field: &str,
    id: &str,
    lock: bool,
) -> ApiResult<triggers::Row> {
    let id = super::uuid_of(field, id)?;
    let t = triggers::load(db, caller.tenant.as_str(), id, lock).await?.ok_or(ApiError::NotFound("trigger"))?;
    if !visible(&t, caller)? {
        return Err(ApiError::NotFound("trigger"));
    }
    Ok(t)
}

pub async fn get(api: &MessagingApi, r: Request<pb::GetTriggerRequest>) -> ApiResult<pb::Trigger> {
    let caller = api.caller(&r)?;
    let db = api.pool.get().await.map_err(anyhow::Error::from)?;
    let t = find(&db, &caller, "trigger_id", &r.get_ref().trigger_id, false).await?;
    shown(&db, &caller.tenant, &t).await
}

pub async fn list(api: &MessagingApi, r: Request<pb::ListTriggersRequest>) -> ApiResult<pb::ListTriggersResponse> {
    let caller = api.caller(&r)?;
    let db = api.pool.get().await.map_err(anyhow::Error::from)?;
    let mut seen = Vec::new();
    for t in triggers::list(&db, &caller.tenant).await? {
        if visible(&t, &caller)? {
            seen.push(t);
        }
    }
    let ids: Vec<Uuid> = seen.iter().map(|t| t.id).collect();
    let mut totals = deliveries::triggers_totals(&db, &caller.tenant, &ids).await?;
    let shown = seen.iter().map(|t| with_totals(t, totals.remove(&t.id).unwrap_or_default())).collect();
    Ok(pb::ListTriggersResponse { triggers: shown })
}

pub async fn update(api: &MessagingApi, r: Request<pb::UpdateTriggerRequest>) -> ApiResult<pb::Trigger> {
    let caller = api.caller(&r)?;
    let body = r.into_inner();
    let Some(given) = body.trigger else { return Err(ApiError::field("trigger", "give the trigger")) };
    let paths: Vec<String> = body.update_mask.map(|m| m.paths).unwrap_or_default();
    if paths.is_empty() {
        return Err(ApiError::field("update_mask", "name the fields to change"));
    }
    let mut db = api.pool.get().await.map_err(anyhow::Error::from)?;
    let tx = db.transaction().await.map_err(anyhow::Error::from)?;
    let mut row = find(&tx, &caller, "trigger.id", &given.id, true).await?;
    let mut v = Violations::new();
    let d = &mut row.definition;
    for path in &paths {
        match path.as_str() {
            "name" => d.name = given.name.clone(),
            "offset_days" => d.offset_days = given.offset_days,
            "segment_id" => d.segment_id = given.segment_id.clone(),
            "date" => d.date = given.date,
            "content" | "template_id" => d.body = given.body.clone(),
            "enabled" => d.enabled = given.enabled,
            "send_at_local_time" => d.send_at_local_time = given.send_at_local_time.clone(),
            "audience" => d.audience = given.audience.clone(),
            "event_name" => d.event_name = given.event_name.clone(),
            other => v.add(
                "update_mask",
                format!("{other:?} is not a field you can change (name, offset_days, segment_id, date, content, template_id, enabled, send_at_local_time, audience, event_name; the kind stays)"),
            ),
        }
    }
    check(d, &mut v);
    if !v.is_empty() {
        return Err(ApiError::InvalidArgument(v));
    }
    row.channel = channel_of(&tx, &caller.tenant, row.definition.body.as_ref()).await?.name().into();
    check_audience(api, &caller, &row.definition).await?;
    row.definition = written(row.definition);
    row.updated_at = caller.now;
    triggers::save(&tx, &caller.tenant, &row).await?;
    tx.commit().await.map_err(anyhow::Error::from)?;
    shown(&api.pool.get().await.map_err(anyhow::Error::from)?, &caller.tenant, &row).await
}

pub async fn delete(api: &MessagingApi, r: Request<pb::DeleteTriggerRequest>) -> ApiResult<pb::DeleteTriggerResponse> {
    let caller = api.caller(&r)?;
    let mut db = api.pool.get().await.map_err(anyhow::Error::from)?;
    let tx = db.transaction().await.map_err(anyhow::Error::from)?;
    let t = find(&tx, &caller, "trigger_id", &r.get_ref().trigger_id, true).await?;
    triggers::delete(&tx, &caller.tenant, t.id, caller.now).await?;
    tx.commit().await.map_err(anyhow::Error::from)?;
    Ok(pb::DeleteTriggerResponse {})
}

/// The event triggers named `event_name` fire for the client, once per `event_id`; an event that
/// came through an import fires nothing.
pub async fn record_event(
    api: &MessagingApi,
    r: Request<pb::RecordClientEventRequest>,
) -> ApiResult<pb::RecordClientEventResponse> {
    let caller = Caller::new(&r, r.get_ref().context.as_ref(), api.clock.as_ref())?;
    let by_import =
        r.get_ref().context.as_ref().is_some_and(|c| c.channel == loyalty_api::common::v1::Channel::Import as i32);
    let body = r.into_inner();
    let mut v = Violations::new();
    let event_id = body.event_id.trim();
    if event_id.is_empty() {
        v.add("event_id", "give the event's id (the same id again fires nothing new)");
    } else if event_id.chars().count() > MAX_EVENT_ID || event_id.chars().any(char::is_control) {
        v.add("event_id", format!("is up to {MAX_EVENT_ID} characters without control characters"));
    }
    if !event_name_ok(body.event_name.trim()) {
        v.add("event_name", "is 1 to 64 of a-z, 0-9, \"_\", \".\" and \"-\"");
    }
    let client = Uuid::parse_str(body.client_id.trim());
    if client.is_err() {
        v.add("client_id", "is not an id");
    }
    if !v.is_empty() {
        return Err(ApiError::InvalidArgument(v));
    }
    let client = client.map_err(|_| ApiError::field("client_id", "is not an id"))?;
    let db = api.pool.get().await.map_err(anyhow::Error::from)?;
    let contact = contacts::load(&db, &caller.tenant, client).await?;
    if !contact.is_some_and(|c| !c.deleted && c.seen_by(caller.principal.store_scope())) {
        return Err(ApiError::NotFound("client"));
    }
    if by_import {
        return Ok(pb::RecordClientEventResponse { triggers_fired: 0 });
    }
    let key = format!("event:{event_id}");
    let fact = triggers::Fact {
        kind: "event",
        segment_id: "",
        event_name: body.event_name.trim(),
        client,
        key: &key,
        at: caller.now,
        unless_imported_since: None,
    };
    let fired = triggers::fire(&db, caller.tenant.as_str(), &fact).await?;
    Ok(pb::RecordClientEventResponse { triggers_fired: i32::try_from(fired).unwrap_or(i32::MAX) })
}
