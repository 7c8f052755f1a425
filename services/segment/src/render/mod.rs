//! The dashboard as one self-contained HTML page, laid out like seed 003's CRM dashboard (tiles
//! with their values 30 days earlier, the clients, behaviour, spenders, tags and RFM sections) and
//! seed 004's "Customers" tab (new vs returning). Charts are inline SVG; the page has no script and
//! asks the network for nothing. Every tile carries its number in `data-value`, so a test reads
//! what a person sees.
mod svg;
pub mod words;

use loyalty_api::common::v1::Date;
use loyalty_api::segment::v1::{self as pb, ChartKind, Granularity, KpiKind};
use std::fmt::Write;
use svg::escape;
use words::Language;

/// The key of a KPI in the page's words and in its `data-kpi` attribute.
pub fn kpi_key(kind: i32) -> &'static str {
    match KpiKind::try_from(kind).unwrap_or(KpiKind::Unspecified) {
        KpiKind::TotalClients => "total_clients",
        KpiKind::Active => "active",
        KpiKind::Vip => "vip",
        KpiKind::Sleeping => "sleeping",
        KpiKind::New => "new",
        KpiKind::EmailSubscribed => "email_subscribed",
        KpiKind::EmailUnsubscribed => "email_unsubscribed",
        KpiKind::EmailUnknown => "email_unknown",
        KpiKind::SmsSubscribed => "sms_subscribed",
        KpiKind::SmsUnsubscribed => "sms_unsubscribed",
        KpiKind::SmsUnknown => "sms_unknown",
        KpiKind::Unspecified => "unknown",
    }
}

fn iso(d: &Option<Date>) -> String {
    d.as_ref().map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)).unwrap_or_default()
}

/// A bucket's label as its granularity reads.
fn bucket_label(d: &Option<Date>, g: i32) -> String {
    let Some(d) = d else { return String::new() };
    match Granularity::try_from(g).unwrap_or(Granularity::Day) {
        Granularity::Month => format!("{:04}-{:02}", d.year, d.month),
        Granularity::Year => format!("{:04}", d.year),
        _ => format!("{:04}-{:02}-{:02}", d.year, d.month, d.day),
    }
}

