//! The reports of seed 000 (SE-9): customer lifetime value per segment, retention by monthly
//! cohort, churn by the tenant's sleeping rule, segment performance, and points behaviour. Each is
//! a table whose columns say in words what they hold; money is written in major units with two
//! decimals ("123.45"), shares in percent with two decimals.
use super::bits::Bits;
use super::column::{Column, NONE};
use super::dashboard::{Granularity, buckets};
use super::evaluate::date_of;
use super::population::Population;
use super::segments::spend;
use super::tally;

/// A report: its columns (name, what it holds) and rows of cells.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub columns: Vec<(&'static str, &'static str)>,
    pub rows: Vec<Vec<String>>,
}

/// Minor units as major units with two decimals.
pub fn money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", minor.unsigned_abs() / 100, minor.unsigned_abs() % 100)
}

/// `part ÷ whole` in percent with two decimals ("" when `whole` is 0).
pub fn percent(part: i64, whole: i64) -> String {
    if whole == 0 {
        return String::new();
    }
    let bp = i128::from(part) * 10_000 / i128::from(whole);
    let sign = if bp < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", bp.unsigned_abs() / 100, bp.unsigned_abs() % 100)
}

/// `part ÷ whole` with two decimals, of plain numbers ("" when `whole` is 0).
fn ratio(part: i64, whole: i64) -> String {
    if whole == 0 { String::new() } else { money(part.saturating_mul(100) / whole) }
}

/// Money per item ("" when there are none).
fn per(minor: i64, items: i64) -> String {
    if items == 0 { String::new() } else { money(minor / items) }
}

fn month_label(day: i64) -> String {
    let d = date_of(day);
    format!("{:04}-{:02}", d.year(), u8::from(d.month()))
}

fn numbers<'a>(p: &'a Population, name: &str) -> &'a [i64] {
    p.clients.get(name).map(Column::numbers).unwrap_or(&[])
}

fn at(values: &[i64], r: usize) -> i64 {
    values.get(r).copied().filter(|v| *v != NONE).unwrap_or(0)
}

/// Lifetime value per group (all clients, then each segment), to date.
pub fn lifetime_value(p: &Population, seen: &Bits, groups: &[(String, Bits)]) -> Table {
    let (count, sum) = (numbers(p, tally::COUNT), numbers(p, tally::SUM));
    let mut rows = Vec::new();
    for (name, members) in groups {
        let (mut clients, mut revenue, mut purchases) = (0i64, 0i64, 0i64);
        for r in members.rows().filter(|r| seen.get(*r)) {
            clients += 1;
            revenue = revenue.saturating_add(at(sum, r));
            purchases += at(count, r);
        }
        rows.push(vec![
            name.clone(),
            clients.to_string(),
            money(revenue),
            per(revenue, clients),
            ratio(purchases, clients),
            per(revenue, purchases),
        ]);
    }
    Table {
        columns: vec![
            ("segment", "the segment: all clients, a saved segment, or a built-in one"),
            ("clients", "its members now"),
            ("revenue", "what they have spent, all time"),
            ("lifetime_value", "revenue per member"),
            ("purchases_per_client", "purchases per member, all time"),
            ("average_check", "revenue per purchase"),
        ],
        rows,
    }
}

/// Each seen client's purchase days, ascending.
fn purchase_days(p: &Population, seen: &Bits) -> Vec<Vec<i64>> {
    let mut days = vec![Vec::new(); p.len()];
    if let Some(rows) = p.tables.get("purchases") {
        for r in seen.rows() {
            days[r] = super::history::days_of(rows, r as u32);
        }
    }
    days
}

/// The month index (months since year 0) of a day.
fn month_index(day: i64) -> i64 {
    let d = date_of(day);
    i64::from(d.year()) * 12 + i64::from(u8::from(d.month())) - 1
}

/// How many later months the retention report follows a cohort.
pub const RETENTION_MONTHS: usize = 12;

/// Per month of first purchase in `from..=to`: the cohort's size and the share of it that bought
/// again in each of the 12 months after (empty past `to`).
pub fn retention(p: &Population, seen: &Bits, from: i64, to: i64) -> Table {
    let months = buckets(from, to, Granularity::Month);
    let first = numbers(p, tally::FIRST);
    let days = purchase_days(p, seen);
    let last_month = month_index(to);
    let mut cohorts: Vec<(i64, [i64; RETENTION_MONTHS])> = months.iter().map(|_| (0, [0; RETENTION_MONTHS])).collect();
    for r in seen.rows() {
        let f = at(first, r);
        if first.get(r).is_none_or(|v| *v == NONE) || f < from || f > to {
            continue;
        }
        let cohort = (month_index(f) - month_index(months[0].0)) as usize;
        cohorts[cohort].0 += 1;
        let mut seen_months = [false; RETENTION_MONTHS];
        for d in &days[r] {
            let k = month_index(*d) - month_index(f);
            if (1..=RETENTION_MONTHS as i64).contains(&k) {
                seen_months[k as usize - 1] = true;
            }
        }
        for (k, bought) in seen_months.iter().enumerate() {
            cohorts[cohort].1[k] += i64::from(*bought);
        }
    }
    let mut columns =
        vec![("cohort", "the month of the first purchase"), ("clients", "clients whose first purchase was then")];
    const LATER: [&str; RETENTION_MONTHS] = [
        "month_1", "month_2", "month_3", "month_4", "month_5", "month_6", "month_7", "month_8", "month_9", "month_10",
        "month_11", "month_12",
    ];
    columns.extend(LATER.iter().map(|m| (*m, "% of the cohort who bought in that month after the first")));
    let rows = months
        .iter()
        .zip(cohorts)
        .map(|((start, _), (size, back))| {
            let mut row = vec![month_label(*start), size.to_string()];
            for (k, n) in back.iter().enumerate() {
                let shown = month_index(*start) + (k as i64) < last_month;
                row.push(if shown { percent(*n, size) } else { String::new() });
            }
            row
        })
        .collect();
    Table { columns, rows }
}

