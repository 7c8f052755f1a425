//! What a purchase does to an account (LE-2, LE-4, LE-6, LE-9), decided without a database: points
//! are earned on the part paid with money, at the level held before the purchase; points the
//! client pays with leave first-expiring-first; the level after the purchase is computed.
use super::account::{Account, Insufficient, LotChange};
use super::programme::Programme;
use loyalty_platform::error::ApiError;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// One line of a check, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Line {
    pub line_no: i32,
    pub sku: String,
    pub name: String,
    pub category: String,
    pub quantity_milli: i64,
    pub unit_price_minor: i64,
    pub amount_minor: i64,
    /// Returned so far (LE-7).
    pub returned_quantity_milli: i64,
}

/// Why a purchase cannot be recorded as asked.
#[derive(Debug, PartialEq, Eq)]
pub enum PurchaseError {
    Blocked,
    Insufficient(Insufficient),
    /// More points than the programme lets pay for this check.
    OverShare {
        max: i64,
    },
    /// The balance is below the programme's minimum for spending.
    BelowMinimum {
        min: i64,
    },
}

impl From<PurchaseError> for ApiError {
    fn from(e: PurchaseError) -> Self {
        ApiError::FailedPrecondition(match e {
            PurchaseError::Blocked => "the client is blocked: no earning or spending".into(),
            PurchaseError::Insufficient(i) => {
                format!("insufficient points: {} available, {} wanted", i.available, i.wanted)
            }
            PurchaseError::OverShare { max } => format!("at most {max} points may pay this check"),
            PurchaseError::BelowMinimum { min } => format!("spending needs a balance of at least {min} points"),
        })
    }
}

/// What the purchase asks of the account.
pub struct Basket {
    pub amount_minor: i64,
    pub points_to_spend: i64,
    pub purchased_at: OffsetDateTime,
}

/// What the purchase did to the account.
#[derive(Debug)]
pub struct Decision {
    /// Lots that activated or expired on the way, and the points spent, in order.
    pub changes: Vec<LotChange>,
    pub earned: i64,
    pub spent: i64,
    /// The lot the earned points went to, and the debt paid from it.
    pub lot: Option<u64>,
    pub debt_paid: Vec<LotChange>,
    /// The level after the purchase.
    pub level_id: String,
}

/// The start of the level period a purchase at `at` counts in.
pub fn level_period_start(programme: &Programme, at: OffsetDateTime) -> OffsetDateTime {
    at - Duration::days(i64::from(programme.level_period_days))
}

/// Decides the purchase on `account` (locked, advanced to `now` here); `basis_before` is the
/// client's level basis over the period before it; `zone` is the tenant's time zone.
pub fn decide(
    account: &mut Account,
    (blocked, programme, zone): (bool, &Programme, &loyalty_platform::tz::TimeZone),
    basket: &Basket,
    basis_before: i64,
    now: OffsetDateTime,
) -> Result<Decision, PurchaseError> {
    if blocked {
        return Err(PurchaseError::Blocked);
    }
    let mut changes = account.advance(now);
    let spent = basket.points_to_spend.max(0);
    if spent > 0 {
        let max = programme.max_redeemable(basket.amount_minor);
        if spent > max {
            return Err(PurchaseError::OverShare { max });
        }
        if account.balance().available < programme.min_balance_to_spend {
            return Err(PurchaseError::BelowMinimum { min: programme.min_balance_to_spend });
        }
        changes.extend(account.spend(spent).map_err(PurchaseError::Insufficient)?);
    }
    let multiplier = programme.level_for(basis_before).map(|l| l.earn_multiplier_bp).unwrap_or(10_000);
    let paid_with_points =
        loyalty_platform::money::mul_div(spent, programme.point_value_milli, 1000).unwrap_or(i64::MAX);
    let earned = programme.earn(basket.amount_minor.saturating_sub(paid_with_points), multiplier);
    let (lot, debt_paid) = if earned > 0 {
        let activates = programme.activates_at(basket.purchased_at);
        let (lot, paid) = account.earn(earned, activates, programme.expires_at(activates, zone), now);
        (Some(lot), paid)
    } else {
        (None, Vec::new())
    };
    // This purchase is inside its own level period, so it adds to the basis as it stands.
    let added = if programme.level_by_purchases { 1 } else { basket.amount_minor };
    let level_id = programme.level_for(basis_before.saturating_add(added)).map(|l| l.id.clone()).unwrap_or_default();
    Ok(Decision { changes, earned, spent, lot, debt_paid, level_id })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn basket(amount: i64, spend: i64) -> Basket {
        Basket { amount_minor: amount, points_to_spend: spend, purchased_at: datetime!(2026-03-01 12:00 UTC) }
    }

    #[test]
    fn points_are_earned_on_what_money_paid_and_spending_is_capped_by_the_share() {
        let now = datetime!(2026-03-01 12:00 UTC);
        let programme = Programme::default();
        let utc = loyalty_platform::tz::TimeZone::UTC;
        let mut account = Account::default();
        account.earn(1_000, now, None, now);
        let d = decide(&mut account, (false, &programme, &utc), &basket(10_000, 200), 0, now).expect("decided");
        assert_eq!((d.spent, d.earned), (200, 98), "100.00 EUR minus 2.00 paid with points earns 98");
        let over = decide(&mut account, (false, &programme, &utc), &basket(1_000, 600), 0, now);
        assert_eq!(over.err(), Some(PurchaseError::OverShare { max: 500 }));
        let blocked = decide(&mut account, (true, &programme, &utc), &basket(1_000, 0), 0, now);
        assert_eq!(blocked.err(), Some(PurchaseError::Blocked));
    }
}
