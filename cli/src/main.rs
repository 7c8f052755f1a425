//! `loyalty`: the operator command line of the loyalty suite, for people (aligned tables, local
//! times, words) and for scripts (`--output json`, one object a line; exit codes by outcome).
mod campaigns;
mod cards;
mod clients;
mod connection;
mod dashboard;
mod demo;
mod demo_imports;
mod demo_messaging;
mod dev;
mod exports;
mod feeds;
mod format;
mod history;
mod imports;
mod output;
mod points;
mod segments;
mod suite;
mod token;

use clap::{Parser, Subcommand};
use output::{Exit, Output};

const EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  failed for another reason (the message says which)
  2  the command line is wrong (usage)
  3  bad input: the service refused a value (INVALID_ARGUMENT); the message names the field
  4  not found (or not visible to your token)
  5  not allowed: no or an expired token, or a right your token lacks
  6  conflict: it exists already, changed meanwhile, or its state forbids it
  7  unavailable: the suite did not answer; retry (writes are safe to retry with --idempotency-key)";

#[derive(Parser)]
#[command(name = "loyalty", version, about = "Loyalty suite operator CLI", after_help = EXIT_CODES)]
struct Cli {
    /// How results are written: "human" (tables in the tenant's time zone) or "json" (one object a
    /// line, for scripts).
    #[arg(long, global = true, default_value = "human", value_parser = ["human", "json"])]
    output: String,
    /// Shorthand for --output json.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole suite locally: up, down, reset.
    Dev {
        #[command(subcommand)]
        command: dev::DevCommand,
    },
    /// Clients: search, show, create, block, history, merge, erase, export.
    Clients(clients::ClientsArgs),
    /// Loyalty cards: lookup at the till, list, issue, block, replace.
    Cards(cards::CardsArgs),
    /// Points: balance, history, manual adjustment, purchase at the till.
    Points(points::PointsArgs),
    /// Segments: count and list clients by filter, the fact catalogue, saved segments, rebuild.
    Segments(segments::SegmentsArgs),
    /// Campaigns: list, start, pause, figures, deliveries, templates, the email provider.
    Campaigns(campaigns::CampaignsArgs),
    /// Imports: a client CSV in with progress, jobs, row reports, the error file, cancel.
    Import(imports::ImportArgs),
    /// Exports: everyone, a filter or a segment to CSV, XLSX or an e-mail list; download again.
    Export(exports::ExportArgs),
    /// The CRM dashboard as one HTML file (tiles, charts, RFM grid, new vs returning customers).
    Dashboard(dashboard::DashboardArgs),
    /// A report: clv, retention, churn, segment_performance, points_behaviour.
    Report(dashboard::ReportArgs),
    /// Feed operations: events a service parked because it could not apply them.
    Feeds(feeds::FeedsArgs),
    /// Mint a token signed with the development key (or --key-file).
    Token(token::TokenArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let out = Output::new(cli.json || cli.output == "json");
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return out.fail(&anyhow::anyhow!("starting the runtime: {e}")),
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Dev { command } => dev::run(command, &out).await,
            Command::Token(args) => token::run(args, &out),
            Command::Clients(args) => clients::run(args, &out).await,
            Command::Cards(args) => cards::run(args, &out).await,
            Command::Points(args) => points::run(args, &out).await,
            Command::Segments(args) => segments::run(args, &out).await,
            Command::Import(args) => imports::run(args, &out).await,
            Command::Export(args) => exports::run(args, &out).await,
            Command::Campaigns(args) => campaigns::run(args, &out).await,
            Command::Feeds(args) => feeds::run(args, &out).await,
            Command::Dashboard(args) => dashboard::dashboard(args, &out).await,
            Command::Report(args) => dashboard::report(args, &out).await,
        }
    });
    match result {
        Ok(()) => Exit::Done.into(),
        Err(e) => out.fail(&e),
    }
}