/// Per month of `from..=to`: the spenders active at its start (bought within the `sleeping_days`
/// before), of them the ones asleep at its end (no purchase for `sleeping_days`), and the rate.
pub fn churn(p: &Population, seen: &Bits, sleeping_days: i64, from: i64, to: i64) -> Table {
    let days = purchase_days(p, seen);
    let months = buckets(from, to, Granularity::Month);
    let mut rows = Vec::new();
    for (start, end) in months {
        let start = start.max(from);
        let (mut active, mut churned) = (0i64, 0i64);
        for r in seen.rows() {
            let mine = &days[r];
            let before = mine.partition_point(|d| *d < start);
            let Some(&last) = before.checked_sub(1).and_then(|i| mine.get(i)) else { continue };
            if start - 1 - last >= sleeping_days {
                continue; // already asleep when the month began
            }
            active += 1;
            let upto = mine.partition_point(|d| *d <= end);
            let last_by_end = mine[upto - 1];
            if end - last_by_end >= sleeping_days {
                churned += 1;
            }
        }
        rows.push(vec![month_label(start), active.to_string(), churned.to_string(), percent(churned, active)]);
    }
    Table {
        columns: vec![
            ("month", "the month"),
            ("active_at_start", "spenders who had bought within the sleeping days before the month began"),
            ("churned", "of them, the ones with no purchase for the sleeping days at the month's end"),
            ("churn_rate", "churned ÷ active at start, %"),
        ],
        rows,
    }
}

/// Per segment: size now, what its members spent in `from..=to` and in the period as long just
/// before it, and the change.
pub fn segment_performance(p: &Population, seen: &Bits, groups: &[(String, Bits)], from: i64, to: i64) -> Table {
    let length = to - from + 1;
    let rows = groups
        .iter()
        .map(|(name, members)| {
            let mut m = members.clone();
            m.and(seen);
            let (now, before) = (spend(p, &m, from, to), spend(p, &m, from - length, from - 1));
            vec![
                name.clone(),
                m.count().to_string(),
                money(now.revenue),
                now.purchases.to_string(),
                per(now.revenue, now.purchases),
                money(before.revenue),
                percent(now.revenue - before.revenue, before.revenue),
            ]
        })
        .collect();
    Table {
        columns: vec![
            ("segment", "the segment"),
            ("size", "its members now"),
            ("revenue", "what they spent in the period"),
            ("purchases", "their purchases in the period"),
            ("average_check", "revenue per purchase"),
            ("revenue_previous_period", "what they spent in the as long period just before"),
            ("revenue_trend", "change against the previous period, %"),
        ],
        rows,
    }
}

/// Per UTC month of `from..=to`: points earned, used and expired, the clients who earned and who
/// spent points, and the share used; then a row "now" with the clients by tendency (savers use under 25 % of what they
/// earned, spenders over 75 %, the rest are balanced).
pub fn points(p: &Population, seen: &Bits, from: i64, to: i64) -> Table {
    let mut rows = Vec::new();
    for (start, _) in buckets(from, to, Granularity::Month) {
        let m = p.points_months.get(&start).cloned().unwrap_or_default();
        let clients = |b: &Bits| b.rows().filter(|r| p.live.get(*r)).count().to_string();
        rows.push(vec![
            month_label(start),
            m.earned.to_string(),
            m.used.to_string(),
            m.expired.to_string(),
            clients(&m.earners),
            clients(&m.users),
            percent(m.used, m.earned),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    let (used, earned) = (numbers(p, "ledger.used"), numbers(p, "ledger.earned_total"));
    let mut tendency = [0i64; 3];
    for r in seen.rows() {
        let e = at(earned, r);
        if e <= 0 {
            continue;
        }
        let share = at(used, r) * 100 / e;
        tendency[if share < 25 {
            0
        } else if share <= 75 {
            1
        } else {
            2
        }] += 1;
    }
    let mut now = vec!["now".to_string()];
    now.extend(std::iter::repeat_n(String::new(), 6));
    now.extend(tendency.iter().map(i64::to_string));
    rows.push(now);
    Table {
        columns: vec![
            ("month", "the month, or \"now\" for the tendency row"),
            ("points_earned", "points earned by every client that month"),
            ("points_used", "points spent"),
            ("points_expired", "points that expired"),
            ("earning_clients", "clients who earned points that month"),
            ("redeeming_clients", "clients who spent points that month: how widely points are redeemed"),
            ("used_share", "points used ÷ points earned, %"),
            ("savers", "clients who used under 25 % of the points they earned (row \"now\")"),
            ("balanced", "clients who used 25 to 75 %"),
            ("spenders", "clients who used over 75 %"),
        ],
        rows,
    }
}

#[cfg(test)]
mod tests;