const STYLE: &str = r#"
body{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;margin:0;background:#f4f6f8;color:#212121}
header{background:#1b3a57;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:22px}header p{margin:4px 0 0;font-size:13px;opacity:.85}
main{padding:18px 28px 40px;max-width:1240px}
h2{font-size:16px;margin:26px 0 10px;color:#1b3a57;border-bottom:2px solid #dde3ea;padding-bottom:4px}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}
.tile{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
.tile .name{font-size:12px;color:#546e7a}.tile .value{font-size:26px;font-weight:bold;margin:4px 0}
.tile .before{font-size:11px;color:#78909c}.up{color:#2e7d32}.down{color:#c62828}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(540px,1fr));gap:14px}
.card{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
.card h3{font-size:13px;margin:0 0 6px;color:#37474f}
table{border-collapse:collapse;width:100%;font-size:12px}th,td{padding:5px 8px;border-bottom:1px solid #eceff1;text-align:right}
th:first-child,td:first-child{text-align:left}th{color:#546e7a;font-weight:600}
.note{font-size:12px;color:#607d8b}
"#;

/// Everything the page shows.
pub struct Page<'a> {
    pub dashboard: &'a pb::Dashboard,
    pub customers: Option<&'a pb::CustomerTypeAnalytics>,
    pub language: Language,
    pub tenant: &'a str,
}

pub fn html(page: &Page<'_>) -> String {
    let (d, l) = (page.dashboard, page.language);
    let number = move |n: i64| l.number(n);
    let mut out = String::with_capacity(64 * 1024);
    let period = d.period.as_ref();
    let _ = write!(
        out,
        r#"<!DOCTYPE html><html lang="{}"><head><meta charset="utf-8"><title>{} · {}</title><style>{STYLE}</style></head><body>"#,
        l.code(),
        escape(l.word("title")),
        escape(page.tenant)
    );
    let _ = write!(
        out,
        r#"<header><h1>{} · {}</h1><p>{}: {} – {} · {}: {}</p></header><main>"#,
        escape(l.word("title")),
        escape(page.tenant),
        l.word("period"),
        iso(&period.and_then(|p| p.from)),
        iso(&period.and_then(|p| p.to)),
        l.word("computed"),
        d.computed_at.as_ref().map(|t| time_text(t.seconds)).unwrap_or_default()
    );
    tiles(&mut out, d, l);
    let chart = |kind: ChartKind| d.charts.iter().find(|c| c.chart == kind as i32);
    let _ = write!(out, "<h2>{}</h2><div class=\"grid\">", l.word("clients_section"));
    for (kind, title) in [
        (ChartKind::EmailSubscriptionsOverTime, "email_over_time"),
        (ChartKind::SmsSubscriptionsOverTime, "sms_over_time"),
        (ChartKind::IdentifiedOverTime, "identified_over_time"),
    ] {
        if let Some(c) = chart(kind) {
            card(&mut out, l.word(title), &over_time(c, l, &number));
        }
    }
    for (kind, title) in [
        (ChartKind::EmailSubscriptionsByGender, "email_by_gender"),
        (ChartKind::SmsSubscriptionsByGender, "sms_by_gender"),
    ] {
        if let Some(c) = chart(kind) {
            card(&mut out, l.word(title), &categories(c, l, &number));
        }
    }
    out.push_str("</div>");
    let _ = write!(out, "<h2>{}</h2><div class=\"grid\">", l.word("behaviour_section"));
    for (kind, title) in [(ChartKind::ProspectsVsSpenders, "prospects_vs_spenders"), (ChartKind::Activity, "activity")]
    {
        if let Some(c) = chart(kind) {
            card(&mut out, l.word(title), &categories(c, l, &number));
        }
    }
    out.push_str("</div>");
    spenders(&mut out, d, l, &chart);
    if let Some(c) = chart(ChartKind::TopTags) {
        let items: Vec<(String, i64)> =
            c.series.first().map(|s| s.points.iter().map(|p| (p.label.clone(), p.value)).collect()).unwrap_or_default();
        let _ = write!(out, "<h2>{}</h2><div class=\"card\">", l.word("tags_section"));
        if items.is_empty() {
            let _ = write!(out, "<p class=\"note\">{}</p>", l.word("no_data"));
        } else {
            out.push_str(&svg::ranking(&items, &number));
        }
        out.push_str("</div>");
    }
    if let Some(g) = &d.rfm {
        rfm(&mut out, g, l, &number);
    }
    if let Some(c) = page.customers {
        customers(&mut out, c, l, &d.currency);
    }
    out.push_str("</main></body></html>");
    out
}

fn time_text(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .map(|t| {
            format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
        })
        .unwrap_or_default()
}

fn tiles(out: &mut String, d: &pb::Dashboard, l: Language) {
    out.push_str("<div class=\"tiles\">");
    for k in &d.kpis {
        let key = kpi_key(k.kind);
        let change = k.value - k.value_30_days_earlier;
        let (class, sign) = match change.signum() {
            1 => ("up", "+"),
            -1 => ("down", ""),
            _ => ("", "±"),
        };
        let _ = write!(
            out,
            r#"<div class="tile" data-kpi="{key}" data-value="{}" data-before="{}"><div class="name">{}</div><div class="value">{}</div><div class="before">{}: {} <span class="{class}">({sign}{})</span></div></div>"#,
            k.value,
            k.value_30_days_earlier,
            escape(l.word(key)),
            l.number(k.value),
            l.word("earlier"),
            l.number(k.value_30_days_earlier),
            l.number(change)
        );
    }
    out.push_str("</div>");
}

fn card(out: &mut String, title: &str, body: &str) {
    let _ = write!(out, "<div class=\"card\"><h3>{}</h3>{body}</div>", escape(title));
}

fn word_or(l: Language, key: &str) -> String {
    match l.word(key) {
        "?" => key.replace('_', " "),
        w => w.to_string(),
    }
}

fn over_time(c: &pb::Chart, l: Language, number: &dyn Fn(i64) -> String) -> String {
    let labels: Vec<String> = c
        .series
        .first()
        .map(|s| s.points.iter().map(|p| bucket_label(&p.day, c.granularity)).collect())
        .unwrap_or_default();
    let series: Vec<(String, Vec<i64>)> =
        c.series.iter().map(|s| (word_or(l, &s.name), s.points.iter().map(|p| p.value).collect())).collect();
    svg::lines(&labels, &series, number)
}

fn categories(c: &pb::Chart, l: Language, number: &dyn Fn(i64) -> String) -> String {
    let labels: Vec<String> =
        c.series.first().map(|s| s.points.iter().map(|p| word_or(l, &p.label)).collect()).unwrap_or_default();
    let series: Vec<(String, Vec<i64>)> =
        c.series.iter().map(|s| (word_or(l, &s.name), s.points.iter().map(|p| p.value).collect())).collect();
    svg::bars(&labels, &series, number)
}

fn spenders<'a>(out: &mut String, d: &pb::Dashboard, l: Language, chart: &dyn Fn(ChartKind) -> Option<&'a pb::Chart>) {
    let number = |n: i64| l.number(n);
    let _ = write!(out, "<h2>{}</h2>", l.word("spenders_section"));
    if let Some(t) = &d.thresholds {
        let money = |m: &Option<loyalty_api::common::v1::Money>| {
            m.as_ref().map(|m| l.money(m.minor_units, &m.currency)).unwrap_or_default()
        };
        let _ = write!(
            out,
            r#"<div class="tiles"><div class="tile" data-threshold="big_from"><div class="name">{}</div><div class="value">{}</div></div><div class="tile" data-threshold="medium_from"><div class="name">{}</div><div class="value">{}</div></div><div class="tile" data-threshold="average_purchases"><div class="name">{}</div><div class="value">{},{:03}</div></div></div>"#,
            l.word("big_from"),
            money(&t.big_from),
            l.word("medium_from"),
            money(&t.medium_from),
            l.word("average_purchases"),
            t.average_purchases_milli / 1000,
            t.average_purchases_milli % 1000
        );
    }
    out.push_str("<div class=\"grid\" style=\"margin-top:12px\">");
    for (kind, title) in
        [(ChartKind::SpendersByValue, "spenders_by_value"), (ChartKind::SpendersByFrequency, "spenders_by_frequency")]
    {
        if let Some(c) = chart(kind) {
            card(out, l.word(title), &categories(c, l, &number));
        }
    }
    out.push_str("</div>");
}

fn rfm(out: &mut String, g: &pb::RfmGrid, l: Language, number: &dyn Fn(i64) -> String) {
    let cells: Vec<(i32, i32, i64, String)> =
        g.cells.iter().map(|c| (c.recency, c.frequency_monetary, c.clients, c.segment.clone())).collect();
    let _ = write!(out, "<h2>{}</h2><div class=\"grid\"><div class=\"card\">", l.word("rfm_section"));
    out.push_str(&svg::heat_map(&cells, (l.word("recency"), l.word("frequency_monetary")), number));
    out.push_str("</div><div class=\"card\"><table><tr><th>RFM</th><th>#</th></tr>");
    let mut named = g.segments.clone();
    named.sort_by(|a, b| b.clients.cmp(&a.clients).then_with(|| a.segment.cmp(&b.segment)));
    for s in named {
        let _ = write!(
            out,
            r#"<tr data-rfm="{}"><td>{}</td><td>{}</td></tr>"#,
            escape(&s.segment),
            escape(&s.segment.replace('_', " ")),
            number(s.clients)
        );
    }
    let list = |v: &[i64]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ");
    let _ = write!(
        out,
        "</table><p class=\"note\">{}: {} ({}) · {}: {} · {}: {}</p></div></div>",
        l.word("recency"),
        list(&g.recency_days_bounds),
        l.word("days"),
        l.word("frequency_monetary"),
        list(&g.frequency_bounds),
        l.word("look_back"),
        g.look_back_days
    );
}

fn customers(out: &mut String, c: &pb::CustomerTypeAnalytics, l: Language, currency: &str) {
    let number = |n: i64| l.number(n);
    let money = |m: &Option<loyalty_api::common::v1::Money>| m.as_ref().map_or(0, |m| m.minor_units);
    let _ = write!(out, "<h2>{}</h2><div class=\"grid\">", l.word("customers_section"));
    let kinds = ["new", "returning"];
    let rows_of = |kind: &str| c.over_time.iter().filter(|r| r.customer_type == kind).collect::<Vec<_>>();
    let labels: Vec<String> = rows_of("new").iter().map(|r| bucket_label(&r.day, c.granularity)).collect();
    let series = |value: &dyn Fn(&pb::CustomerTypeRow) -> i64| {
        kinds
            .iter()
            .map(|k| (word_or(l, &format!("{k}_customers")), rows_of(k).iter().map(|r| value(r)).collect()))
            .collect::<Vec<(String, Vec<i64>)>>()
    };
    card(out, l.word("orders_by_type"), &svg::lines(&labels, &series(&|r| r.orders), &number));
    let whole = |n: i64| l.number(n / 100);
    card(out, l.word("revenue_by_type"), &svg::lines(&labels, &series(&|r| money(&r.revenue)), &whole));
    out.push_str("</div><div class=\"grid\" style=\"margin-top:14px\"><div class=\"card\">");
    let _ = write!(
        out,
        "<h3>{}</h3><p class=\"note\">{} / {}</p><table><tr><th></th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        l.word("weekday_table"),
        l.word("new_customers"),
        l.word("returning_customers"),
        l.word("orders"),
        l.word("revenue_per_day"),
        l.word("average_basket"),
        l.word("items_per_order"),
        l.word("value_index")
    );
    for weekday in 1..=7 {
        let of = |kind: &str| c.by_day_of_week.iter().find(|r| r.day_of_week == weekday && r.customer_type == kind);
        let both = |cell: &dyn Fn(&pb::CustomerTypeRow) -> String| {
            let text = |kind: &str| of(kind).map(cell).unwrap_or_default();
            format!("{} / {}", text("new"), text("returning"))
        };
        let _ = write!(
            out,
            r#"<tr data-weekday="{weekday}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            l.word(&format!("weekday_{weekday}")),
            both(&|r| l.number(r.orders)),
            both(&|r| l.money(money(&r.average_revenue_per_day), currency)),
            both(&|r| l.money(money(&r.average_basket), currency)),
            both(&|r| format!("{},{:02}", r.items_per_order_milli / 1000, r.items_per_order_milli % 1000 / 10)),
            both(&|r| format!("{},{:02}", r.value_index_bp / 10_000, r.value_index_bp % 10_000 / 100)),
        );
    }
    let _ = write!(
        out,
        "</table></div><div class=\"card\"><h3>{}</h3><table><tr><th>{}</th><th>{}</th><th>{}</th></tr>",
        l.word("top_products"),
        l.word("product"),
        l.word("customer_type"),
        l.word("quantity")
    );
    for p in &c.top_products {
        let _ = write!(
            out,
            "<tr><td>{} <span class=\"note\">{}</span></td><td>{}</td><td>{}</td></tr>",
            escape(&p.name),
            escape(&p.sku),
            word_or(l, &format!("{}_customers", p.customer_type)),
            l.number(p.quantity_milli / 1000)
        );
    }
    let _ = write!(
        out,
        "</table><p class=\"note\" data-second-purchase-bp=\"{}\">{}: {},{:02} % · {}: {}</p></div></div>",
        c.second_purchase_rate_bp,
        l.word("second_purchase"),
        c.second_purchase_rate_bp / 100,
        c.second_purchase_rate_bp % 100,
        l.word("days_to_second"),
        c.median_days_to_second_purchase
    );
}
