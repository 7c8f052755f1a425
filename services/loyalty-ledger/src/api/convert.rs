//! Between the wire and the ledger's types: every value a caller sends is read here, with its
//! bounds, and every problem reported at once.
use crate::domain::programme::{
    DEFAULT_MAX_ADJUSTMENT_POINTS, DEFAULT_MAX_CHECK_MINOR, Level, Programme, ReturnPolicy, Rounding, Validity,
};
use crate::domain::purchase::Line;
use crate::store::balances::View;
use loyalty_api::ledger::v1 as pb;
use loyalty_platform::convert::{from_timestamp, to_timestamp};
use loyalty_platform::error::{ApiError, ApiResult, Violations};
use loyalty_platform::money::{MAX_MINOR, MAX_POINTS};
use loyalty_platform::{Currency, Money};
use time::{Duration, OffsetDateTime};

pub fn programme_to_wire(p: &Programme) -> pb::Programme {
    use pb::validity::Rule;
    pb::Programme {
        version: p.version,
        effective_from: None,
        points_per_unit_milli: p.points_per_unit_milli,
        percent_of_amount_bp: p.percent_of_amount_bp as i32,
        rounding: match p.rounding {
            Rounding::Down => pb::Rounding::Down,
            Rounding::HalfUp => pb::Rounding::HalfUp,
            Rounding::Up => pb::Rounding::Up,
        } as i32,
        activation_delay_days: p.activation_delay_days as i32,
        validity: Some(pb::Validity {
            rule: Some(match p.validity {
                Validity::Days(d) => Rule::Days(d as i32),
                Validity::EndOfMonth(m) => Rule::EndOfMonthAfterMonths(m as i32),
                Validity::EndOfYear(y) => Rule::EndOfYearAfterYears(y as i32),
                Validity::Never => Rule::Never(true),
            }),
        }),
        max_redeem_share_bp: p.max_redeem_share_bp as i32,
        min_balance_to_spend: p.min_balance_to_spend,
        level_basis: if p.level_by_purchases { pb::LevelBasis::Purchases } else { pb::LevelBasis::Spend } as i32,
        level_period_days: p.level_period_days as i32,
        levels: p
            .levels
            .iter()
            .map(|l| pb::Level {
                id: l.id.clone(),
                name: l.name.clone(),
                threshold: l.threshold,
                earn_multiplier_bp: l.earn_multiplier_bp as i32,
                discount_bp: l.discount_bp as i32,
            })
            .collect(),
        return_policy: match p.return_policy {
            ReturnPolicy::OnlyPending => pb::ReturnPolicy::OnlyPending,
            ReturnPolicy::WithinBalance => pb::ReturnPolicy::WithinBalance,
            ReturnPolicy::AllowDebt => pb::ReturnPolicy::AllowDebt,
        } as i32,
        point_value_milli: p.point_value_milli,
        reservation_ttl_seconds: p.reservation_ttl_seconds as i32,
        credit_notice_template: p.credit_notice_template.clone(),
        currency: p.currency.clone(),
        max_check_minor: p.max_check_minor,
        max_adjustment_points: p.max_adjustment_points,
    }
}

fn non_negative(v: &mut loyalty_platform::error::Violations, field: &str, value: i64) -> u32 {
    u32::try_from(value).unwrap_or_else(|_| {
        v.add(field, "must be 0 or more");
        0
    })
}

