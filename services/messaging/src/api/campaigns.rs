//! Campaigns (ME-2, ME-4): written as drafts, started once (a retried start changes nothing), the
//! audience snapshot taken from the segment service under the caller's token (so a store-scoped
//! caller reaches only their stores' clients), paused, resumed and cancelled.
use super::MessagingApi;
use crate::domain::content;
use crate::domain::rules::Channel;
use crate::store::{campaigns, deliveries, providers, templates};
use loyalty_api::common::v1::{Actor, actor};
use loyalty_api::events::v1::{CampaignChanged, event::Payload};
use loyalty_api::filter::v1::audience::Source as AudienceSource;
use loyalty_api::messaging::v1 as pb;
use loyalty_api::messaging::v1::campaign::Body;
use loyalty_api::messaging::v1::schedule::When;
use loyalty_api::segment::v1 as spb;
use loyalty_api::segment::v1::segment_service_client::SegmentServiceClient;
use loyalty_platform::TenantId;
use loyalty_platform::convert::to_timestamp;
use loyalty_platform::error::{ApiError, ApiResult, Violations};
use loyalty_platform::request::Caller;
use tonic::Request;
use uuid::Uuid;

const MAX_NAME: usize = 200;

fn state_of(text: &str) -> pb::CampaignState {
    use pb::CampaignState as S;
    match text {
        "draft" => S::Draft,
        "scheduled" => S::Scheduled,
        "running" => S::Running,
        "paused" => S::Paused,
        "completed" => S::Completed,
        "cancelled" => S::Cancelled,
        _ => S::Unspecified,
    }
}

fn state_name(state: pb::CampaignState) -> Option<&'static str> {
    use pb::CampaignState as S;
    Some(match state {
        S::Draft => "draft",
        S::Scheduled => "scheduled",
        S::Running => "running",
        S::Paused => "paused",
        S::Completed => "completed",
        S::Cancelled => "cancelled",
        S::Unspecified => return None,
    })
}

pub fn shown(c: &campaigns::Row) -> pb::Campaign {
    pb::Campaign {
        id: c.id.to_string(),
        state: state_of(&c.state) as i32,
        created_at: Some(to_timestamp(c.created_at)),
        started_at: c.started_at.map(to_timestamp),
        completed_at: c.completed_at.map(to_timestamp),
        last_run_id: c.last_run_id.map(|r| r.to_string()).unwrap_or_default(),
        pause_reason: c.pause_reason.clone(),
        next_run_at: c.next_run_at.map(to_timestamp),
        ..c.definition.clone()
    }
}

/// The channel a campaign's body sends on; a template is looked up.
async fn channel_of(
    db: &impl crate::store::GenericClient,
    tenant: &TenantId,
    body: Option<&Body>,
) -> ApiResult<Channel> {
    let body = match body {
        Some(Body::Content(c)) => super::Body::Content(c),
        Some(Body::TemplateId(id)) => super::Body::Template(id),
        None => super::Body::Missing,
    };
    Ok(super::content_and_channel(db, tenant, "campaign", body).await?.1)
}

/// What a campaign's author may write; the rest is output.
fn check(c: &pb::Campaign, v: &mut Violations) {
    if c.name.trim().is_empty() {
        v.add("campaign.name", "give the campaign a name");
    } else if c.name.chars().count() > MAX_NAME {
        v.add("campaign.name", format!("is longer than {MAX_NAME} characters"));
    }
    if c.audience.as_ref().and_then(|a| a.source.as_ref()).is_none() {
        v.add("campaign.audience", "choose who it goes to: all clients, a segment, a filter or client ids");
    }
    if !(0..=365).contains(&c.conversion_window_days) {
        v.add("campaign.conversion_window_days", "is from 0 (the default, 7 days) to 365");
    }
    if let Some(Body::Content(content)) = &c.body
        && let Err(more) = content::prepare(Some(content), "campaign.content", true)
    {
        v.extend(more);
    }
}

/// A time must be ahead, a cron expression must read.
fn check_schedule(c: &pb::Campaign, now: time::OffsetDateTime, v: &mut Violations) {
    match c.schedule.as_ref().and_then(|s| s.when.as_ref()) {
        None | Some(When::Immediately(_)) => {}
        Some(When::At(at)) => match loyalty_platform::convert::from_timestamp(at) {
            Some(at) if at > now => {}
            Some(_) => v.add("campaign.schedule.at", "is in the past: give a time ahead, or send it now"),
            None => v.add("campaign.schedule.at", "is not a time"),
        },
        Some(When::Cron(text)) => {
            if let Err(e) = crate::domain::cron::Cron::parse(text) {
                v.add("campaign.schedule.cron", e);
            }
        }
    }
}

