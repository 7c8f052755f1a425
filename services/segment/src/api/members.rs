//! A static segment's members: a snapshot taken from its filter, a manual list edited by ids, card
//! numbers or phones; and a segment's figures over a period (size per day, revenue, average check).
use super::segments::{Asked, answer, asked, find, read, segment_id, write};
use super::{SegmentApi, audience};
use crate::domain::bits::Bits;
use crate::domain::segments::{self, Kind, Saved};
use crate::model::Tenant;
use crate::store;
use loyalty_api::common::v1::{Date, Money};
use loyalty_api::filter::v1::{Audience, audience::Source};
use loyalty_api::segment::v1 as pb;
use loyalty_platform::error::{ApiError, ApiResult, Violations};
use std::collections::BTreeSet;
use tonic::Request;
use uuid::Uuid;

fn stores(a: &Asked) -> Option<Vec<String>> {
    a.caller.principal.store_scope().map(<[String]>::to_vec)
}

/// The clients `saved`'s filter selects now, within the caller's stores.
pub(super) async fn snapshot(a: &Asked, saved: &Saved) -> ApiResult<Vec<Uuid>> {
    let filter = saved.filter.clone().unwrap_or_default();
    let (stores, today) = (stores(a), a.today);
    super::filters::on_model(a.tenant.clone(), move |t| {
        let audience = Audience { source: Some(Source::Filter(filter)) };
        let bits = audience::select(t, &audience, stores.as_deref(), today)?;
        Ok(bits.rows().map(|r| t.population.id(r as u32)).collect())
    })
    .await
}

pub async fn refresh(api: &SegmentApi, r: Request<pb::RefreshSegmentRequest>) -> ApiResult<pb::Segment> {
    let a = asked(api, &r)?;
    let id = segment_id(&r.get_ref().segment_id, "segment_id")?;
    let mut saved = find(&read(&a.tenant), id)?;
    if saved.kind != Kind::Static || saved.filter.is_none() {
        return Err(ApiError::precondition(
            "only a snapshot is refreshed: a dynamic segment follows the data, a manual list is edited",
        ));
    }
    saved.version += 1;
    saved.updated_at = a.caller.now;
    saved.snapshot_at = Some(a.caller.now);
    let members = snapshot(&a, &saved).await?;
    write(api, &a, &saved, Some(&members)).await?;
    let saved = find(&read(&a.tenant), id)?;
    answer(api, &a, saved).await
}

/// The clients named by one list of identifiers, every unknown one (or one outside `visible`, the
/// caller's stores) a violation at its index.
fn resolve(
    t: &Tenant,
    visible: Option<&Bits>,
    field: &str,
    fact: &str,
    given: &[String],
    v: &mut Violations,
) -> Vec<Uuid> {
    if given.is_empty() {
        return Vec::new();
    }
    let p = &t.population;
    let rows: Vec<Option<u32>> = if fact == "client.id" {
        given
            .iter()
            .map(|g| Uuid::parse_str(g.trim()).ok().and_then(|c| p.find(c)).filter(|r| p.live.get(*r as usize)))
            .collect()
    } else {
        segments::lookup(p, fact, given, &t.phone_region)
    };
    let mut found = Vec::new();
    for (i, row) in rows.into_iter().enumerate() {
        match row.filter(|r| visible.is_none_or(|b| b.get(*r as usize))) {
            Some(row) => found.push(p.id(row)),
            None => v.add(format!("{field}[{i}]"), "names no client you may see"),
        }
    }
    found
}

