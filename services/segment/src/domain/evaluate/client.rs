//! Conditions on the client's own facts: a column per fact, a few computed from others (age, days
//! in the programme, the share of earned points used), tags, and membership of saved segments.
use super::{Context, month_day, number};
use crate::domain::bits::Bits;
use crate::domain::column::{Column, NONE};
use crate::domain::facts::FactInfo;
use crate::domain::population::Population;
use loyalty_api::filter::v1::{Condition, FactType, Operator, Value, value};

pub fn condition(p: &Population, fact: &FactInfo, c: &Condition, cx: &Context<'_>, within: &Bits) -> Bits {
    let op = super::operator(c);
    if fact.name == "segments" {
        return segments(p, op, &c.values, cx, within);
    }
    if fact.name == "client.id" {
        return client_ids(p, op, &c.values, within);
    }
    match fact.kind {
        FactType::Text | FactType::Id | FactType::Enum => match p.clients.get(fact.name) {
            Some(column) => text(within, column, op, &normalised(fact, &c.values, cx)),
            None => missing(within, op),
        },
        FactType::Set => match p.clients.get(fact.name) {
            Some(column) => set(within, column, op, &texts(&c.values)),
            None => missing(within, op),
        },
        _ => {
            let scale = if matches!(fact.kind, FactType::Money | FactType::Decimal) { 100 } else { 1 };
            let stored = |name: &str| p.clients.get(name).map(Column::numbers).unwrap_or(&[]);
            let today = cx.today;
            match fact.name {
                "client.age" => ages(within, stored("client.birth_date"), op, &c.values, today),
                "client.days_in_programme" => {
                    let joined = stored("client.registered_at");
                    numbers(within, |r| at(joined, r).map(|d| today - d), op, &c.values, scale, today)
                }
                "ledger.used_share" => {
                    let (used, earned) = (stored("ledger.used"), stored("ledger.earned_total"));
                    let share = |r: usize| {
                        let (u, e) = (at(used, r)?, at(earned, r)?);
                        (e > 0).then(|| u.saturating_mul(10_000) / e)
                    };
                    numbers(within, share, op, &c.values, scale, today)
                }
                name => {
                    let column = stored(name);
                    numbers(within, |r| at(column, r), op, &c.values, scale, today)
                }
            }
        }
    }
}

/// A number of a slice, `None` for [`NONE`].
pub fn at(values: &[i64], r: usize) -> Option<i64> {
    values.get(r).copied().filter(|v| *v != NONE)
}

/// An age condition as a condition on the birth date: "age >= 30" is "born on or before the day
/// 30 years ago", so no row's age is computed.
pub fn ages(within: &Bits, born: &[i64], op: Operator, values: &[Value], today: i64) -> Bits {
    use Operator as O;
    let years = |i: usize| values.get(i).and_then(|v| number(v, 1));
    // The last birth day of someone `n` years old today.
    let aged = |n: i64| years_ago(today, n);
    let range = |lo: Option<i64>, hi: Option<i64>| -> Option<(i64, i64)> {
        // Born after the day hi+1 years ago and on or before the day lo years ago.
        Some((aged(hi? + 1) + 1, aged(lo?)))
    };
    let selecting = |b: Option<(i64, i64)>| match b {
        Some((from, to)) => Bits::from_fn_within(within, |r| at(born, r).is_some_and(|d| from <= d && d <= to)),
        None => Bits::none(within.len()),
    };
    match op {
        O::Equal => selecting(range(years(0), years(0))),
        O::NotEqual => {
            let mut b = selecting(range(years(0), years(0)));
            b.not_within(within);
            b
        }
        O::Between => selecting(range(years(0), years(1))),
        O::GreaterOrEqual => selecting(years(0).map(|n| (i64::MIN + 1, aged(n)))),
        O::Greater => selecting(years(0).map(|n| (i64::MIN + 1, aged(n + 1)))),
        O::LessOrEqual => selecting(years(0).map(|n| (aged(n + 1) + 1, i64::MAX))),
        O::Less => selecting(years(0).map(|n| (aged(n) + 1, i64::MAX))),
        O::IsSet => Bits::from_fn_within(within, |r| at(born, r).is_some()),
        O::IsNotSet => Bits::from_fn_within(within, |r| at(born, r).is_none()),
        _ => Bits::none(within.len()),
    }
}