/// The content a campaign sends: its own, or its template's as it is now.
pub async fn content_of(
    db: &impl crate::store::GenericClient,
    tenant: &TenantId,
    c: &campaigns::Row,
) -> ApiResult<pb::Content> {
    match &c.definition.body {
        Some(Body::Content(content)) => Ok(content.clone()),
        Some(Body::TemplateId(t)) => {
            let t = super::uuid_of("campaign.template_id", t)?;
            Ok(templates::load(db, tenant, t, false).await?.ok_or(ApiError::NotFound("template"))?.content)
        }
        None => Err(ApiError::field("campaign.content", "give the content or a template id")),
    }
}

/// Asks the segment service, under the caller's token, whether the audience is one it can answer
/// (a known segment, a filter that checks): its error is the caller's.
async fn check_audience(api: &MessagingApi, caller: &Caller, c: &pb::Campaign) -> ApiResult<i64> {
    let mut segments = SegmentServiceClient::new(api.segments.clone());
    let request = caller.token.request(spb::CountClientsRequest { audience: c.audience.clone() });
    let counted = segments.count_clients(request).await.map_err(ApiError::Status)?;
    Ok(counted.into_inner().count)
}

pub async fn create(api: &MessagingApi, r: Request<pb::CreateCampaignRequest>) -> ApiResult<pb::Campaign> {
    let caller = api.caller(&r)?;
    let Some(mut c) = r.into_inner().campaign else { return Err(ApiError::field("campaign", "give the campaign")) };
    let mut v = Violations::new();
    check(&c, &mut v);
    check_schedule(&c, caller.now, &mut v);
    if !v.is_empty() {
        return Err(ApiError::InvalidArgument(v));
    }
    let mut db = api.pool.get().await.map_err(anyhow::Error::from)?;
    let channel = channel_of(&db, &caller.tenant, c.body.as_ref()).await?;
    check_audience(api, &caller, &c).await?;
    c.name = c.name.trim().to_string();
    let definition = pb::Campaign { id: String::new(), state: 0, created_at: None, started_at: None, ..c };
    let row = campaigns::Row {
        id: Uuid::now_v7(),
        definition,
        state: "draft".into(),
        channel: channel.name().into(),
        created_at: caller.now,
        started_at: None,
        completed_at: None,
        last_run_id: None,
        pause_reason: String::new(),
        started_by: String::new(),
        next_run_at: None,
    };
    let tx = db.transaction().await.map_err(anyhow::Error::from)?;
    campaigns::insert(&tx, &caller.tenant, &row).await?;
    publish_change(&tx, caller.tenant.as_str(), row.id).await?;
    loyalty_platform::outbox::commit(tx).await.map_err(anyhow::Error::from)?;
    Ok(shown(&row))
}

pub async fn get(api: &MessagingApi, r: Request<pb::GetCampaignRequest>) -> ApiResult<pb::Campaign> {
    let caller = api.caller(&r)?;
    let id = super::uuid_of("campaign_id", &r.get_ref().campaign_id)?;
    let db = api.pool.get().await.map_err(anyhow::Error::from)?;
    let c = campaigns::load(&db, caller.tenant.as_str(), id, false).await?.ok_or(ApiError::NotFound("campaign"))?;
    Ok(shown(&c))
}

pub async fn list(api: &MessagingApi, r: Request<pb::ListCampaignsRequest>) -> ApiResult<pb::ListCampaignsResponse> {
    let caller = api.caller(&r)?;
    let body = r.into_inner();
    let (offset, size) = super::page(body.page.as_ref())?;
    let mut states = Vec::new();
    for (i, s) in body.states.iter().enumerate() {
        match pb::CampaignState::try_from(*s).ok().and_then(state_name) {
            Some(name) => states.push(name.to_string()),
            None => return Err(ApiError::field(&format!("states[{i}]"), "is not a campaign state")),
        }
    }
    let db = api.pool.get().await.map_err(anyhow::Error::from)?;
    let (rows, total) = campaigns::list(&db, &caller.tenant, &states, offset, size).await?;
    let page = super::page_info(offset, size, rows.len(), total);
    Ok(pb::ListCampaignsResponse { campaigns: rows.iter().map(shown).collect(), page: Some(page) })
}