pub async fn modify(api: &SegmentApi, r: Request<pb::ModifySegmentMembersRequest>) -> ApiResult<pb::Segment> {
    let a = asked(api, &r)?;
    let body = r.into_inner();
    let id = segment_id(&body.segment_id, "segment_id")?;
    let mut saved = find(&read(&a.tenant), id)?;
    if saved.kind != Kind::Static || saved.filter.is_some() {
        return Err(ApiError::precondition(
            "only a manual list is edited by hand; change a dynamic segment's conditions, refresh a snapshot",
        ));
    }
    if !body.etag.is_empty() && body.etag != saved.etag() {
        return Err(ApiError::Aborted("the segment changed since this etag was read; read it again and retry".into()));
    }
    let mut v = Violations::new();
    let (add, remove) = {
        let t = read(&a.tenant);
        let visible = stores(&a).map(|s| audience::visible(&t, &s, a.today));
        let mut lists = |pairs: [(&str, &str, &[String]); 3]| {
            let mut found = Vec::new();
            for (field, fact, given) in pairs {
                found.extend(resolve(&t, visible.as_ref(), field, fact, given, &mut v));
            }
            found
        };
        let add = lists([
            ("add_client_ids", "client.id", &body.add_client_ids),
            ("add_card_numbers", "cards.number", &body.add_card_numbers),
            ("add_phones", "client.phone", &body.add_phones),
        ]);
        let remove = lists([
            ("remove_client_ids", "client.id", &body.remove_client_ids),
            ("remove_card_numbers", "cards.number", &body.remove_card_numbers),
            ("remove_phones", "client.phone", &body.remove_phones),
        ]);
        (add, remove)
    };
    if !v.is_empty() {
        return Err(ApiError::InvalidArgument(v));
    }
    let mut members: BTreeSet<Uuid> = saved.members.iter().copied().collect();
    members.extend(add);
    for gone in &remove {
        members.remove(gone);
    }
    saved.version += 1;
    saved.updated_at = a.caller.now;
    let members: Vec<Uuid> = members.into_iter().collect();
    write(api, &a, &saved, Some(&members)).await?;
    let saved = find(&read(&a.tenant), id)?;
    answer(api, &a, saved).await
}

/// The default period of the figures: the last 30 days, today included.
const DEFAULT_DAYS: i64 = 30;

pub async fn metrics(api: &SegmentApi, r: Request<pb::GetSegmentMetricsRequest>) -> ApiResult<pb::SegmentMetrics> {
    let a = asked(api, &r)?;
    let body = r.into_inner();
    let id = segment_id(&body.segment_id, "segment_id")?;
    find(&read(&a.tenant), id)?;
    let zone = read(&a.tenant).zone.clone();
    let day = |at: &Option<prost_types::Timestamp>| {
        at.as_ref()
            .and_then(loyalty_platform::convert::from_timestamp)
            .map(|t| crate::domain::evaluate::day_number(loyalty_platform::tz::local_date(t, &zone)))
    };
    let period = body.period.unwrap_or_default();
    let to = day(&period.end).unwrap_or(a.today);
    let from = day(&period.start).unwrap_or(to - (DEFAULT_DAYS - 1));
    if from > to {
        return Err(ApiError::field("period", "starts after it ends"));
    }
    let (stores, today) = (stores(&a), a.today);
    let figures = super::filters::on_model(a.tenant.clone(), move |t| {
        let mut members =
            segments::members(&t.population, &t.segments, &id.to_string(), today, &t.phone_region).unwrap_or_default();
        if let Some(stores) = &stores {
            members.and(&audience::visible(t, stores, today));
        }
        Ok((
            members.count() as i64,
            crate::domain::segments::spend(&t.population, &members, from, to),
            t.currency.clone(),
        ))
    })
    .await?;
    let (size, spend, currency) = figures;
    let conn = api.pool.get().await?;
    let (start, end) = (crate::domain::evaluate::date_of(from), crate::domain::evaluate::date_of(to));
    let history = store::segments::sizes(&conn, &a.caller.tenant, id, start, end).await?;
    let size_at_start = history.first().map_or(0, |(_, s)| *s);
    let money = |minor: i64| Some(Money { minor_units: minor, currency: currency.clone() });
    let average = |sum: i64, n: i64| if n == 0 { 0 } else { sum / n };
    let (segment_avg, overall_avg) =
        (average(spend.revenue, spend.purchases), average(spend.all_revenue, spend.all_purchases));
    Ok(pb::SegmentMetrics {
        size,
        revenue: money(spend.revenue),
        average_check: money(segment_avg),
        purchases: spend.purchases,
        size_at_start,
        value_index_bp: if overall_avg == 0 {
            0
        } else {
            i32::try_from(segment_avg * 10_000 / overall_avg).unwrap_or(i32::MAX)
        },
        sizes: history
            .into_iter()
            .map(|(d, size)| pb::DailySize {
                day: Some(Date { year: d.year(), month: u8::from(d.month()).into(), day: d.day().into() }),
                size,
            })
            .collect(),
    })
}
