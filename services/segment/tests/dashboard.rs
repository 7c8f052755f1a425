//! The CRM dashboard, customer-type analytics and reports through gRPC, as a CRM manager reads
//! them: tiles that equal the counts of the segments they name, the 30-days-earlier values,
//! every chart, the store scope and tenant of every figure, bad periods refused by field, and the
//! page itself opened in headless Chromium showing the same numbers.
mod suite;
use loyalty_api::client::v1 as clients;
use loyalty_api::common::v1::{ConsentStatus, ContactChannel, Date};
use loyalty_api::segment::v1::{self as pb, ChartKind, KpiKind};
use loyalty_testkit::support::{self, Segments, TENANT, fields};
use std::time::Duration;
use suite::{OTHER, admin, count, everyone, filter, town};
use tonic::Code;

async fn consent(app: &loyalty_testkit::TestApp, client: &str, channel: ContactChannel, status: ConsentStatus) {
    let mut api = support::clients(app, &app.admin_token(TENANT));
    let consent = clients::ChannelConsent { channel: channel as i32, status: status as i32, ..Default::default() };
    let request =
        clients::SetConsentRequest { client_id: client.into(), consents: vec![consent], ..Default::default() };
    api.set_consent(request).await.expect("consent");
}

fn kpi(d: &pb::Dashboard, kind: KpiKind) -> (i64, i64) {
    d.kpis.iter().find(|k| k.kind == kind as i32).map(|k| (k.value, k.value_30_days_earlier)).expect("a KPI")
}

