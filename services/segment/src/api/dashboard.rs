//! The CRM dashboard over gRPC (SE-6, SE-7): KPIs with their values 30 days earlier, every chart,
//! the RFM grid and the spender thresholds, for a date range in the tenant's zone, within the
//! caller's stores. Right `analytics.read`.
use super::SegmentApi;
use super::automatic::{date, day_of, grid, thresholds_message, visible};
use super::filters::{asked, on_model};
use crate::domain::automatic::{self, Thresholds};
use crate::domain::bits::Bits;
use crate::domain::dashboard::{Board, Granularity, Kpis, Series, buckets};
use crate::domain::evaluate::{Context, evaluate};
use crate::domain::segments;
use crate::model::Tenant;
use loyalty_api::segment::v1::{self as pb, ChartKind, KpiKind};
use loyalty_platform::convert::to_timestamp;
use loyalty_platform::error::{ApiError, ApiResult};

/// The default period: the last 30 days, today included.
const DEFAULT_DAYS: i64 = 30;
/// The most buckets a time series has.
const MAX_BUCKETS: usize = 1_000;

/// A checked period and granularity.
#[derive(Clone, Copy)]
pub(super) struct Period {
    pub from: i64,
    pub to: i64,
    pub granularity: Granularity,
}

pub(super) fn period(range: &Option<pb::DateRange>, granularity: i32, today: i64) -> ApiResult<Period> {
    let (mut from, mut to) = (today - DEFAULT_DAYS + 1, today);
    if let Some(r) = range {
        if let Some(d) = &r.from {
            from = day_of(d, "period.from")?;
        }
        if let Some(d) = &r.to {
            to = day_of(d, "period.to")?;
        }
        if r.from.is_some() && r.to.is_none() {
            to = today.max(from);
        }
    }
    if from > to {
        return Err(ApiError::field("period", "ends before it starts"));
    }
    let granularity = match pb::Granularity::try_from(granularity) {
        Ok(pb::Granularity::Unspecified | pb::Granularity::Day) => Granularity::Day,
        Ok(pb::Granularity::Week) => Granularity::Week,
        Ok(pb::Granularity::Month) => Granularity::Month,
        Ok(pb::Granularity::Year) => Granularity::Year,
        Err(_) => return Err(ApiError::field("granularity", "is not a granularity: day, week, month or year")),
    };
    let per_bucket = match granularity {
        Granularity::Day => 1,
        Granularity::Week => 7,
        Granularity::Month => 28,
        Granularity::Year => 365,
    };
    if (to - from) / per_bucket + 1 > MAX_BUCKETS as i64 {
        return Err(ApiError::field(
            "period",
            &format!(
                "holds more than {MAX_BUCKETS} buckets of that granularity; choose a longer one (week, month, year)"
            ),
        ));
    }
    Ok(Period { from, to, granularity })
}

pub(super) fn granularity_message(g: Granularity) -> pb::Granularity {
    match g {
        Granularity::Day => pb::Granularity::Day,
        Granularity::Week => pb::Granularity::Week,
        Granularity::Month => pb::Granularity::Month,
        Granularity::Year => pb::Granularity::Year,
    }
}

/// The thresholds of `t`, or ones computed now when the day's are not there yet.
fn thresholds(t: &Tenant, today: i64) -> Thresholds {
    t.automatic.thresholds.unwrap_or_else(|| automatic::thresholds(&t.population, &t.automatic.settings, today))
}

/// The seen VIPs with `day` as today.
fn vips(t: &Tenant, seen: &Bits, th: &Thresholds, day: i64) -> i64 {
    let Some(d) = automatic::find("auto:vip") else { return 0 };
    let p = &t.population;
    let nested = |id: &str| segments::members(p, &t.segments, id, day, &t.phone_region);
    let cx = Context { today: day, phone_region: &t.phone_region, segment: &nested };
    let mut members = evaluate(p, &d.filter(&t.automatic.settings, th), &cx);
    members.and(seen);
    members.count() as i64
}

fn kpis(now: &Kpis, before: &Kpis) -> Vec<pb::Kpi> {
    type Figure = fn(&Kpis) -> i64;
    let pick: [(KpiKind, Figure); 11] = [
        (KpiKind::TotalClients, |k| k.total),
        (KpiKind::Active, |k| k.active),
        (KpiKind::Vip, |k| k.vip),
        (KpiKind::Sleeping, |k| k.sleeping),
        (KpiKind::New, |k| k.new),
        (KpiKind::EmailSubscribed, |k| k.email[0]),
        (KpiKind::EmailUnsubscribed, |k| k.email[1]),
        (KpiKind::EmailUnknown, |k| k.email[2]),
        (KpiKind::SmsSubscribed, |k| k.sms[0]),
        (KpiKind::SmsUnsubscribed, |k| k.sms[1]),
        (KpiKind::SmsUnknown, |k| k.sms[2]),
    ];
    pick.iter()
        .map(|(kind, value)| pb::Kpi { kind: *kind as i32, value: value(now), value_30_days_earlier: value(before) })
        .collect()
}

fn series(all: Vec<Series>) -> Vec<pb::Series> {
    all.into_iter()
        .map(|s| pb::Series {
            name: s.name,
            points: s
                .points
                .into_iter()
                .map(|p| pb::SeriesPoint { day: p.day.map(date), label: p.label, value: p.value })
                .collect(),
        })
        .collect()
}

