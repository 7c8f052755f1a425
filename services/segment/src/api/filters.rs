//! The filter language over the read model: the catalogue, the text form, counts, pages of
//! matching clients, every matching id, one client's facts. Every answer is within the caller's
//! tenant and, for a store-scoped token, its stores.
use super::{IdStream, SegmentApi, audience};
use crate::domain::{describe, facts, text};
use crate::model::{Readiness, Tenant};
use loyalty_api::filter::v1 as fpb;
use loyalty_api::segment::v1 as pb;
use loyalty_platform::error::{ApiError, ApiResult, Violations};
use loyalty_platform::request::Caller;
use std::sync::{Arc, RwLock};
use tonic::Request;

/// The facts a page shows when the caller names none.
const DEFAULT_FACTS: [&str; 5] =
    ["client.full_name", "client.city", "purchases.count", "purchases.sum", "ledger.available"];
/// The most clients on one page.
const MAX_PAGE: usize = 1_000;
/// Clients per page at most when they come as rows of values (an export pages through millions).
const MAX_ROWS_PAGE: usize = 10_000;

pub fn list_facts(r: Request<pb::ListFactsRequest>) -> ApiResult<pb::ListFactsResponse> {
    let language = r.get_ref().language.clone();
    let facts = facts::catalogue()
        .iter()
        .map(|f| fpb::Fact {
            name: f.name.to_string(),
            entity: f.entity as i32,
            r#type: f.kind as i32,
            unit: f.unit.to_string(),
            operators: f.operators().into_iter().map(|o| o as i32).collect(),
            takes_window: f.window,
            takes_dependent: f.takes_dependent(),
            label: f.label(&language).to_string(),
            values: f.values.iter().map(|v| v.to_string()).collect(),
            identifier: f.identifier,
            personal: f.personal,
        })
        .collect();
    Ok(pb::ListFactsResponse { facts })
}

pub fn parse(r: Request<pb::ParseFilterRequest>) -> ApiResult<pb::ParseFilterResponse> {
    let filter = text::parse(&r.get_ref().filter_text).map_err(|e| ApiError::field("filter_text", &e.to_string()))?;
    Ok(pb::ParseFilterResponse { filter: Some(filter) })
}

pub fn format(r: Request<pb::FormatFilterRequest>) -> ApiResult<pb::FormatFilterResponse> {
    let Some(filter) = &r.get_ref().filter else { return Err(ApiError::field("filter", "give the filter to write")) };
    let written = text::format(filter).map_err(|e| ApiError::field(&format!("filter.{}", e.path), &e.message))?;
    Ok(pb::FormatFilterResponse { filter_text: written })
}

/// The caller, the tenant's model (empty when nothing of the tenant arrived yet) and today there.
pub(super) struct Asked {
    pub caller: Caller,
    pub tenant: Arc<RwLock<Tenant>>,
    pub today: i64,
}

pub(super) fn asked<T>(api: &SegmentApi, r: &Request<T>) -> ApiResult<Asked> {
    let caller = Caller::new(r, None, api.clock.as_ref())?;
    if let Readiness::Loading(applied) = api.model.readiness() {
        return Err(ApiError::Status(tonic::Status::unavailable(format!(
            "the read model is loading ({applied} facts applied so far); try again in a moment"
        ))));
    }
    let tenant = api.model.tenant(caller.tenant.as_str()).unwrap_or_default();
    let today = tenant.read().unwrap_or_else(|p| p.into_inner()).today(caller.now);
    Ok(Asked { caller, tenant, today })
}

/// Runs `work` on the tenant's model off the async threads: an answer reads a million rows.
pub(super) async fn on_model<T: Send + 'static>(
    tenant: Arc<RwLock<Tenant>>,
    work: impl FnOnce(&Tenant) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(move || work(&tenant.read().unwrap_or_else(|p| p.into_inner())))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("answering a filter: {e}")))?
}

fn stores(caller: &Caller) -> Option<Vec<String>> {
    caller.principal.store_scope().map(<[String]>::to_vec)
}

/// The caller's stores narrowed to `within` when a request names some (a job run for a scoped
/// person): never wider than the caller's own scope.
fn narrowed(caller: &Caller, within: &[String]) -> Option<Vec<String>> {
    match (stores(caller), within.is_empty()) {
        (scope, true) => scope,
        (None, false) => Some(within.to_vec()),
        (Some(scope), false) => Some(scope.into_iter().filter(|s| within.contains(s)).collect()),
    }
}

