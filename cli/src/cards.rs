//! `loyalty cards …`: the card service from the command line.
use crate::clients::Connection;
use loyalty_api::card::v1 as pb;
use loyalty_api::card::v1::card_service_client::CardServiceClient;
use loyalty_api::card::v1::lookup_card_request::Key;

#[derive(clap::Args)]
pub struct CardsArgs {
    #[command(flatten)]
    pub connection: Connection,
    #[command(subcommand)]
    pub command: CardsCommand,
}

#[derive(clap::Subcommand)]
pub enum CardsCommand {
    /// Find a card by number (or --barcode), as a POS does.
    Lookup {
        key: String,
        #[arg(long)]
        barcode: bool,
    },
    /// A client's cards.
    List { client_id: String },
    /// Issue a card to a client; the number is generated unless given.
    Issue {
        client_id: String,
        #[arg(long, default_value = "")]
        number: String,
        #[arg(long, default_value = "")]
        store: String,
    },
    /// Block a card.
    Block {
        card_id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Replace a lost card with a new one.
    Replace {
        card_id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
}

fn line(c: &pb::Card) -> String {
    let status = pb::CardStatus::try_from(c.status).map(|s| s.as_str_name()).unwrap_or("?");
    format!("{}  {:<20} {:<20} {:<22} client {}", c.id, c.number, c.barcode, status, c.client_id)
}

pub async fn run(args: CardsArgs) -> anyhow::Result<()> {
    let mut api = CardServiceClient::with_interceptor(args.connection.channel().await?, args.connection.bearer()?);
    match args.command {
        CardsCommand::Lookup { key, barcode } => {
            let key = if barcode { Key::Barcode(key) } else { Key::Number(key) };
            let r = api.lookup_card(pb::LookupCardRequest { key: Some(key) }).await?.into_inner();
            if let Some(c) = r.card {
                println!("{}", line(&c));
            }
        }
        CardsCommand::List { client_id } => {
            let r = api.list_client_cards(pb::ListClientCardsRequest { client_id }).await?.into_inner();
            for c in &r.cards {
                println!("{}", line(c));
            }
            println!("{} cards, {} active", r.total_count, r.active_count);
        }
        CardsCommand::Issue { client_id, number, store } => {
            let card = pb::Card { client_id, number, store_id: store, ..Default::default() };
            println!(
                "{}",
                line(
                    &api.issue_card(pb::IssueCardRequest { card: Some(card), ..Default::default() })
                        .await?
                        .into_inner()
                )
            );
        }
        CardsCommand::Block { card_id, reason } => {
            println!(
                "{}",
                line(
                    &api.block_card(pb::BlockCardRequest { card_id, reason, ..Default::default() }).await?.into_inner()
                )
            )
        }
        CardsCommand::Replace { card_id, reason } => {
            let r =
                api.replace_card(pb::ReplaceCardRequest { card_id, reason, ..Default::default() }).await?.into_inner();
            for c in [r.old_card, r.new_card].into_iter().flatten() {
                println!("{}", line(&c));
            }
        }
    }
    Ok(())
}