/// Reads programme rules from the wire, every problem at once.
pub fn programme_from_wire(w: &pb::Programme) -> Result<Programme, loyalty_platform::error::Violations> {
    use pb::validity::Rule;
    let mut v = loyalty_platform::error::Violations::new();
    let f = |name: &str| format!("programme.{name}");
    v.add_if(
        !(0..=1_000_000_000).contains(&w.points_per_unit_milli),
        &f("points_per_unit_milli"),
        "must be between 0 and 1000000000 (a million points per unit)",
    );
    v.add_if(!(0..=MAX_MINOR).contains(&w.max_check_minor), &f("max_check_minor"), "must be between 0 and 10^14");
    v.add_if(
        !(0..=MAX_POINTS).contains(&w.max_adjustment_points),
        &f("max_adjustment_points"),
        "must be between 0 and 10^12",
    );
    v.add_if(
        !(0..=1_000_000_000).contains(&w.point_value_milli),
        &f("point_value_milli"),
        "must be between 0 and 1000000000",
    );
    let currency = if w.currency.is_empty() { Some(Currency::EUR) } else { Currency::known(&w.currency) };
    v.add_if(currency.is_none(), &f("currency"), "is not an ISO 4217 currency code in circulation (EUR, PLN, RON…)");
    let validity = match w.validity.as_ref().and_then(|x| x.rule) {
        Some(Rule::Days(d)) if d > 0 => Validity::Days(d as u32),
        Some(Rule::EndOfMonthAfterMonths(m)) if m >= 0 => Validity::EndOfMonth(m as u32),
        Some(Rule::EndOfYearAfterYears(y)) if y >= 0 => Validity::EndOfYear(y as u32),
        Some(Rule::Never(_)) => Validity::Never,
        None => Validity::Days(365),
        _ => {
            v.add(f("validity"), "days must be 1 or more; months and years 0 or more");
            Validity::Days(365)
        }
    };
    let mut levels: Vec<Level> = w
        .levels
        .iter()
        .enumerate()
        .map(|(i, l)| Level {
            id: l.id.clone(),
            name: l.name.clone(),
            threshold: l.threshold,
            earn_multiplier_bp: non_negative(
                &mut v,
                &format!("programme.levels[{i}].earn_multiplier_bp"),
                i64::from(l.earn_multiplier_bp),
            ),
            discount_bp: non_negative(&mut v, &format!("programme.levels[{i}].discount_bp"), i64::from(l.discount_bp)),
        })
        .collect();
    if levels.is_empty() {
        levels = Programme::default().levels;
    }
    v.add_if(levels.first().is_some_and(|l| l.threshold != 0), &f("levels"), "the first level starts at threshold 0");
    v.add_if(levels.windows(2).any(|p| p[0].threshold >= p[1].threshold), &f("levels"), "thresholds must ascend");
    v.add_if(levels.iter().any(|l| l.id.is_empty()), &f("levels"), "every level needs an id");
    let share = non_negative(&mut v, &f("max_redeem_share_bp"), i64::from(w.max_redeem_share_bp));
    v.add_if(share > 10_000, &f("max_redeem_share_bp"), "must be at most 10000 (100 %)");
    let template = if w.credit_notice_template.is_empty() {
        Programme::default().credit_notice_template
    } else {
        w.credit_notice_template.clone()
    };
    let programme = Programme {
        version: 0,
        points_per_unit_milli: w.points_per_unit_milli,
        percent_of_amount_bp: i64::from(non_negative(
            &mut v,
            &f("percent_of_amount_bp"),
            i64::from(w.percent_of_amount_bp),
        )),
        rounding: match pb::Rounding::try_from(w.rounding) {
            Ok(pb::Rounding::HalfUp) => Rounding::HalfUp,
            Ok(pb::Rounding::Up) => Rounding::Up,
            _ => Rounding::Down,
        },
        activation_delay_days: non_negative(&mut v, &f("activation_delay_days"), i64::from(w.activation_delay_days)),
        validity,
        max_redeem_share_bp: share,
        min_balance_to_spend: i64::from(non_negative(&mut v, &f("min_balance_to_spend"), w.min_balance_to_spend)),
        levels,
        level_by_purchases: w.level_basis == pb::LevelBasis::Purchases as i32,
        level_period_days: match w.level_period_days {
            0 => 365,
            d => non_negative(&mut v, &f("level_period_days"), i64::from(d)),
        },
        return_policy: match pb::ReturnPolicy::try_from(w.return_policy) {
            Ok(pb::ReturnPolicy::OnlyPending) => ReturnPolicy::OnlyPending,
            Ok(pb::ReturnPolicy::AllowDebt) => ReturnPolicy::AllowDebt,
            _ => ReturnPolicy::WithinBalance,
        },
        point_value_milli: if w.point_value_milli == 0 { 1000 } else { w.point_value_milli },
        reservation_ttl_seconds: if w.reservation_ttl_seconds == 0 {
            900
        } else {
            non_negative(&mut v, &f("reservation_ttl_seconds"), i64::from(w.reservation_ttl_seconds))
        },
        credit_notice_template: template,
        currency: currency.unwrap_or(Currency::EUR).code().to_string(),
        max_check_minor: if w.max_check_minor == 0 { DEFAULT_MAX_CHECK_MINOR } else { w.max_check_minor },
        max_adjustment_points: if w.max_adjustment_points == 0 {
            DEFAULT_MAX_ADJUSTMENT_POINTS
        } else {
            w.max_adjustment_points
        },
    };
    if v.is_empty() { Ok(programme) } else { Err(v) }
}

