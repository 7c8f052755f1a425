//! The reports of SE-9 over gRPC. Right `analytics.read`; figures within the caller's stores,
//! except the points months, which are the whole chain's and refused to a store-scoped token.
use super::SegmentApi;
use super::automatic::visible;
use super::filters::{asked, on_model};
use crate::domain::bits::Bits;
use crate::domain::reports::{self, Table};
use crate::domain::{automatic, segments};
use crate::model::Tenant;
use loyalty_api::segment::v1::{self as pb, ReportKind};
use loyalty_platform::convert::to_timestamp;
use loyalty_platform::error::{ApiError, ApiResult};

/// The default period of a report: the last 365 days, today included.
const DEFAULT_DAYS: i64 = 365;

/// All clients, the tenant's saved segments by name, then the built-in ones.
fn groups(t: &Tenant, today: i64) -> Vec<(String, Bits)> {
    let p = &t.population;
    let mut all = p.live.clone();
    all.grow(p.len());
    let mut out = vec![("all clients".to_string(), all)];
    let mut saved: Vec<_> = t.segments.values().filter(|s| !s.kind.built_in()).collect();
    saved.sort_by_key(|s| loyalty_platform::text::fold(&s.name));
    let built_in = automatic::ALL.iter().filter_map(|d| t.segments.get(&d.uuid()));
    for s in saved.into_iter().chain(built_in) {
        if let Some(members) = segments::members(p, &t.segments, &s.id.to_string(), today, &t.phone_region) {
            let name = match automatic::id_of(s.id) {
                Some(id) => id.to_string(),
                None => s.name.clone(),
            };
            out.push((name, members));
        }
    }
    out
}

fn message(kind: ReportKind, table: Table, now: time::OffsetDateTime) -> pb::Report {
    pb::Report {
        report: kind as i32,
        columns: table
            .columns
            .into_iter()
            .map(|(name, description)| pb::ReportColumn { name: name.into(), description: description.into() })
            .collect(),
        rows: table.rows.into_iter().map(|cells| pb::ReportRow { cells }).collect(),
        computed_at: Some(to_timestamp(now)),
    }
}

pub async fn get(api: &SegmentApi, r: tonic::Request<pb::GetReportRequest>) -> ApiResult<pb::Report> {
    let a = asked(api, &r)?;
    let body = r.into_inner();
    let kind = match ReportKind::try_from(body.report) {
        Ok(ReportKind::Unspecified) | Err(_) => {
            return Err(ApiError::field("report", "choose a report (REPORT_KIND_RETENTION, ...)"));
        }
        Ok(k) => k,
    };
    let stores = a.caller.principal.store_scope().map(<[String]>::to_vec);
    if kind == ReportKind::PointsBehaviour && stores.is_some() {
        return Err(ApiError::PermissionDenied(
            "the points months are the whole chain's: a token limited to stores may not read them".into(),
        ));
    }
    let range = body
        .period
        .or_else(|| Some(pb::DateRange { from: Some(super::automatic::date(a.today - DEFAULT_DAYS + 1)), to: None }));
    let p = super::dashboard::period(&range, pb::Granularity::Month as i32, a.today)?;
    let (today, now) = (a.today, a.caller.now);
    on_model(a.tenant, move |t| {
        let seen = visible(t, stores.as_deref(), today);
        let pop = &t.population;
        let table = match kind {
            ReportKind::CustomerLifetimeValue => reports::lifetime_value(pop, &seen, &groups(t, today)),
            ReportKind::Retention => reports::retention(pop, &seen, p.from, p.to),
            ReportKind::Churn => reports::churn(pop, &seen, t.automatic.settings.sleeping_days, p.from, p.to),
            ReportKind::SegmentPerformance => reports::segment_performance(pop, &seen, &groups(t, today), p.from, p.to),
            ReportKind::PointsBehaviour | ReportKind::Unspecified => reports::points(pop, &seen, p.from, p.to),
        };
        Ok(message(kind, table, now))
    })
    .await
}
