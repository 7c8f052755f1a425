//! `loyalty points …`: the loyalty ledger from the command line.
use crate::clients::Connection;
use loyalty_api::common::v1::{Money, RequestContext};
use loyalty_api::ledger::v1 as pb;
use loyalty_api::ledger::v1::ledger_service_client::LedgerServiceClient;
use loyalty_api::ledger::v1::record_purchase_request::Buyer;

#[derive(clap::Args)]
pub struct PointsArgs {
    #[command(flatten)]
    pub connection: Connection,
    #[command(subcommand)]
    pub command: PointsCommand,
}

#[derive(clap::Subcommand)]
pub enum PointsCommand {
    /// Balances in every state, next expiry and level.
    Balance { client_id: String },
    /// Operation history, newest first.
    History {
        client_id: String,
        #[arg(long, default_value_t = 30)]
        limit: i32,
    },
    /// Manual accrual (positive) or write-off (negative), with a comment.
    Adjust {
        client_id: String,
        #[arg(allow_hyphen_values = true)]
        points: i64,
        #[arg(long)]
        comment: String,
        /// Send the points-credited SMS.
        #[arg(long)]
        notify: bool,
    },
    /// Record a purchase by card number, e.g. `--amount 12.34`.
    Purchase {
        #[arg(long)]
        card: String,
        #[arg(long)]
        amount: String,
        #[arg(long, default_value = "")]
        store: String,
        #[arg(long, default_value_t = 0)]
        spend: i64,
    },
}

/// "12.34" -> 1234 minor units.
pub fn minor_units(text: &str) -> anyhow::Result<i64> {
    let (whole, fraction) = text.trim().split_once('.').unwrap_or((text.trim(), "0"));
    anyhow::ensure!(fraction.len() <= 2 && !whole.is_empty(), "amount {text:?}: write it like 12.34");
    let fraction = format!("{fraction:0<2}");
    Ok(whole.parse::<i64>()? * 100 + fraction.parse::<i64>()?)
}

fn show(b: &pb::Balance) {
    println!(
        "available {}  pending {}  reserved {}  used {}  expired {}  debt {}  level {}{}",
        b.available,
        b.pending,
        b.reserved,
        b.used,
        b.expired,
        b.debt,
        if b.level_name.is_empty() { "-" } else { &b.level_name },
        if b.blocked { "  BLOCKED" } else { "" }
    );
    if let Some(at) = &b.next_expiry_at {
        println!("next expiry: {} points at unix {}", b.next_expiry_points, at.seconds);
    }
}

fn key() -> Option<RequestContext> {
    Some(RequestContext { idempotency_key: format!("cli-{}", uuid_like()), ..Default::default() })
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{nanos:x}-{}", std::process::id())
}

pub async fn run(args: PointsArgs) -> anyhow::Result<()> {
    let mut api = LedgerServiceClient::with_interceptor(args.connection.channel().await?, args.connection.bearer()?);
    match args.command {
        PointsCommand::Balance { client_id } => {
            show(&api.get_balance(pb::GetBalanceRequest { client_id }).await?.into_inner())
        }
        PointsCommand::History { client_id, limit } => {
            let page = Some(loyalty_api::common::v1::PageRequest { page_size: limit, page_token: String::new() });
            let r =
                api.list_entries(pb::ListEntriesRequest { client_id, page, ..Default::default() }).await?.into_inner();
            for e in r.entries {
                let kind = pb::EntryKind::try_from(e.kind)
                    .map(|k| k.as_str_name().trim_start_matches("ENTRY_KIND_").to_lowercase())
                    .unwrap_or_default();
                println!(
                    "{:>12}  {kind:<20} {:>8}  {:<10} {}",
                    e.at.map(|t| t.seconds).unwrap_or(0),
                    e.points,
                    e.source,
                    e.comment
                );
            }
        }
        PointsCommand::Adjust { client_id, points, comment, notify } => {
            let req = pb::AdjustPointsRequest {
                context: key(),
                client_id,
                points,
                comment,
                notify_by_sms: notify,
                ..Default::default()
            };
            if let Some(b) = api.adjust_points(req).await?.into_inner().balance {
                show(&b);
            }
        }
        PointsCommand::Purchase { card, amount, store, spend } => {
            let req = pb::RecordPurchaseRequest {
                context: key(),
                buyer: Some(Buyer::CardNumber(card)),
                store_id: store,
                amount: Some(Money { minor_units: minor_units(&amount)?, currency: "EUR".into() }),
                payment_method: pb::PaymentMethod::Card as i32,
                points_to_spend: spend,
                ..Default::default()
            };
            let r = api.record_purchase(req).await?.into_inner();
            if let Some(p) = r.purchase {
                println!("purchase {}: earned {}, spent {}", p.id, p.points_earned, p.points_spent);
            }
            if let Some(b) = r.balance {
                show(&b);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_minor_units() {
        assert_eq!(minor_units("12.34").ok(), Some(1234));
        assert_eq!(minor_units("12.3").ok(), Some(1230));
        assert_eq!(minor_units("7").ok(), Some(700));
        assert!(minor_units("1.234").is_err());
        assert!(minor_units("abc").is_err());
    }
}