pub async fn update(api: &MessagingApi, r: Request<pb::UpdateCampaignRequest>) -> ApiResult<pb::Campaign> {
    let caller = api.caller(&r)?;
    let body = r.into_inner();
    let Some(given) = body.campaign else { return Err(ApiError::field("campaign", "give the campaign")) };
    let id = super::uuid_of("campaign.id", &given.id)?;
    let paths: Vec<String> = body.update_mask.map(|m| m.paths).unwrap_or_default();
    if paths.is_empty() {
        return Err(ApiError::field("update_mask", "name the fields to change"));
    }
    let mut db = api.pool.get().await.map_err(anyhow::Error::from)?;
    let tx = db.transaction().await.map_err(anyhow::Error::from)?;
    let mut row =
        campaigns::load(&tx, caller.tenant.as_str(), id, true).await?.ok_or(ApiError::NotFound("campaign"))?;
    if row.state != "draft" {
        return Err(ApiError::precondition(format!("the campaign is {}: only a draft can be changed", row.state)));
    }
    let mut v = Violations::new();
    let d = &mut row.definition;
    for path in &paths {
        match path.as_str() {
            "name" => d.name = given.name.trim().to_string(),
            "audience" => d.audience = given.audience.clone(),
            "content" | "template_id" => d.body = given.body.clone(),
            "schedule" => d.schedule = given.schedule.clone(),
            "conversion_window_days" => d.conversion_window_days = given.conversion_window_days,
            other => v.add(
                "update_mask",
                format!("{other:?} is not a field you can change (name, audience, content, template_id, schedule, conversion_window_days)"),
            ),
        }
    }
    check(d, &mut v);
    check_schedule(d, caller.now, &mut v);
    if !v.is_empty() {
        return Err(ApiError::InvalidArgument(v));
    }
    row.channel = channel_of(&tx, &caller.tenant, row.definition.body.as_ref()).await?.name().into();
    if paths.iter().any(|p| p == "audience") {
        check_audience(api, &caller, &row.definition).await?;
    }
    campaigns::save_definition(&tx, &caller.tenant, &row).await?;
    publish_change(&tx, caller.tenant.as_str(), row.id).await?;
    loyalty_platform::outbox::commit(tx).await.map_err(anyhow::Error::from)?;
    Ok(shown(&row))
}

pub async fn start(api: &MessagingApi, r: Request<pb::StartCampaignRequest>) -> ApiResult<pb::Campaign> {
    let caller = Caller::new(&r, r.get_ref().context.as_ref(), api.clock.as_ref())?;
    let id = super::uuid_of("campaign_id", &r.get_ref().campaign_id)?;
    let tenant = caller.tenant.clone();
    let mut db = api.pool.get().await.map_err(anyhow::Error::from)?;
    let tx = db.transaction().await.map_err(anyhow::Error::from)?;
    let c = campaigns::load(&tx, tenant.as_str(), id, true).await?.ok_or(ApiError::NotFound("campaign"))?;
    match c.state.as_str() {
        "running" | "completed" | "scheduled" => return Ok(shown(&c)),
        "cancelled" => return Err(ApiError::precondition("the campaign was cancelled: it cannot start again")),
        "paused" => {
            let run = c.last_run_id.ok_or_else(|| anyhow::anyhow!("a paused campaign without a run"))?;
            campaigns::set_run_state(&tx, tenant.as_str(), run, "sending", caller.now).await?;
            campaigns::set_state(&tx, tenant.as_str(), id, "running", "", caller.now).await?;
            publish_change(&tx, tenant.as_str(), id).await?;
            loyalty_platform::outbox::commit(tx).await.map_err(anyhow::Error::from)?;
            return reload(api, &tenant, id).await;
        }
        _ => {}
    }
    let content = content_of(&tx, &tenant, &c).await?;
    let prepared = content::prepare(Some(&content), "campaign.content", true)?;
    match providers::load(&tx, tenant.as_str(), prepared.channel.name()).await? {
        Some(p) if p.provider.enabled => {}
        Some(_) => return Err(ApiError::precondition(format!("the {} provider is disabled", prepared.channel.name()))),
        None => return Err(super::providers::no_provider(prepared.channel)),
    }
    let scope = super::stores(&caller).map(|s| serde_json::to_string(&s).unwrap_or_default()).unwrap_or_default();
    let zone = crate::store::contacts::tenant_zone(&tx, tenant.as_str()).await?;
    if let Some(at) = crate::schedule::next_run(c.definition.schedule.as_ref(), caller.now, &zone) {
        // Its time comes later: the scheduler starts it then, within the scheduler's stores.
        campaigns::schedule(&tx, tenant.as_str(), id, at, &scope).await?;
        publish_change(&tx, tenant.as_str(), id).await?;
        loyalty_platform::outbox::commit(tx).await.map_err(anyhow::Error::from)?;
        return reload(api, &tenant, id).await;
    }
    let run = match campaigns::snapshotting(&tx, &tenant, id).await? {
        Some(run) => run,
        None => {
            let run = Uuid::now_v7();
            campaigns::start_run(&tx, &tenant, &c, run, &content, &scope, caller.now).await?;
            run
        }
    };
    tx.commit().await.map_err(anyhow::Error::from)?;
    snapshot(api, &caller, &c, run).await?;
    let tx = db.transaction().await.map_err(anyhow::Error::from)?;
    campaigns::set_audience(&tx, &tenant, run).await?;
    campaigns::set_state(&tx, tenant.as_str(), id, "running", "", caller.now).await?;
    publish_change(&tx, tenant.as_str(), id).await?;
    loyalty_platform::outbox::commit(tx).await.map_err(anyhow::Error::from)?;
    reload(api, &tenant, id).await
}