pub async fn count(api: &SegmentApi, r: Request<pb::CountClientsRequest>) -> ApiResult<pb::CountClientsResponse> {
    let a = asked(api, &r)?;
    let body = r.into_inner();
    audience::check(&body.audience, "audience")?;
    let (stores, today) = (stores(&a.caller), a.today);
    let audience = body.audience.unwrap_or_default();
    let count =
        on_model(a.tenant, move |t| Ok(audience::select(t, &audience, stores.as_deref(), today)?.count())).await?;
    let facts_as_of = api.model.as_of().map(loyalty_platform::convert::to_timestamp);
    Ok(pb::CountClientsResponse { count: count as i64, facts_as_of })
}

/// The facts a page shows, each a fact of the client (not of rows); personal ones need `clients.read`.
fn page_facts(names: &[String], caller: &Caller) -> ApiResult<Vec<&'static facts::FactInfo>> {
    let mut v = Violations::new();
    let wanted: Vec<String> =
        if names.is_empty() { DEFAULT_FACTS.iter().map(|f| f.to_string()).collect() } else { names.to_vec() };
    let personal_allowed = caller.principal.has_right("clients.read");
    let mut found = Vec::new();
    for (i, name) in wanted.iter().enumerate() {
        match facts::find(name) {
            Some(f) if f.entity != fpb::Entity::Client || f.name == "segments" => {
                v.add(format!("facts[{i}]"), "is a fact of rows, not of the client; filter on it instead");
            }
            Some(f) if f.personal && !personal_allowed => {
                // Left out rather than refused when the caller named no facts.
                if !names.is_empty() {
                    return Err(ApiError::denied(format!(
                        "facts[{i}]: {name} is personal data; it needs the right clients.read"
                    )));
                }
            }
            Some(f) => found.push(f),
            None => v.add(format!("facts[{i}]"), format!("{name:?} is not a fact; ListFacts names them")),
        }
    }
    if v.is_empty() { Ok(found) } else { Err(ApiError::InvalidArgument(v)) }
}

pub async fn list_matching(
    api: &SegmentApi,
    r: Request<pb::ListMatchingClientsRequest>,
) -> ApiResult<pb::ListMatchingClientsResponse> {
    let a = asked(api, &r)?;
    let body = r.into_inner();
    audience::check(&body.audience, "audience")?;
    if body.as_rows && body.facts.is_empty() {
        return Err(ApiError::field("facts", "name the facts whose values as_rows answers, in their order"));
    }
    let shown = page_facts(&body.facts, &a.caller)?;
    let page = body.page.unwrap_or_default();
    let size = match page.page_size {
        0 => 50,
        n if n < 0 => return Err(ApiError::field("page.page_size", "must not be negative")),
        n => (n as usize).min(if body.as_rows { MAX_ROWS_PAGE } else { MAX_PAGE }),
    };
    let after: Option<usize> = match page.page_token.as_str() {
        "" => None,
        token => Some(token.strip_prefix("r").and_then(|n| n.parse().ok()).ok_or_else(|| {
            ApiError::field("page.page_token", "is not a token this service gave; start again without one")
        })?),
    };
    let order = body.order_by.trim().to_string();
    let order_fact = match order.split_whitespace().next() {
        None => None,
        Some(name) => Some(
            page_facts(&[name.to_string()], &a.caller).map_err(|_| {
                ApiError::field(
                    "order_by",
                    "must be a fact of the client shown on the page, optionally followed by desc",
                )
            })?[0],
        ),
    };
    let descending = order.ends_with(" desc");
    let period = read_period(body.period.as_ref())?;
    let (stores, today) = (narrowed(&a.caller, &body.within_stores), a.today);
    let (audience, as_rows) = (body.audience.unwrap_or_default(), body.as_rows);
    on_model(a.tenant, move |t| {
        let selected = audience::select(t, &audience, stores.as_deref(), today)?;
        let p = &t.population;
        // [start, end): the day of the last instant before the end is the last day.
        let last = |e: time::OffsetDateTime| t.today(e - time::Duration::nanoseconds(1));
        let days = period.map(|(start, end)| (start.map_or(i64::MIN, |s| t.today(s)), end.map_or(today, last)));
        let (chosen, more, total) = match order_fact {
            // In row order a page starts after its token's row: no list of the whole audience.
            None => {
                let mut from = selected.rows_from(after.map_or(0, |t| t.saturating_add(1)));
                let chosen: Vec<usize> = from.by_ref().take(size).collect();
                (chosen, from.next().is_some(), selected.count() as usize)
            }
            Some(fact) => {
                let key = |r: usize| describe::raw(p, fact, r, today);
                let mut keyed: Vec<(Option<describe::Raw>, usize)> = selected.rows().map(|r| (key(r), r)).collect();
                keyed.sort_by(|a, b| if descending { b.0.cmp(&a.0).then(a.1.cmp(&b.1)) } else { a.cmp(b) });
                let rows: Vec<usize> = keyed.into_iter().map(|(_, r)| r).collect();
                let start = match after {
                    Some(token) => rows.iter().position(|r| *r == token).map(|i| i + 1).unwrap_or(rows.len()),
                    None => 0,
                };
                let chosen = rows[start.min(rows.len())..(start + size).min(rows.len())].to_vec();
                (chosen, start + size < rows.len(), rows.len())
            }
        };
        let value = |f: &facts::FactInfo, row: usize| match days {
            Some(days) => describe::in_period(p, f, row, days, today),
            None => describe::value(p, f, row, today),
        };
        let clients = chosen
            .iter()
            .map(|&row| {
                let client_id = p.id(row as u32).to_string();
                if as_rows {
                    let values = shown.iter().map(|f| value(f, row).unwrap_or_default()).collect();
                    return pb::ClientFacts { client_id, values, ..Default::default() };
                }
                let facts = shown.iter().filter_map(|f| value(f, row).map(|v| (f.name.to_string(), v))).collect();
                pb::ClientFacts { client_id, facts, ..Default::default() }
            })
            .collect();
        let next_page_token = match chosen.last() {
            Some(last) if more => format!("r{last}"),
            _ => String::new(),
        };
        let page = loyalty_api::common::v1::PageInfo { next_page_token, total_size: total as i64 };
        Ok(pb::ListMatchingClientsResponse { clients, page: Some(page) })
    })
    .await
}

