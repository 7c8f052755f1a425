//! Customer-type analytics (SE-8) and the dashboard page over gRPC. Right `analytics.read`; every
//! figure within the caller's stores.
use super::SegmentApi;
use super::automatic::{date, visible};
use super::dashboard::{Period, dashboard, period};
use super::filters::{asked, on_model};
use crate::domain::customers::{Analytics, Orders, TYPES, analyse};
use crate::domain::dashboard::Granularity;
use crate::model::Tenant;
use crate::render::{self, words::Language};
use loyalty_api::common::v1::Money;
use loyalty_api::segment::v1 as pb;
use loyalty_platform::convert::to_timestamp;
use loyalty_platform::error::{ApiError, ApiResult};

const DEFAULT_TOP: i32 = 10;
const MAX_TOP: i32 = 100;

fn money(minor: i64, currency: &str) -> Option<Money> {
    Some(Money { minor_units: minor, currency: currency.to_string() })
}

/// `part`'s average order ÷ `all`'s, basis points.
fn value_index(part: &Orders, all: &Orders) -> i32 {
    if part.orders == 0 || all.revenue == 0 {
        return 0;
    }
    let index = i128::from(part.revenue) * i128::from(all.orders) * 10_000
        / (i128::from(part.orders) * i128::from(all.revenue));
    i32::try_from(index).unwrap_or(i32::MAX)
}

fn row(kind: usize, o: &Orders, all: &Orders, currency: &str) -> pb::CustomerTypeRow {
    pb::CustomerTypeRow {
        customer_type: TYPES[kind].to_string(),
        orders: o.orders,
        revenue: money(o.revenue, currency),
        average_basket: money(o.average_basket(), currency),
        items_per_order_milli: o.items_per_order_milli(),
        value_index_bp: value_index(o, all),
        ..Default::default()
    }
}

fn message(a: &Analytics, currency: &str, g: Granularity, now: time::OffsetDateTime) -> pb::CustomerTypeAnalytics {
    let all = Orders {
        orders: a.totals[0].orders + a.totals[1].orders,
        revenue: a.totals[0].revenue.saturating_add(a.totals[1].revenue),
        items: a.totals[0].items + a.totals[1].items,
    };
    let mut over_time = Vec::new();
    for (start, both) in &a.over_time {
        for (kind, o) in both.iter().enumerate() {
            over_time.push(pb::CustomerTypeRow { day: Some(date(*start)), ..row(kind, o, &all, currency) });
        }
    }
    let mut by_day_of_week = Vec::new();
    for (weekday, both, days) in &a.by_weekday {
        for (kind, o) in both.iter().enumerate() {
            by_day_of_week.push(pb::CustomerTypeRow {
                day_of_week: i32::from(*weekday),
                average_revenue_per_day: money(if *days > 0 { o.revenue / days } else { 0 }, currency),
                ..row(kind, o, &all, currency)
            });
        }
    }
    pb::CustomerTypeAnalytics {
        over_time,
        by_day_of_week,
        top_products: a
            .top
            .iter()
            .map(|t| pb::TopProduct {
                customer_type: TYPES[t.kind].to_string(),
                sku: t.sku.clone(),
                name: t.name.clone(),
                quantity_milli: t.quantity_milli,
                orders: t.orders,
            })
            .collect(),
        second_purchase_rate_bp: a.second_purchase_rate_bp as i32,
        median_days_to_second_purchase: a.median_days_to_second as i32,
        totals: a.totals.iter().enumerate().map(|(kind, o)| row(kind, o, &all, currency)).collect(),
        computed_at: Some(to_timestamp(now)),
        granularity: super::dashboard::granularity_message(g) as i32,
    }
}

fn analytics(
    t: &Tenant,
    seen: &crate::domain::bits::Bits,
    p: Period,
    top: i32,
    now: time::OffsetDateTime,
) -> pb::CustomerTypeAnalytics {
    let a = analyse(&t.population, seen, p.from, p.to, p.granularity, top as usize);
    message(&a, &t.currency, p.granularity, now)
}

pub async fn get(
    api: &SegmentApi,
    r: tonic::Request<pb::GetCustomerTypeAnalyticsRequest>,
) -> ApiResult<pb::CustomerTypeAnalytics> {
    let a = asked(api, &r)?;
    let body = r.into_inner();
    let p = period(&body.period, body.granularity, a.today)?;
    let top = match body.top {
        0 => DEFAULT_TOP,
        n if (1..=MAX_TOP).contains(&n) => n,
        _ => {
            return Err(ApiError::field("top", &format!("must be from 1 to {MAX_TOP} products (0 for {DEFAULT_TOP})")));
        }
    };
    let stores = a.caller.principal.store_scope().map(<[String]>::to_vec);
    let (today, now) = (a.today, a.caller.now);
    on_model(a.tenant, move |t| {
        let seen = visible(t, stores.as_deref(), today);
        Ok(analytics(t, &seen, p, top, now))
    })
    .await
}

pub async fn render(
    api: &SegmentApi,
    r: tonic::Request<pb::RenderDashboardRequest>,
) -> ApiResult<pb::RenderDashboardResponse> {
    let a = asked(api, &r)?;
    let body = r.into_inner();
    let p = period(&body.period, body.granularity, a.today)?;
    let stores = a.caller.principal.store_scope().map(<[String]>::to_vec);
    let (today, now, tenant) = (a.today, a.caller.now, a.caller.tenant.as_str().to_string());
    let language = body.language;
    let html = on_model(a.tenant, move |t| {
        let seen = visible(t, stores.as_deref(), today);
        let board = dashboard(t, &seen, p, today, now);
        // The customers' charts read best by week over a month, by month over longer.
        let g = if p.to - p.from > 120 { Granularity::Month } else { p.granularity };
        let customers = analytics(t, &seen, Period { granularity: g, ..p }, DEFAULT_TOP, now);
        let page = render::Page {
            dashboard: &board,
            customers: Some(&customers),
            language: Language::of(&language, &t.phone_region),
            tenant: &tenant,
        };
        Ok(render::html(&page))
    })
    .await?;
    Ok(pb::RenderDashboardResponse { html: html.into_bytes() })
}