pub fn balance(client_id: &str, view: &View, level_name: &str, discount_bp: u32) -> pb::Balance {
    let b = &view.balance;
    pb::Balance {
        client_id: client_id.to_string(),
        available: b.available,
        pending: b.pending,
        reserved: b.reserved,
        used: b.used,
        expired: b.expired,
        debt: b.debt,
        next_expiry_at: view.next_expiry_at.map(to_timestamp),
        next_expiry_points: view.next_expiry_points,
        level_id: view.level_id.clone(),
        level_name: level_name.to_string(),
        discount_bp: discount_bp as i32,
        blocked: view.blocked,
        cancelled: b.cancelled,
        earned_total: view.activity.earned_total,
        last_accrual_at: view.activity.last_accrual_at.map(to_timestamp),
        last_write_off_at: view.activity.last_write_off_at.map(to_timestamp),
    }
}

/// The quantity a line may hold at most: a million pieces (in thousandths).
const MAX_QUANTITY_MILLI: i64 = 1_000_000_000;

/// A purchase as the caller sent it, read and checked.
pub struct PurchaseInput {
    pub amount: Money,
    pub lines: Vec<Line>,
    pub purchased_at: OffsetDateTime,
    pub points_to_spend: i64,
    pub payment_method: String,
}

/// Reads one line; a line amount defaults to quantity × unit price, computed wide and refused
/// when it does not fit.
fn line(i: usize, l: &pb::PurchaseLine, currency: &str, v: &mut Violations) -> Line {
    let f = |name: &str| format!("lines[{i}].{name}");
    let money = |m: &Option<loyalty_api::common::v1::Money>, field: &str, v: &mut Violations| {
        let m = m.clone().unwrap_or_default();
        if !m.currency.is_empty() && m.currency != currency {
            v.add(f(&format!("{field}.currency")), format!("must be the check's currency {currency}"));
        }
        if !(0..=MAX_MINOR).contains(&m.minor_units) {
            v.add(f(&format!("{field}.minor_units")), "must be 0 or more, and at most 10^14");
        }
        m.minor_units
    };
    let unit = money(&l.unit_price, "unit_price", v);
    if !(1..=MAX_QUANTITY_MILLI).contains(&l.quantity_milli) {
        v.add(f("quantity_milli"), "must be more than 0 and at most 1000000000 (a million pieces)");
    }
    let amount = if l.amount.is_some() {
        money(&l.amount, "amount", v)
    } else {
        match loyalty_platform::money::mul_div(unit, l.quantity_milli, 1000).filter(|a| *a <= MAX_MINOR) {
            Some(amount) => amount,
            None => {
                v.add(f("amount"), "quantity × unit price is too large to be a check line");
                0
            }
        }
    };
    Line {
        line_no: if l.line_no == 0 { i as i32 + 1 } else { l.line_no },
        sku: l.sku.clone(),
        name: l.name.clone(),
        category: l.category.clone(),
        quantity_milli: l.quantity_milli,
        unit_price_minor: unit,
        amount_minor: amount,
        returned_quantity_milli: 0,
    }
}