/// The day `n` years before `today` (29 February goes to 28 February in years without it).
fn years_ago(today: i64, n: i64) -> i64 {
    let (y, m, d) = super::civil(today);
    let year = y - n;
    let day = if m == 2 && d == 29 && !time::util::is_leap_year(i32::try_from(year).unwrap_or(0)) { 28 } else { d };
    super::days_from_civil(year, m, day)
}

/// What a condition on a fact nobody has selects: everyone for "is not set", "!=" and "none of".
/// "Client id is / is any of / is none of": the rows of the ids given (ids of no client match
/// nobody).
fn client_ids(p: &Population, op: Operator, values: &[Value], within: &Bits) -> Bits {
    let mut picked = Bits::none(within.len());
    for id in texts(values).iter().filter_map(|t| uuid::Uuid::parse_str(t.trim()).ok()) {
        if let Some(row) = p.find(id).filter(|r| within.get(*r as usize)) {
            picked.set(row as usize, true);
        }
    }
    match op {
        Operator::NotEqual | Operator::NoneOf => {
            picked.not_within(within);
            picked
        }
        Operator::IsSet => within.clone(),
        Operator::IsNotSet => Bits::none(within.len()),
        _ => picked,
    }
}

fn missing(within: &Bits, op: Operator) -> Bits {
    match op {
        Operator::IsNotSet | Operator::NotEqual | Operator::NoneOf => within.clone(),
        _ => Bits::none(within.len()),
    }
}

/// Whole years from `born` to `today` (day numbers).
pub fn years_between(born: i64, today: i64) -> i64 {
    let to_date = |d: i64| {
        let epoch = time::macros::date!(1970 - 01 - 01).to_julian_day();
        i32::try_from(d).ok().and_then(|n| time::Date::from_julian_day(epoch + n).ok())
    };
    match (to_date(born), to_date(today)) {
        (Some(b), Some(t)) => {
            let before_birthday = (u8::from(t.month()), t.day()) < (u8::from(b.month()), b.day());
            i64::from(t.year() - b.year()) - i64::from(before_birthday)
        }
        _ => 0,
    }
}