/// Every chart kind, in the order of the enum.
pub(super) const CHARTS: [ChartKind; 10] = [
    ChartKind::EmailSubscriptionsOverTime,
    ChartKind::SmsSubscriptionsOverTime,
    ChartKind::EmailSubscriptionsByGender,
    ChartKind::SmsSubscriptionsByGender,
    ChartKind::IdentifiedOverTime,
    ChartKind::ProspectsVsSpenders,
    ChartKind::Activity,
    ChartKind::SpendersByValue,
    ChartKind::SpendersByFrequency,
    ChartKind::TopTags,
];

fn chart(board: &Board<'_>, kind: ChartKind, p: Period, now: time::OffsetDateTime) -> pb::Chart {
    let over = || buckets(p.from, p.to, p.granularity);
    let drawn = match kind {
        ChartKind::EmailSubscriptionsOverTime => board.subscriptions_over_time("email", &over()),
        ChartKind::SmsSubscriptionsOverTime => board.subscriptions_over_time("sms", &over()),
        ChartKind::EmailSubscriptionsByGender => board.subscriptions_by_gender("email", p.to),
        ChartKind::SmsSubscriptionsByGender => board.subscriptions_by_gender("sms", p.to),
        ChartKind::IdentifiedOverTime => board.identified_over_time(&over()),
        ChartKind::ProspectsVsSpenders => board.prospects_vs_spenders(p.to),
        ChartKind::Activity => board.activity(p.to),
        ChartKind::SpendersByValue => board.spenders(p.to).0,
        ChartKind::SpendersByFrequency => board.spenders(p.to).1,
        ChartKind::TopTags | ChartKind::Unspecified => board.top_tags(),
    };
    pb::Chart {
        chart: kind as i32,
        granularity: granularity_message(p.granularity) as i32,
        series: series(drawn),
        computed_at: Some(to_timestamp(now)),
    }
}

/// The charts drawn beside the rest on a second thread: the SMS consents and the identified
/// clients, each a sweep over every client's history.
const BESIDE: [ChartKind; 3] =
    [ChartKind::SmsSubscriptionsOverTime, ChartKind::SmsSubscriptionsByGender, ChartKind::IdentifiedOverTime];

/// The whole dashboard of `t` for the clients of `seen`, its sweeps shared out over two threads
/// (the machine's cores): the e-mail consents, the purchases and the distributions on this one,
/// the SMS consents and the identified clients beside it.
pub(super) fn dashboard(t: &Tenant, seen: &Bits, p: Period, today: i64, now: time::OffsetDateTime) -> pb::Dashboard {
    let th = thresholds(t, today);
    let board = Board::new(&t.population, seen, &t.automatic.settings, th);
    let days = [p.to - 30, p.to];
    let mut ends: Vec<i64> = buckets(p.from, p.to, p.granularity).iter().map(|b| b.1).collect();
    ends.push(p.to - 30);
    let draw = |beside: bool| {
        CHARTS.iter().filter(|k| BESIDE.contains(k) == beside).map(|k| chart(&board, *k, p, now)).collect::<Vec<_>>()
    };
    let (mut charts, rfm) = std::thread::scope(|s| {
        let beside = s.spawn(|| {
            board.prepare("sms", &ends);
            draw(true)
        });
        board.prepare("email", &ends);
        board.prepare_purchases(&days);
        let mut charts = draw(false);
        let rfm = grid(t, p.to.min(today), seen, now);
        match beside.join() {
            Ok(drawn) => charts.extend(drawn),
            Err(panic) => std::panic::resume_unwind(panic),
        }
        (charts, rfm)
    });
    charts.sort_by_key(|c| CHARTS.iter().position(|k| *k as i32 == c.chart));
    let both = board.kpis_on(&days, &|day| vips(t, seen, &th, day));
    pb::Dashboard {
        kpis: kpis(&both[1], &both[0]),
        period: Some(pb::DateRange { from: Some(date(p.from)), to: Some(date(p.to)) }),
        charts,
        thresholds: thresholds_message(t),
        rfm: Some(rfm),
        currency: t.currency.clone(),
        computed_at: Some(to_timestamp(now)),
        facts_as_of: None,
    }
}

pub async fn get(api: &SegmentApi, r: tonic::Request<pb::GetDashboardRequest>) -> ApiResult<pb::Dashboard> {
    let a = asked(api, &r)?;
    let body = r.into_inner();
    let p = period(&body.period, body.granularity, a.today)?;
    let stores = a.caller.principal.store_scope().map(<[String]>::to_vec);
    let (today, now, facts_as_of) = (a.today, a.caller.now, api.model.as_of().map(to_timestamp));
    let mut answer = on_model(a.tenant, move |t| {
        let seen = visible(t, stores.as_deref(), today);
        Ok(dashboard(t, &seen, p, today, now))
    })
    .await?;
    answer.facts_as_of = facts_as_of;
    Ok(answer)
}

pub async fn get_chart(api: &SegmentApi, r: tonic::Request<pb::GetChartRequest>) -> ApiResult<pb::Chart> {
    let a = asked(api, &r)?;
    let body = r.into_inner();
    let kind = match ChartKind::try_from(body.chart) {
        Ok(ChartKind::Unspecified) | Err(_) => {
            return Err(ApiError::field("chart", "choose a chart kind (CHART_KIND_ACTIVITY, ...)"));
        }
        Ok(k) => k,
    };
    let p = period(&body.period, body.granularity, a.today)?;
    let stores = a.caller.principal.store_scope().map(<[String]>::to_vec);
    let (today, now) = (a.today, a.caller.now);
    on_model(a.tenant, move |t| {
        let seen = visible(t, stores.as_deref(), today);
        let board = Board::new(&t.population, &seen, &t.automatic.settings, thresholds(t, today));
        Ok(chart(&board, kind, p, now))
    })
    .await
}
