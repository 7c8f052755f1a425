//! `loyalty dashboard`: the CRM dashboard as one HTML file a person opens anywhere (no network),
//! and `loyalty report`: a report as a table.
use crate::connection::Connection;
use crate::output::{Output, Table};
use anyhow::Context;
use loyalty_api::common::v1::Date;
use loyalty_api::segment::v1 as pb;
use loyalty_api::segment::v1::segment_service_client::SegmentServiceClient;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct DashboardArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// First day, YYYY-MM-DD (default: 29 days before --to).
    #[arg(long)]
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD (default: today in the tenant's zone).
    #[arg(long)]
    pub to: Option<String>,
    /// Of the time series: day, week, month or year.
    #[arg(long, default_value = "day", value_parser = ["day", "week", "month", "year"])]
    pub granularity: String,
    /// en, lt, ru, pl or ro (default: the tenant's region's language).
    #[arg(long, default_value = "")]
    pub language: String,
    /// Where to write the page.
    #[arg(long, default_value = "dashboard.html")]
    pub out: PathBuf,
}

#[derive(clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub connection: Connection,
    /// clv, retention, churn, segment_performance or points_behaviour.
    #[arg(value_parser = ["clv", "retention", "churn", "segment_performance", "points_behaviour"])]
    pub report: String,
    /// First day, YYYY-MM-DD (default: 364 days before --to).
    #[arg(long)]
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD (default: today).
    #[arg(long)]
    pub to: Option<String>,
}

/// A day written YYYY-MM-DD.
fn day(text: &str, what: &str) -> anyhow::Result<Date> {
    let parts: Vec<&str> = text.trim().split('-').collect();
    let number = |i: usize| parts.get(i).and_then(|p| p.parse::<i32>().ok());
    match (parts.len(), number(0), number(1), number(2)) {
        (3, Some(year), Some(month), Some(day)) => Ok(Date { year, month, day }),
        _ => anyhow::bail!("{what} must be a day written YYYY-MM-DD, such as 2026-03-31; {text:?} is not"),
    }
}

fn range(from: &Option<String>, to: &Option<String>) -> anyhow::Result<Option<pb::DateRange>> {
    if from.is_none() && to.is_none() {
        return Ok(None);
    }
    Ok(Some(pb::DateRange {
        from: from.as_deref().map(|f| day(f, "--from")).transpose()?,
        to: to.as_deref().map(|t| day(t, "--to")).transpose()?,
    }))
}

fn granularity(word: &str) -> pb::Granularity {
    match word {
        "week" => pb::Granularity::Week,
        "month" => pb::Granularity::Month,
        "year" => pb::Granularity::Year,
        _ => pb::Granularity::Day,
    }
}

pub async fn dashboard(args: DashboardArgs, out: &Output) -> anyhow::Result<()> {
    let mut api = SegmentServiceClient::new(args.connection.authed().await?);
    let period = range(&args.from, &args.to)?;
    let request = pb::RenderDashboardRequest {
        period,
        granularity: granularity(&args.granularity) as i32,
        language: args.language.clone(),
    };
    let page = api.render_dashboard(request).await?.into_inner();
    std::fs::write(&args.out, &page.html).with_context(|| format!("writing {}", args.out.display()))?;
    let written = format!("wrote {} ({} KB): open it in a browser", args.out.display(), page.html.len().div_ceil(1024));
    out.value(serde_json::json!({ "file": args.out.display().to_string(), "bytes": page.html.len() }), &written);
    Ok(())
}

pub async fn report(args: ReportArgs, out: &Output) -> anyhow::Result<()> {
    let mut api = SegmentServiceClient::new(args.connection.authed().await?);
    let kind = match args.report.as_str() {
        "clv" => pb::ReportKind::CustomerLifetimeValue,
        "retention" => pb::ReportKind::Retention,
        "churn" => pb::ReportKind::Churn,
        "segment_performance" => pb::ReportKind::SegmentPerformance,
        _ => pb::ReportKind::PointsBehaviour,
    };
    let request = pb::GetReportRequest { report: kind as i32, period: range(&args.from, &args.to)? };
    let r = api.get_report(request).await?.into_inner();
    let names: Vec<&str> = r.columns.iter().map(|c| c.name.as_str()).collect();
    let mut t = Table::new(&names);
    for row in &r.rows {
        t.row(row.cells.clone());
    }
    let legend: Vec<String> = r.columns.iter().map(|c| format!("  {}: {}", c.name, c.description)).collect();
    out.list(&r.rows, || t, &legend.join("\n"));
    Ok(())
}
