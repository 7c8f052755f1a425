//! Between the wire and the ledger's types.
use crate::balances::View;
use crate::domain::programme::{Level, Programme, ReturnPolicy, Rounding, Validity};
use loyalty_api::ledger::v1 as pb;
use loyalty_platform::convert::to_timestamp;

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
    v.add_if(w.points_per_unit_milli < 0, &f("points_per_unit_milli"), "must be 0 or more");
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
        currency: if w.currency.is_empty() { "EUR".into() } else { w.currency.clone() },
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
    }
}