/// The audience as the segment service answers it for the caller now, kept as the run's queued
/// deliveries. Taken again after an interrupted start, nobody is added twice.
async fn snapshot(api: &MessagingApi, caller: &Caller, c: &campaigns::Row, run: Uuid) -> ApiResult<()> {
    let mut segments = SegmentServiceClient::new(api.segments.clone());
    let request = caller.token.request(spb::StreamClientIdsRequest { audience: c.definition.audience.clone() });
    let mut stream = segments.stream_client_ids(request).await.map_err(ApiError::Status)?.into_inner();
    let db = api.pool.get().await.map_err(anyhow::Error::from)?;
    while let Some(batch) = stream.message().await.map_err(ApiError::Status)? {
        let ids: Vec<Uuid> = batch.client_ids.iter().filter_map(|id| Uuid::parse_str(id).ok()).collect();
        deliveries::add_recipients(&db, &caller.tenant, (run, c.id, &c.channel), &ids, caller.now).await?;
    }
    Ok(())
}

async fn reload(api: &MessagingApi, tenant: &TenantId, id: Uuid) -> ApiResult<pb::Campaign> {
    let db = api.pool.get().await.map_err(anyhow::Error::from)?;
    let c = campaigns::load(&db, tenant.as_str(), id, false).await?.ok_or(ApiError::NotFound("campaign"))?;
    Ok(shown(&c))
}

pub async fn pause(api: &MessagingApi, r: Request<pb::PauseCampaignRequest>) -> ApiResult<pb::Campaign> {
    halt(api, &r, &r.get_ref().campaign_id, "paused").await
}

pub async fn cancel(api: &MessagingApi, r: Request<pb::CancelCampaignRequest>) -> ApiResult<pb::Campaign> {
    halt(api, &r, &r.get_ref().campaign_id, "cancelled").await
}

/// Pauses or cancels: the sender takes no more of the run's recipients (a batch already handed to
/// the provider finishes). Cancelling leaves the rest excluded as "cancelled".
async fn halt<T>(api: &MessagingApi, r: &Request<T>, campaign: &str, to: &str) -> ApiResult<pb::Campaign> {
    let caller = api.caller(r)?;
    let id = super::uuid_of("campaign_id", campaign)?;
    let tenant = caller.tenant.as_str();
    let mut db = api.pool.get().await.map_err(anyhow::Error::from)?;
    let tx = db.transaction().await.map_err(anyhow::Error::from)?;
    let c = campaigns::load(&tx, tenant, id, true).await?.ok_or(ApiError::NotFound("campaign"))?;
    let allowed = match to {
        "paused" => c.state == "running" || c.state == "paused",
        _ => !matches!(c.state.as_str(), "completed" | "cancelled"),
    };
    if !allowed {
        return Err(ApiError::precondition(format!("the campaign is {}: it cannot be {to}", c.state)));
    }
    if c.state == to {
        return Ok(shown(&c));
    }
    if let Some(run) = c.last_run_id {
        campaigns::set_run_state(&tx, tenant, run, to, caller.now).await?;
        if to == "cancelled" {
            deliveries::cancel_queued(&tx, tenant, run, caller.now).await?;
        }
    }
    campaigns::set_state(&tx, tenant, id, to, "", caller.now).await?;
    if to == "cancelled" {
        campaigns::set_next_run(&tx, tenant, id, None).await?;
    }
    publish_change(&tx, tenant, id).await?;
    loyalty_platform::outbox::commit(tx).await.map_err(anyhow::Error::from)?;
    reload(api, &caller.tenant, id).await
}

/// Publishes the campaign as it now is: its state and the segments its audience names.
pub async fn publish_change(tx: &impl crate::store::GenericClient, tenant: &str, id: Uuid) -> anyhow::Result<()> {
    let c = campaigns::load(tx, tenant, id, false).await?.ok_or_else(|| anyhow::anyhow!("campaign {id} vanished"))?;
    let segment_ids = match c.definition.audience.as_ref().and_then(|a| a.source.as_ref()) {
        Some(AudienceSource::SegmentId(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    let payload = CampaignChanged {
        campaign_id: id.to_string(),
        name: c.definition.name.clone(),
        state: c.state.clone(),
        segment_ids,
    };
    let actor = Actor { kind: actor::Kind::System as i32, ..Default::default() };
    let event = loyalty_platform::outbox::event(tenant, actor, &id.to_string(), Payload::CampaignChanged(payload));
    loyalty_platform::outbox::publish(tx, &event).await
}
