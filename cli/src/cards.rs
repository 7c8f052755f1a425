//! `loyalty cards …`: the card service from the command line.
use crate::clients::Write;
use crate::connection::Connection;
use crate::format;
use crate::output::{Output, Table};
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
    /// Find a card by number (or --barcode), as a till does: the card, its holder and points.
    Lookup {
        /// The card number (or barcode with --barcode).
        key: String,
        /// The key is a barcode.
        #[arg(long)]
        barcode: bool,
        /// Show the card whatever its status (a till refuses cards that are not active).
        #[arg(long)]
        any_status: bool,
    },
    /// A client's cards, with how many are active.
    List {
        /// The client's id.
        client_id: String,
    },
    /// Issue a card to a client; the number is generated unless given.
    Issue {
        /// The client's id.
        client_id: String,
        /// The card number (checked against the numbering rule); generated when empty.
        #[arg(long, default_value = "")]
        number: String,
        /// The store that issues the card.
        #[arg(long, default_value = "")]
        store: String,
        #[command(flatten)]
        write: Write,
    },
    /// Block a card (it is refused at the till until unblocked).
    Block {
        /// The card's id.
        card_id: String,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        write: Write,
    },
    /// Replace a lost or damaged card with a new one; the points stay with the client.
    Replace {
        /// The card's id.
        card_id: String,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        write: Write,
    },
}

fn status(c: &pb::Card) -> String {
    pb::CardStatus::try_from(c.status)
        .map(|s| format::word(s.as_str_name(), "CARD_STATUS_"))
        .unwrap_or_else(|_| "?".into())
}

fn table(cards: &[pb::Card]) -> Table {
    let mut t = Table::new(&["id", "number", "barcode", "status", "store", "client"]);
    for c in cards {
        t.row(vec![
            c.id.clone(),
            c.number.clone(),
            c.barcode.clone(),
            status(c),
            c.store_id.clone(),
            c.client_id.clone(),
        ]);
    }
    t
}

pub async fn run(args: CardsArgs, out: &Output) -> anyhow::Result<()> {
    let mut api = CardServiceClient::new(args.connection.authed().await?);
    match args.command {
        CardsCommand::Lookup { key, barcode, any_status } => {
            let key = if barcode { Key::Barcode(key) } else { Key::Number(key) };
            let r = api
                .lookup_card(pb::LookupCardRequest { key: Some(key), any_status, with_points: true })
                .await?
                .into_inner();
            out.one(&r, || {
                let card = r.card.clone().unwrap_or_default();
                let holder =
                    if r.client_id.is_empty() { "(not shown to your token)".to_string() } else { r.client_id.clone() };
                let level = if r.level_name.is_empty() { String::new() } else { format!(", level {}", r.level_name) };
                format!(
                    "card {} ({})\n  holder  {holder}\n  points  {} available{level}",
                    card.number,
                    status(&card),
                    r.points_available
                )
            });
        }
        CardsCommand::List { client_id } => {
            let r = api.list_client_cards(pb::ListClientCardsRequest { client_id }).await?.into_inner();
            out.list(&r.cards, || table(&r.cards), &format!("{} cards, {} active", r.total_count, r.active_count));
        }
        CardsCommand::Issue { client_id, number, store, write } => {
            let card = pb::Card { client_id, number, store_id: store, ..Default::default() };
            let c =
                api.issue_card(pb::IssueCardRequest { card: Some(card), context: write.context() }).await?.into_inner();
            out.one(&c, || table(std::slice::from_ref(&c)).render().trim_end().to_string());
        }
        CardsCommand::Block { card_id, reason, write } => {
            let c =
                api.block_card(pb::BlockCardRequest { card_id, reason, context: write.context() }).await?.into_inner();
            out.one(&c, || table(std::slice::from_ref(&c)).render().trim_end().to_string());
        }
        CardsCommand::Replace { card_id, reason, write } => {
            let r = api
                .replace_card(pb::ReplaceCardRequest {
                    card_id,
                    reason,
                    context: write.context(),
                    ..Default::default()
                })
                .await?
                .into_inner();
            let both: Vec<pb::Card> = [r.old_card.clone(), r.new_card.clone()].into_iter().flatten().collect();
            out.one(&r, || table(&both).render().trim_end().to_string());
        }
    }
    Ok(())
}
