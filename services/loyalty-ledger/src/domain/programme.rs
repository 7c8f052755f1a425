//! Programme rules (LE-2, LE-4, LE-9): how many points a purchase earns, when they activate and
//! expire, how much of a check points may pay.
use loyalty_platform::tz::TimeZone;
use serde::{Deserialize, Serialize};
use time::{Date, Duration, Month, OffsetDateTime};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    Down,
    HalfUp,
    Up,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validity {
    /// Days after activation.
    Days(u32),
    /// Until the end of the month N months after activation (0 = this month).
    EndOfMonth(u32),
    /// Until the end of the year N years after activation.
    EndOfYear(u32),
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnPolicy {
    /// Returns cancel only points not yet active.
    OnlyPending,
    /// Returns cancel earned points but never take the balance below zero.
    WithinBalance,
    /// The shortfall becomes a debt offset against future earnings.
    AllowDebt,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Level {
    pub id: String,
    pub name: String,
    /// Minor units of spend, or a purchase count, over the rolling period.
    pub threshold: i64,
    /// 10000 = x1.
    pub earn_multiplier_bp: u32,
    pub discount_bp: u32,
}

/// Stored as JSON per version; fields added later read their defaults from older versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Programme {
    pub version: i32,
    /// Thousandths of a point per whole currency unit (100 minor units).
    pub points_per_unit_milli: i64,
    /// Basis points of the amount's minor units.
    pub percent_of_amount_bp: i64,
    pub rounding: Rounding,
    pub activation_delay_days: u32,
    pub validity: Validity,
    pub max_redeem_share_bp: u32,
    pub min_balance_to_spend: i64,
    /// Ascending by threshold; the first has threshold 0.
    pub levels: Vec<Level>,
    /// Levels are reached by the number of purchases instead of their sum.
    pub level_by_purchases: bool,
    pub level_period_days: u32,
    pub return_policy: ReturnPolicy,
    /// Minor units one point is worth when spent, in thousandths (1000 = 1 cent).
    pub point_value_milli: i64,
    /// Default lifetime of reservations.
    pub reservation_ttl_seconds: u32,
    /// The points-credited notice (LE-3); {name}, {N} and {M} are replaced.
    pub credit_notice_template: String,
    /// The programme's currency: purchases in another one are refused.
    pub currency: String,
    /// Sanity limits the tenant sets: the largest check, in minor units, and the most points one
    /// manual adjustment may move.
    pub max_check_minor: i64,
    pub max_adjustment_points: i64,
}

impl Default for Programme {
    fn default() -> Self {
        Self {
            version: 1,
            points_per_unit_milli: 1000,
            percent_of_amount_bp: 0,
            rounding: Rounding::Down,
            activation_delay_days: 0,
            validity: Validity::Days(365),
            max_redeem_share_bp: 5000,
            min_balance_to_spend: 0,
            levels: vec![Level {
                id: "base".into(),
                name: "Base".into(),
                threshold: 0,
                earn_multiplier_bp: 10_000,
                discount_bp: 0,
            }],
            level_by_purchases: false,
            level_period_days: 365,
            return_policy: ReturnPolicy::WithinBalance,
            point_value_milli: 1000,
            reservation_ttl_seconds: 900,
            credit_notice_template: "{name}, you have been credited {N} points (balance {M}). Have a nice day!".into(),
            currency: "EUR".into(),
            max_check_minor: DEFAULT_MAX_CHECK_MINOR,
            max_adjustment_points: DEFAULT_MAX_ADJUSTMENT_POINTS,
        }
    }
}

/// A check of a million (in the currency's units, two decimals) is the default ceiling.
pub const DEFAULT_MAX_CHECK_MINOR: i64 = 100_000_000;
pub const DEFAULT_MAX_ADJUSTMENT_POINTS: i64 = 1_000_000;

fn round_div(numerator: i128, denominator: i128, rounding: Rounding) -> i128 {
    let (q, r) = (numerator.div_euclid(denominator), numerator.rem_euclid(denominator));
    match rounding {
        Rounding::Down => q,
        Rounding::Up if r > 0 => q + 1,
        Rounding::Up => q,
        Rounding::HalfUp if 2 * r >= denominator => q + 1,
        Rounding::HalfUp => q,
    }
}

impl Programme {
    /// Points a purchase of `amount_minor` earns at a level with `multiplier_bp`. Both rates add
    /// up; the multiplier applies to the sum; rounding happens once, at the end.
    pub fn earn(&self, amount_minor: i64, multiplier_bp: u32) -> i64 {
        if amount_minor <= 0 {
            return 0;
        }
        let amount = i128::from(amount_minor);
        // In millionths of a point: per-unit rate (milli-points per 100 minor units) and percentage.
        let per_unit = amount * i128::from(self.points_per_unit_milli) * 10; // (amount/100)*rate*1000
        let percent = amount * i128::from(self.percent_of_amount_bp) * 100; // amount*bp/10000*1e6
        let micro = (per_unit + percent) * i128::from(multiplier_bp) / 10_000;
        let points = round_div(micro, 1_000_000, self.rounding);
        i64::try_from(points.min(i128::from(loyalty_platform::money::MAX_POINTS))).unwrap_or(0)
    }

    /// The most points a check of `amount_minor` may be paid with.
    pub fn max_redeemable(&self, amount_minor: i64) -> i64 {
        if self.point_value_milli <= 0 || amount_minor <= 0 {
            return 0;
        }
        let payable_minor = i128::from(amount_minor) * i128::from(self.max_redeem_share_bp) / 10_000;
        i64::try_from(payable_minor * 1000 / i128::from(self.point_value_milli)).unwrap_or(i64::MAX)
    }

    /// When points earned at `earned_at` become available.
    pub fn activates_at(&self, earned_at: OffsetDateTime) -> OffsetDateTime {
        earned_at + Duration::days(i64::from(self.activation_delay_days))
    }

    /// When points activating at `active_from` expire (`None`: never). Month and year ends are the
    /// last instant of that day in the tenant's time zone `zone`: points earned at 00:30 in
    /// Vilnius on 1 February belong to February there.
    pub fn expires_at(&self, active_from: OffsetDateTime, zone: &TimeZone) -> Option<OffsetDateTime> {
        let local = loyalty_platform::tz::local_date(active_from, zone);
        match self.validity {
            Validity::Never => None,
            Validity::Days(days) => Some(active_from + Duration::days(i64::from(days))),
            Validity::EndOfMonth(months) => {
                let total = local.year() * 12 + i32::from(u8::from(local.month())) - 1 + months as i32;
                let (year, month) = (total.div_euclid(12), Month::try_from((total.rem_euclid(12) + 1) as u8).ok()?);
                let last = time::util::days_in_month(month, year);
                Some(loyalty_platform::tz::end_of_day(Date::from_calendar_date(year, month, last).ok()?, zone))
            }
            Validity::EndOfYear(years) => {
                let year = local.year() + years as i32;
                Some(loyalty_platform::tz::end_of_day(Date::from_calendar_date(year, Month::December, 31).ok()?, zone))
            }
        }
    }

    /// The points-credited notice for `name`, `points` and the new `balance` (LE-3).
    pub fn credit_notice(&self, name: &str, points: i64, balance: i64) -> String {
        self.credit_notice_template
            .replace("{name}", name)
            .replace("{N}", &points.to_string())
            .replace("{M}", &balance.to_string())
    }

    /// The level reached with `basis` (spend or purchases over the period).
    pub fn level_for(&self, basis: i64) -> Option<&Level> {
        self.levels.iter().rev().find(|l| basis >= l.threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn one_point_per_euro_rounds_down_by_default() {
        let p = Programme::default();
        assert_eq!(p.earn(12_345, 10_000), 123, "123.45 EUR earns 123 points");
        assert_eq!(p.earn(99, 10_000), 0);
        assert_eq!(p.earn(-500, 10_000), 0, "nothing for a negative amount");
    }

    #[test]
    fn percentage_rates_multipliers_and_rounding_combine() {
        let p = Programme {
            points_per_unit_milli: 0,
            percent_of_amount_bp: 300,
            rounding: Rounding::HalfUp,
            ..Default::default()
        };
        // 3 % of 1,250 minor units = 37.5 points -> 38 half up.
        assert_eq!(p.earn(1_250, 10_000), 38);
        // Gold x1.5: 56.25 -> 56.
        assert_eq!(p.earn(1_250, 15_000), 56);
        let up = Programme { rounding: Rounding::Up, ..p.clone() };
        assert_eq!(up.earn(1_250, 15_000), 57);
    }

    #[test]
    fn at_most_half_of_a_check_is_paid_with_points() {
        let p = Programme::default();
        assert_eq!(p.max_redeemable(10_000), 5_000, "100 EUR check, 1 cent per point, 50 %");
    }

    #[test]
    fn validity_ends_after_days_or_at_month_and_year_ends() {
        let from = datetime!(2026-01-30 10:00 UTC);
        let p = |validity| Programme { validity, ..Default::default() };
        let utc = TimeZone::UTC;
        assert_eq!(p(Validity::Days(30)).expires_at(from, &utc), Some(datetime!(2026-03-01 10:00 UTC)));
        assert_eq!(
            p(Validity::EndOfMonth(1)).expires_at(from, &utc),
            Some(datetime!(2026-02-28 23:59:59.999999999 UTC))
        );
        assert_eq!(
            p(Validity::EndOfMonth(11)).expires_at(from, &utc),
            Some(datetime!(2026-12-31 23:59:59.999999999 UTC))
        );
        assert_eq!(
            p(Validity::EndOfYear(1)).expires_at(from, &utc),
            Some(datetime!(2027-12-31 23:59:59.999999999 UTC))
        );
        assert_eq!(p(Validity::Never).expires_at(from, &utc), None);
    }

    #[test]
    fn month_ends_are_the_tenant_s_month_ends() {
        let vilnius = loyalty_platform::tz::parse("time_zone", "Europe/Vilnius").expect("zone");
        let p = Programme { validity: Validity::EndOfMonth(0), ..Default::default() };
        // 00:30 on 1 February in Vilnius (22:30 UTC on 31 January): February's points.
        let earned = datetime!(2026-01-31 22:30 UTC);
        assert_eq!(p.expires_at(earned, &vilnius), Some(datetime!(2026-02-28 21:59:59.999999999 UTC)));
        assert_eq!(p.expires_at(earned, &TimeZone::UTC), Some(datetime!(2026-01-31 23:59:59.999999999 UTC)));
        let year = Programme { validity: Validity::EndOfYear(0), ..Default::default() };
        assert_eq!(
            year.expires_at(datetime!(2026-12-31 22:30 UTC), &vilnius),
            Some(datetime!(2027-12-31 21:59:59.999999999 UTC))
        );
    }

    #[test]
    fn the_highest_threshold_reached_is_the_level() {
        let mut p = Programme::default();
        p.levels.push(Level {
            id: "silver".into(),
            name: "Silver".into(),
            threshold: 50_000,
            earn_multiplier_bp: 12_500,
            discount_bp: 300,
        });
        p.levels.push(Level {
            id: "gold".into(),
            name: "Gold".into(),
            threshold: 200_000,
            earn_multiplier_bp: 15_000,
            discount_bp: 500,
        });
        assert_eq!(p.level_for(0).map(|l| l.id.as_str()), Some("base"));
        assert_eq!(p.level_for(50_000).map(|l| l.id.as_str()), Some("silver"), "thresholds include their value");
        assert_eq!(p.level_for(10_000_000).map(|l| l.id.as_str()), Some("gold"));
    }
}
