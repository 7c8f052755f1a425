//! `loyalty points …`: the loyalty ledger from the command line.
use crate::clients::Write;
use crate::connection::Connection;
use crate::format::{self, Tenant};
use crate::output::{Output, Table};
use loyalty_api::common::v1::Money;
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
    /// Balances in every state, the next expiry and the level.
    Balance {
        /// The client's id (or --card).
        #[arg(required_unless_present = "card")]
        client_id: Option<String>,
        /// The card the client shows at the till, instead of the id.
        #[arg(long)]
        card: Option<String>,
    },
    /// Operation history, newest first.
    History {
        /// The client's id.
        client_id: String,
        /// How many entries to show at most.
        #[arg(long, default_value_t = 30)]
        limit: i32,
    },
    /// Manual accrual (positive) or write-off (negative), with a comment.
    Adjust {
        /// The client's id.
        client_id: String,
        /// Points: 50 accrues, -50 writes off.
        #[arg(allow_hyphen_values = true)]
        points: i64,
        /// Why (required; shown in the history).
        #[arg(long)]
        comment: String,
        /// Send the points-credited SMS.
        #[arg(long)]
        notify: bool,
        #[command(flatten)]
        write: Write,
    },
    /// Record a purchase at the till by card number, e.g. `--amount 12.34`.
    Purchase {
        /// The card the buyer shows.
        #[arg(long)]
        card: String,
        /// The check's amount, e.g. 12.34.
        #[arg(long)]
        amount: String,
        /// ISO 4217 currency of the amount; the tenant's currency when not given.
        #[arg(long)]
        currency: Option<String>,
        /// The store the till is in.
        #[arg(long, default_value = "")]
        store: String,
        /// The check number at the till (each store's check is recorded once).
        #[arg(long, default_value = "")]
        check: String,
        /// Points the buyer pays with.
        #[arg(long, default_value_t = 0)]
        spend: i64,
        #[command(flatten)]
        write: Write,
    },
}

/// "12.34" -> 1234 minor units (for a currency with `digits` decimals).
pub fn minor_units(text: &str, digits: u8) -> anyhow::Result<i64> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = usize::from(digits);
    anyhow::ensure!(
        !whole.is_empty()
            && fraction.len() <= digits
            && whole.chars().chain(fraction.chars()).all(|c| c.is_ascii_digit()),
        "amount {text:?}: write it like 12.34 (at most {digits} decimals)"
    );
    let scale = 10_i64.pow(digits as u32);
    let whole: i64 = whole.parse().map_err(|_| anyhow::anyhow!("amount {text:?} is too large"))?;
    let fraction: i64 = if digits == 0 { 0 } else { format!("{fraction:0<digits$}").parse()? };
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(|| anyhow::anyhow!("amount {text:?} is too large"))
}

fn show(b: &pb::Balance, tenant: &Tenant) -> String {
    let mut t = Table::new(&["available", "pending", "reserved", "used", "expired", "debt", "level"]);
    let level = if b.level_name.is_empty() { "-".to_string() } else { b.level_name.clone() };
    t.row(
        [b.available, b.pending, b.reserved, b.used, b.expired, b.debt]
            .iter()
            .map(i64::to_string)
            .chain([level])
            .collect(),
    );
    let mut text = t.render().trim_end().to_string();
    if b.next_expiry_at.is_some() {
        text.push_str(&format!(
            "\nnext expiry: {} points on {}",
            b.next_expiry_points,
            tenant.time(b.next_expiry_at.as_ref())
        ));
    }
    if b.blocked {
        text.push_str("\nblocked: no earning or spending");
    }
    text
}

pub async fn run(args: PointsArgs, out: &Output) -> anyhow::Result<()> {
    let mut api = LedgerServiceClient::new(args.connection.authed().await?);
    let tenant = Tenant::of(&args.connection).await;
    match args.command {
        PointsCommand::Balance { client_id, card } => {
            let request = pb::GetBalanceRequest {
                client_id: client_id.unwrap_or_default(),
                card_number: card.unwrap_or_default(),
            };
            let b = api.get_balance(request).await?.into_inner();
            out.one(&b, || show(&b, &tenant));
        }
        PointsCommand::History { client_id, limit } => {
            let page = Some(loyalty_api::common::v1::PageRequest { page_size: limit, page_token: String::new() });
            let r =
                api.list_entries(pb::ListEntriesRequest { client_id, page, ..Default::default() }).await?.into_inner();
            let mut t = Table::new(&["when", "what", "points", "source", "comment"]);
            for e in &r.entries {
                let kind = pb::EntryKind::try_from(e.kind)
                    .map(|k| format::word(k.as_str_name(), "ENTRY_KIND_"))
                    .unwrap_or_default();
                t.row(vec![
                    tenant.time(e.at.as_ref()),
                    kind,
                    format!("{:+}", e.points),
                    e.source.clone(),
                    e.comment.clone(),
                ]);
            }
            out.list(&r.entries, || t, "");
        }
        PointsCommand::Adjust { client_id, points, comment, notify, write } => {
            let req = pb::AdjustPointsRequest {
                context: write.context(),
                client_id,
                points,
                comment,
                notify_by_sms: notify,
                ..Default::default()
            };
            let r = api.adjust_points(req).await?.into_inner();
            out.one(&r, || r.balance.as_ref().map(|b| show(b, &tenant)).unwrap_or_default());
        }
        PointsCommand::Purchase { card, amount, currency, store, check, spend, write } => {
            let currency = match currency {
                Some(code) => loyalty_platform::Currency::known(&code.to_uppercase()).ok_or_else(|| {
                    anyhow::anyhow!("--currency {code:?} is not an ISO 4217 currency code (EUR, PLN, RON…)")
                })?,
                None => tenant.currency,
            };
            let minor = minor_units(&amount, currency.minor_digits())?;
            let req = pb::RecordPurchaseRequest {
                context: write.context(),
                buyer: Some(Buyer::CardNumber(card)),
                store_id: store,
                check_id: check,
                amount: Some(Money { minor_units: minor, currency: currency.code().into() }),
                payment_method: pb::PaymentMethod::Card as i32,
                points_to_spend: spend,
                ..Default::default()
            };
            let r = api.record_purchase(req).await?.into_inner();
            out.one(&r, || {
                let p = r.purchase.clone().unwrap_or_default();
                let head = format!(
                    "purchase of {} at {}: earned {}, spent {}{}",
                    format::money(p.amount.as_ref(), currency),
                    tenant.time(p.purchased_at.as_ref()),
                    p.points_earned,
                    p.points_spent,
                    if r.replayed { " (a retry: applied once)" } else { "" }
                );
                format!("{head}\n{}", r.balance.as_ref().map(|b| show(b, &tenant)).unwrap_or_default())
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_minor_units_of_their_currency() {
        assert_eq!(minor_units("12.34", 2).ok(), Some(1234));
        assert_eq!(minor_units("12.3", 2).ok(), Some(1230));
        assert_eq!(minor_units("7", 2).ok(), Some(700));
        assert_eq!(minor_units("500", 0).ok(), Some(500), "yen have no decimals");
        assert!(minor_units("1.234", 2).is_err());
        assert!(minor_units("-1", 2).is_err());
        assert!(minor_units("abc", 2).is_err());
        assert!(minor_units("99999999999999999999", 2).is_err());
    }
}
