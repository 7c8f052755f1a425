//! `loyalty`: the operator command line of the loyalty suite.
//!
//! `loyalty dev up` runs every implemented service in one process against a private Postgres;
//! `loyalty token` mints a development token. Each service's issue adds its operator commands.
mod cards;
mod clients;
mod dev;
mod points;
mod suite;
mod token;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "loyalty", version, about = "Loyalty suite operator CLI")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole suite locally.
    Dev {
        #[command(subcommand)]
        command: dev::DevCommand,
    },
    /// Work with clients: search, show, create, block, merge, erase, export.
    Clients(clients::ClientsArgs),
    /// Work with loyalty cards: lookup, list, issue, block, replace.
    Cards(cards::CardsArgs),
    /// Work with points: balance, history, manual adjustment, purchase.
    Points(points::PointsArgs),
    /// Mint a token signed with the configured key (LOYALTY__AUTH__JWT_SECRET, or the dev key).
    Token(token::TokenArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Dev { command } => dev::run(command).await,
            Command::Token(args) => token::run(args),
            Command::Clients(args) => clients::run(args).await,
            Command::Cards(args) => cards::run(args).await,
            Command::Points(args) => points::run(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