/// The rows of `within` whose number (from `of`) satisfies `op` with `values`.
pub fn numbers(
    within: &Bits,
    of: impl Fn(usize) -> Option<i64>,
    op: Operator,
    values: &[Value],
    scale: i64,
    today: i64,
) -> Bits {
    use Operator as O;
    let v = |i: usize| values.get(i).and_then(|v| number(v, scale));
    let whole = |i: usize| values.get(i).and_then(|v| number(v, 1));
    match op {
        O::Equal => match v(0) {
            Some(x) => Bits::from_fn_within(within, |r| of(r) == Some(x)),
            None => Bits::none(within.len()),
        },
        O::NotEqual => match v(0) {
            Some(x) => Bits::from_fn_within(within, |r| of(r) != Some(x)),
            None => within.clone(),
        },
        O::Less | O::LessOrEqual | O::Greater | O::GreaterOrEqual => {
            let Some(x) = v(0) else { return Bits::none(within.len()) };
            match op {
                O::Less => Bits::from_fn_within(within, |r| of(r).is_some_and(|n| n < x)),
                O::LessOrEqual => Bits::from_fn_within(within, |r| of(r).is_some_and(|n| n <= x)),
                O::Greater => Bits::from_fn_within(within, |r| of(r).is_some_and(|n| n > x)),
                _ => Bits::from_fn_within(within, |r| of(r).is_some_and(|n| n >= x)),
            }
        }
        O::Between => match (v(0), v(1)) {
            (Some(lo), Some(hi)) => Bits::from_fn_within(within, |r| of(r).is_some_and(|n| lo <= n && n <= hi)),
            _ => Bits::none(within.len()),
        },
        O::DaysAgoBetween => match (whole(0), whole(1)) {
            (Some(lo), Some(hi)) => {
                Bits::from_fn_within(within, |r| of(r).is_some_and(|d| today - hi <= d && d <= today - lo))
            }
            _ => Bits::none(within.len()),
        },
        O::AnniversaryWithinDays => match whole(0) {
            Some(days) => {
                // Days to the anniversary by (month, day), worked out once for today.
                let mut ahead = [[i64::MAX; 32]; 13];
                for (m, row) in ahead.iter_mut().enumerate().skip(1) {
                    for (d, cell) in row.iter_mut().enumerate().skip(1) {
                        let probe = super::days_from_civil(2000, m as i64, d as i64);
                        if super::civil(probe) == (2000, m as i64, d as i64) {
                            *cell = days_to_anniversary(probe, today);
                        }
                    }
                }
                let soon = Calendar::new(today, |m, d| ahead[m as usize][d as usize] <= days);
                Bits::from_fn_within(within, |r| of(r).is_some_and(|d| soon.holds(d)))
            }
            None => Bits::none(within.len()),
        },
        O::AnniversaryInMonth => {
            let months: Vec<i64> = if values.is_empty() {
                vec![i64::from(month_day(today, true).0)]
            } else {
                values.iter().filter_map(|v| number(v, 1)).collect()
            };
            let in_month = Calendar::new(today, |m, _| months.contains(&m));
            Bits::from_fn_within(within, |r| of(r).is_some_and(|d| in_month.holds(d)))
        }
        O::IsSet => Bits::from_fn_within(within, |r| of(r).is_some()),
        O::IsNotSet => Bits::from_fn_within(within, |r| of(r).is_none()),
        _ => Bits::none(within.len()),
    }
}

/// Whether a (month, day) rule holds, worked out once per calendar day of the last 150 years (and
/// the next) instead of once per row: a birthday question asks it of every client.
struct Calendar<F: Fn(i64, i64) -> bool> {
    first: i64,
    days: Vec<bool>,
    rule: F,
}

impl<F: Fn(i64, i64) -> bool> Calendar<F> {
    fn new(today: i64, rule: F) -> Self {
        let first = today - 150 * 366;
        let mut date = super::date_of(first);
        let mut days = Vec::with_capacity(151 * 366);
        for _ in first..=today + 366 {
            days.push(rule(i64::from(u8::from(date.month())), i64::from(date.day())));
            date = date.next_day().unwrap_or(date);
        }
        Calendar { first, days, rule }
    }

    fn holds(&self, day: i64) -> bool {
        match usize::try_from(day - self.first).ok().and_then(|i| self.days.get(i)) {
            Some(held) => *held,
            None => {
                let (_, m, d) = super::civil(day);
                (self.rule)(m, d)
            }
        }
    }
}

/// Days from `today` to the next anniversary of `date` (0 when it is today).
pub fn days_to_anniversary(date: i64, today: i64) -> i64 {
    let epoch = time::macros::date!(1970 - 01 - 01).to_julian_day();
    let Some(now) = i32::try_from(today).ok().and_then(|n| time::Date::from_julian_day(epoch + n).ok()) else {
        return i64::MAX;
    };
    for year in [now.year(), now.year() + 1] {
        let (m, d) = month_day(date, time::util::is_leap_year(year));
        let Ok(month) = time::Month::try_from(m) else { return i64::MAX };
        if let Ok(next) = time::Date::from_calendar_date(year, month, d)
            && next >= now
        {
            return i64::from(next.to_julian_day() - now.to_julian_day());
        }
    }
    i64::MAX
}