/// A period's ends, each optional; `None` for no period. An end that is not a time, or a start
/// after the end, is the caller's mistake.
type Ends = (Option<time::OffsetDateTime>, Option<time::OffsetDateTime>);
fn read_period(period: Option<&loyalty_api::common::v1::TimeRange>) -> ApiResult<Option<Ends>> {
    let Some(range) = period else { return Ok(None) };
    let read = |t: Option<&prost_types::Timestamp>, field: &str| match t {
        None => Ok(None),
        Some(t) => loyalty_platform::convert::from_timestamp(t)
            .map(Some)
            .ok_or_else(|| ApiError::field(field, "is not a time (seconds out of range)")),
    };
    let (start, end) = (read(range.start.as_ref(), "period.start")?, read(range.end.as_ref(), "period.end")?);
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        return Err(ApiError::field("period.end", "must not be before period.start"));
    }
    Ok(Some((start, end)))
}

pub async fn stream_ids(api: &SegmentApi, r: Request<pb::StreamClientIdsRequest>) -> ApiResult<IdStream> {
    let a = asked(api, &r)?;
    let body = r.into_inner();
    audience::check(&body.audience, "audience")?;
    let (stores, today, per_batch) = (stores(&a.caller), a.today, api.settings.ids_per_batch.max(1));
    let audience = body.audience.unwrap_or_default();
    // The ids of the moment the call was made, streamed in batches.
    let ids: Vec<String> = on_model(a.tenant, move |t| {
        let selected = audience::select(t, &audience, stores.as_deref(), today)?;
        Ok(selected.rows().map(|r| t.population.id(r as u32).to_string()).collect())
    })
    .await?;
    let batches: Vec<Result<pb::ClientIdBatch, tonic::Status>> =
        ids.chunks(per_batch).map(|c| Ok(pb::ClientIdBatch { client_ids: c.to_vec() })).collect();
    Ok(Box::pin(futures::stream::iter(batches)))
}

pub async fn client_facts(api: &SegmentApi, r: Request<pb::GetClientFactsRequest>) -> ApiResult<pb::ClientFacts> {
    let a = asked(api, &r)?;
    let id = uuid::Uuid::parse_str(r.get_ref().client_id.trim())
        .map_err(|_| ApiError::field("client_id", "is not a client id"))?;
    let personal_allowed = a.caller.principal.has_right("clients.read");
    let (stores, today) = (stores(&a.caller), a.today);
    on_model(a.tenant, move |t| {
        let p = &t.population;
        let row = p.find(id).filter(|r| p.live.get(*r as usize)).ok_or(ApiError::NotFound("client"))? as usize;
        if let Some(stores) = &stores
            && !audience::visible(t, stores, today).get(row)
        {
            return Err(ApiError::NotFound("client"));
        }
        let facts = facts::catalogue()
            .iter()
            .filter(|f| personal_allowed || !f.personal)
            .filter_map(|f| describe::value(p, f, row, today).map(|v| (f.name.to_string(), v)))
            .collect();
        Ok(pb::ClientFacts { client_id: p.id(row as u32).to_string(), facts, ..Default::default() })
    })
    .await
}