/// The dashboard once the consents have arrived.
async fn settled(api: &mut Segments) -> pb::Dashboard {
    for _ in 0..200 {
        let d = api.get_dashboard(pb::GetDashboardRequest::default()).await.expect("dashboard").into_inner();
        let scored = d.rfm.as_ref().is_some_and(|g| g.scored_clients == 2);
        if kpi(&d, KpiKind::SmsSubscribed).0 == 1 && kpi(&d, KpiKind::EmailUnsubscribed).0 == 1 && scored {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the consents never reached the dashboard");
}

/// Waits for the day's thresholds (the built-in segments exist from then on).
async fn settled_thresholds(api: &mut Segments) {
    for _ in 0..200 {
        let listed = api.list_automatic_segments(pb::ListAutomaticSegmentsRequest::default()).await;
        if listed.is_ok_and(|l| l.into_inner().thresholds.is_some()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the thresholds were never computed");
}

async fn segment_size(api: &mut Segments, id: &str) -> i64 {
    let audience = Some(loyalty_api::filter::v1::Audience {
        source: Some(loyalty_api::filter::v1::audience::Source::SegmentId(id.into())),
    });
    count(api, audience).await.expect("count")
}

fn day(y: i32, m: i32, d: i32) -> Option<Date> {
    Some(Date { year: y, month: m, day: d })
}

#[tokio::test]
async fn tiles_equal_the_segments_they_name_within_the_caller_s_stores() {
    let t = town().await;
    consent(&t.app, &t.ona, ContactChannel::Email, ConsentStatus::Subscribed).await;
    consent(&t.app, &t.jonas, ContactChannel::Email, ConsentStatus::Unsubscribed).await;
    consent(&t.app, &t.jonas, ContactChannel::Sms, ConsentStatus::Subscribed).await;
    let mut api = admin(&t.app);
    let d = settled(&mut api).await;
    // Everyone joined today: 30 days ago there was nobody.
    assert_eq!(kpi(&d, KpiKind::TotalClients), (3, 0));
    assert_eq!(kpi(&d, KpiKind::Active), (2, 0));
    assert_eq!(kpi(&d, KpiKind::New), (3, 0));
    assert_eq!((kpi(&d, KpiKind::Sleeping), kpi(&d, KpiKind::Vip)), ((0, 0), (0, 0)));
    assert_eq!(
        [kpi(&d, KpiKind::EmailSubscribed).0, kpi(&d, KpiKind::EmailUnsubscribed).0, kpi(&d, KpiKind::EmailUnknown).0],
        [1, 1, 1]
    );
    assert_eq!(
        [kpi(&d, KpiKind::SmsSubscribed).0, kpi(&d, KpiKind::SmsUnsubscribed).0, kpi(&d, KpiKind::SmsUnknown).0],
        [1, 0, 2]
    );
    // Each tile is the count of what it names.
    assert_eq!(kpi(&d, KpiKind::TotalClients).0, count(&mut api, everyone()).await.expect("count"));
    for (kind, id) in [
        (KpiKind::Active, "auto:active"),
        (KpiKind::New, "auto:new"),
        (KpiKind::Sleeping, "auto:sleeping"),
        (KpiKind::Vip, "auto:vip"),
    ] {
        assert_eq!(kpi(&d, kind).0, segment_size(&mut api, id).await, "{id}");
    }
    let subscribed = filter(&mut api, r#"consent.email = "subscribed""#).await;
    assert_eq!(kpi(&d, KpiKind::EmailSubscribed).0, count(&mut api, subscribed).await.expect("count"));
    // Every chart, in the enum's order, with its buckets.
    assert_eq!(d.charts.iter().map(|c| c.chart).collect::<Vec<_>>(), (1..=10).collect::<Vec<i32>>());
    let chart = |kind: ChartKind| d.charts.iter().find(|c| c.chart == kind as i32).expect("chart");
    // The dashboard draws its charts on two threads from shared sweeps: each equals the chart
    // asked alone.
    for drawn in &d.charts {
        let alone = pb::GetChartRequest { chart: drawn.chart, ..Default::default() };
        let alone = api.get_chart(alone).await.expect("chart").into_inner();
        assert_eq!(alone.series, drawn.series, "chart {}", drawn.chart);
    }
    let email = chart(ChartKind::EmailSubscriptionsOverTime);
    assert_eq!(email.series.len(), 3);
    assert_eq!(email.series[0].points.len(), 30, "the last 30 days, a point a day");
    assert_eq!(email.series[0].points.last().map(|p| p.value), Some(1));
    let split = &chart(ChartKind::ProspectsVsSpenders).series[0].points;
    assert_eq!(
        split.iter().map(|p| (p.label.as_str(), p.value)).collect::<Vec<_>>(),
        [("prospects", 1), ("spenders", 2)]
    );
    assert_eq!(d.rfm.as_ref().map(|g| g.scored_clients), Some(2));
    assert!(d.computed_at.is_some() && d.facts_as_of.is_some());
    // A Kaunas token: Jonas and Eglė.
    let mut kaunas = support::segments(&t.app, &t.app.store_token(TENANT, &["analytics.read"], &["KNS-01"]));
    let scoped = kaunas.get_dashboard(pb::GetDashboardRequest::default()).await.expect("dashboard").into_inner();
    assert_eq!((kpi(&scoped, KpiKind::TotalClients).0, kpi(&scoped, KpiKind::EmailSubscribed).0), (2, 0));
    // Another tenant: Zita alone.
    let mut other = support::segments(&t.app, &t.app.admin_token(OTHER));
    let theirs = other.get_dashboard(pb::GetDashboardRequest::default()).await.expect("dashboard").into_inner();
    assert_eq!(kpi(&theirs, KpiKind::TotalClients).0, 1);
    // The right: analytics.read.
    let mut reader = support::segments(&t.app, &t.app.token(TENANT, &["segments.read"]));
    let denied = reader.get_dashboard(pb::GetDashboardRequest::default()).await.expect_err("no right");
    assert_eq!(denied.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn periods_charts_analytics_and_reports_refuse_bad_input_by_field() {
    let t = town().await;
    let mut api = admin(&t.app);
    settled_thresholds(&mut api).await;
    let ask = |from: Option<Date>, to: Option<Date>, granularity: pb::Granularity| pb::GetDashboardRequest {
        period: Some(pb::DateRange { from, to }),
        granularity: granularity as i32,
    };
    let backwards = api.get_dashboard(ask(day(2026, 3, 1), day(2026, 2, 1), pb::Granularity::Day)).await;
    assert_eq!(fields(&backwards.expect_err("backwards")), ["period"]);
    let no_month = api.get_dashboard(ask(day(2026, 13, 1), None, pb::Granularity::Day)).await;
    assert_eq!(fields(&no_month.expect_err("month 13")), ["period.from"]);
    let too_many = api.get_dashboard(ask(day(2000, 1, 1), day(2026, 1, 1), pb::Granularity::Day)).await;
    assert_eq!(fields(&too_many.expect_err("9,500 days")), ["period"]);
    let months =
        api.get_dashboard(ask(day(2000, 1, 1), day(2026, 1, 1), pb::Granularity::Month)).await.expect("months");
    let points = months.into_inner().charts[0].series[0].points.len();
    assert_eq!(points, 26 * 12 + 1, "January 2000 to January 2026");
    let bad_kind = pb::GetDashboardRequest { granularity: 99, ..Default::default() };
    assert_eq!(fields(&api.get_dashboard(bad_kind).await.expect_err("granularity")), ["granularity"]);
    let no_chart = api.get_chart(pb::GetChartRequest::default()).await.expect_err("no chart");
    assert_eq!(fields(&no_chart), ["chart"]);
    let weekly = pb::GetChartRequest {
        chart: ChartKind::IdentifiedOverTime as i32,
        period: Some(pb::DateRange { from: day(2025, 12, 30), to: day(2026, 1, 13) }),
        granularity: pb::Granularity::Week as i32,
    };
    let chart = api.get_chart(weekly).await.expect("chart").into_inner();
    let starts: Vec<Option<Date>> = chart.series[0].points.iter().map(|p| p.day).collect();
    assert_eq!(starts, [day(2025, 12, 29), day(2026, 1, 5), day(2026, 1, 12)], "weeks start on Monday");
    // Customer types: both purchases of the town are their buyers' first.
    let analytics = api
        .get_customer_type_analytics(pb::GetCustomerTypeAnalyticsRequest::default())
        .await
        .expect("analytics")
        .into_inner();
    let totals: Vec<(String, i64)> = analytics.totals.iter().map(|r| (r.customer_type.clone(), r.orders)).collect();
    assert_eq!(totals, [("new".to_string(), 2), ("returning".to_string(), 0)]);
    let top = pb::GetCustomerTypeAnalyticsRequest { top: 101, ..Default::default() };
    assert_eq!(fields(&api.get_customer_type_analytics(top).await.expect_err("top")), ["top"]);
    // Reports.
    let clv = pb::GetReportRequest { report: pb::ReportKind::CustomerLifetimeValue as i32, period: None };
    let clv = api.get_report(clv).await.expect("clv").into_inner();
    assert_eq!(clv.columns[0].name, "segment");
    assert!(clv.columns.iter().all(|c| !c.description.is_empty()), "every column says what it holds");
    assert_eq!(clv.rows[0].cells[..3], ["all clients", "3", "150.00"]);
    let spenders = clv.rows.iter().find(|r| r.cells[0] == "auto:spenders").expect("built-in segments are rows");
    assert_eq!(spenders.cells[..4], ["auto:spenders", "2", "150.00", "75.00"]);
    assert_eq!(fields(&api.get_report(pb::GetReportRequest::default()).await.expect_err("no report")), ["report"]);
    let mut kaunas = support::segments(&t.app, &t.app.store_token(TENANT, &["analytics.read"], &["KNS-01"]));
    let points = pb::GetReportRequest { report: pb::ReportKind::PointsBehaviour as i32, period: None };
    assert_eq!(kaunas.get_report(points).await.expect_err("chain-wide").code(), Code::PermissionDenied);
    let retention = pb::GetReportRequest { report: pb::ReportKind::Retention as i32, period: None };
    let retention = kaunas.get_report(retention).await.expect("retention").into_inner();
    let this_month: i64 = retention.rows.last().map(|r| r.cells[1].parse().unwrap_or(-1)).unwrap_or(-1);
    assert_eq!(this_month, 1, "the Kaunas token's cohort of this month is Jonas");
}

/// The `data-value` of each tile the browser shows, by KPI key.
fn tiles(dom: &str) -> Vec<(String, i64)> {
    dom.split("data-kpi=\"")
        .skip(1)
        .filter_map(|rest| {
            let key = rest.split('"').next()?.to_string();
            let value = rest.split("data-value=\"").nth(1)?.split('"').next()?.parse().ok()?;
            Some((key, value))
        })
        .collect()
}

#[tokio::test]
async fn the_page_opened_in_chromium_shows_the_tiles_of_the_rpc_and_asks_the_network_for_nothing() {
    let t = town().await;
    consent(&t.app, &t.ona, ContactChannel::Email, ConsentStatus::Subscribed).await;
    consent(&t.app, &t.jonas, ContactChannel::Email, ConsentStatus::Unsubscribed).await;
    consent(&t.app, &t.jonas, ContactChannel::Sms, ConsentStatus::Subscribed).await;
    let mut api = admin(&t.app);
    let d = settled(&mut api).await;
    let request = pb::RenderDashboardRequest { language: "lt".into(), ..Default::default() };
    let html = String::from_utf8(api.render_dashboard(request).await.expect("page").into_inner().html).expect("utf-8");
    for forbidden in ["<script", "<link", " src=", "url(", "@import"] {
        assert!(!html.contains(forbidden), "the page must not load anything: it contains {forbidden:?}");
    }
    assert!(html.contains("lang=\"lt\"") && html.contains("Visi klientai"), "in the language asked");
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let file = dir.join("dashboard.html");
    std::fs::write(&file, &html).expect("the page written");
    let dom = loyalty_testkit::browser::dump_dom(&file).expect("headless Chromium renders the page");
    let shown = tiles(&dom);
    let expected: Vec<(String, i64)> =
        d.kpis.iter().map(|k| (loyalty_segment::render::kpi_key(k.kind).to_string(), k.value)).collect();
    assert_eq!(shown, expected, "the browser shows the RPC's numbers, tile for tile");
    let picture = dir.join("dashboard.png");
    loyalty_testkit::browser::screenshot(&file, &picture, (1280, 3600)).expect("a screenshot");
    let size = std::fs::metadata(&picture).map(|m| m.len()).unwrap_or(0);
    assert!(size > 20_000, "the screenshot has something on it ({size} bytes)");
}