fn texts(values: &[Value]) -> Vec<String> {
    values
        .iter()
        .filter_map(|v| match &v.kind {
            Some(value::Kind::Text(t)) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

/// The condition's texts as the column stores them: phones in E.164, emails in lower case, ids
/// (card numbers, SKUs, stores, tags) as they are, other texts folded (case and accents gone).
pub fn normalised(fact: &FactInfo, values: &[Value], cx: &Context<'_>) -> Vec<String> {
    texts(values)
        .into_iter()
        .map(|t| match fact.name {
            "client.phone" => loyalty_platform::phone::Phone::parse(&t, cx.phone_region)
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|_| t.trim().to_string()),
            "client.email" => t.trim().to_lowercase(),
            _ if matches!(fact.kind, FactType::Id | FactType::Set) => t.trim().to_string(),
            _ => loyalty_platform::text::fold(t.trim()),
        })
        .collect()
}

/// The rows of `within` whose text satisfies `op` with `values` (already normalised).
pub fn text(within: &Bits, column: &Column, op: Operator, values: &[String]) -> Bits {
    use Operator as O;
    let Column::Text { dict, codes } = column else { return Bits::none(within.len()) };
    let code_of = |row: usize| codes.get(row).copied().unwrap_or(0);
    let wanted = match op {
        O::Equal | O::NotEqual | O::AnyOf | O::NoneOf => dict.matching(|t| values.iter().any(|v| v == t)),
        O::Contains => dict.matching(|t| values.iter().any(|v| t.contains(v.as_str()))),
        O::StartsWith => dict.matching(|t| values.iter().any(|v| t.starts_with(v.as_str()))),
        O::IsSet | O::IsNotSet => dict.matching(|_| true),
        _ => return Bits::none(within.len()),
    };
    let negated = matches!(op, O::NotEqual | O::NoneOf | O::IsNotSet);
    Bits::from_fn_within(within, |r| wanted.get(code_of(r) as usize) != negated)
}

/// The rows of `within` whose set satisfies `op` with `values`, read from the items' postings.
fn set(within: &Bits, column: &Column, op: Operator, values: &[String]) -> Bits {
    use Operator as O;
    let Column::Set { dict, members, .. } = column else { return Bits::none(within.len()) };
    let codes: Vec<u32> = values.iter().filter_map(|v| dict.find(v)).collect();
    let holding_any = || {
        let mut b = Bits::none(within.len());
        for r in codes.iter().flat_map(|c| column.holders(*c)) {
            b.set(*r as usize, true);
        }
        b.and(within);
        b
    };
    match op {
        O::AnyOf => holding_any(),
        O::AllOf if codes.len() < values.len() || codes.is_empty() => Bits::none(within.len()),
        O::AllOf => {
            let mut acc = within.clone();
            for c in &codes {
                let mut held = Bits::none(within.len());
                column.holders(*c).iter().for_each(|r| held.set(*r as usize, true));
                acc.and(&held);
            }
            acc
        }
        O::NoneOf => {
            let mut b = holding_any();
            b.not_within(within);
            b
        }
        O::IsSet => Bits::from_fn_within(within, |r| members.get(r).is_some_and(|m| !m.is_empty())),
        O::IsNotSet => Bits::from_fn_within(within, |r| members.get(r).is_none_or(Vec::is_empty)),
        _ => Bits::none(within.len()),
    }
}

/// Membership of saved segments: in one of them, in all, or in none.
fn segments(p: &Population, op: Operator, values: &[Value], cx: &Context<'_>, within: &Bits) -> Bits {
    let members: Vec<Bits> = texts(values)
        .iter()
        .map(|id| {
            let mut b = (cx.segment)(id).unwrap_or_default();
            b.grow(p.len());
            b
        })
        .collect();
    let mut acc = match op {
        Operator::AllOf => within.clone(),
        _ => Bits::none(p.len()),
    };
    for m in &members {
        if op == Operator::AllOf { acc.and(m) } else { acc.or(m) }
    }
    acc.and(within);
    if op == Operator::NoneOf {
        acc.not_within(within);
    }
    acc
}