/// Reads a purchase: the amount with its currency, the lines (adding up to it, each line number
/// once), the time (a manual one in the past), the points to spend.
pub fn purchase_input(body: &pb::RecordPurchaseRequest, now: OffsetDateTime, manual: bool) -> ApiResult<PurchaseInput> {
    let mut v = Violations::new();
    let wire = body.amount.clone().unwrap_or_default();
    let amount = match Money::parse("amount", wire.minor_units, &wire.currency) {
        Ok(m) => Some(m),
        Err(ApiError::InvalidArgument(e)) => {
            v.extend(e);
            None
        }
        Err(other) => return Err(other),
    };
    v.add_if(wire.minor_units <= 0, "amount.minor_units", "must be more than 0");
    v.add_if(
        !(0..=MAX_POINTS).contains(&body.points_to_spend),
        "points_to_spend",
        "must be 0 or more, and at most 10^12",
    );
    let purchased_at = match &body.purchased_at {
        Some(t) => v.take("purchased_at", from_timestamp(t).ok_or("is out of range")),
        None => None,
    };
    if manual {
        v.add_if(purchased_at.is_none_or(|t| t > now), "purchased_at", "a manual purchase needs a date in the past");
    } else {
        v.add_if(purchased_at.is_some_and(|t| t > now + Duration::minutes(5)), "purchased_at", "is in the future");
    }
    let lines: Vec<Line> = body.lines.iter().enumerate().map(|(i, l)| line(i, l, &wire.currency, &mut v)).collect();
    for (i, l) in lines.iter().enumerate() {
        if lines[..i].iter().any(|o| o.line_no == l.line_no) {
            v.add(format!("lines[{i}].line_no"), format!("line number {} is used twice", l.line_no));
        }
    }
    if !lines.is_empty() {
        let sum = lines.iter().try_fold(0i64, |s, l| s.checked_add(l.amount_minor));
        match sum {
            Some(sum) if sum == wire.minor_units => {}
            Some(sum) => v.add("lines", format!("add up to {sum}, not the check's amount of {}", wire.minor_units)),
            None => v.add("lines", "add up to more than any check can hold"),
        }
    }
    v.into_result()?;
    let payment_method = pb::PaymentMethod::try_from(body.payment_method)
        .map(|m| m.as_str_name().trim_start_matches("PAYMENT_METHOD_").to_lowercase())
        .unwrap_or_default();
    Ok(PurchaseInput {
        amount: amount.ok_or_else(|| ApiError::field("amount", "is required"))?,
        lines,
        purchased_at: purchased_at.unwrap_or(now),
        points_to_spend: body.points_to_spend,
        payment_method,
    })
}

/// INVALID_ARGUMENT unless the check fits the programme: its currency, its sanity limit.
pub fn check_against(programme: &Programme, amount: &Money) -> ApiResult<()> {
    let mut v = Violations::new();
    if amount.currency().code() != programme.currency {
        v.add("amount.currency", format!("must be the programme's currency {}", programme.currency));
    }
    if amount.minor() > programme.max_check_minor {
        let limit = loyalty_platform::money::format_minor(programme.max_check_minor, amount.currency());
        v.add("amount.minor_units", format!("is above the programme's limit for one check ({limit})"));
    }
    Ok(v.into_result()?)
}

/// The wire balance of `view`, its level named by `programme`.
pub fn balance_with_level(client_id: &str, view: &View, programme: &Programme) -> pb::Balance {
    let level = programme.levels.iter().find(|l| l.id == view.level_id);
    balance(client_id, view, level.map(|l| l.name.as_str()).unwrap_or(""), level.map(|l| l.discount_bp).unwrap_or(0))
}
