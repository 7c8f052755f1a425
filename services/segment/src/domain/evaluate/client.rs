//! Conditions on the client's own facts: a column per fact, a few computed from others (age, days
//! in the programme, the share of earned points used), tags, and membership of saved segments.
use super::{Context, month_day, number};
use crate::domain::bits::Bits;
use crate::domain::column::Column;
use crate::domain::facts::FactInfo;
use crate::domain::population::Population;
use loyalty_api::filter::v1::{Condition, FactType, Operator, Value, value};

pub fn condition(p: &Population, fact: &FactInfo, c: &Condition, cx: &Context<'_>) -> Bits {
    let op = Operator::try_from(c.operator).unwrap_or(Operator::Unspecified);
    if fact.name == "segments" {
        return segments(p, op, &c.values, cx);
    }
    match fact.kind {
        FactType::Text | FactType::Id | FactType::Enum => match p.clients.get(fact.name) {
            Some(column) => text(p.len(), column, op, &normalised(fact, &c.values, cx)),
            None => missing(p.len(), op),
        },
        FactType::Set => match p.clients.get(fact.name) {
            Some(column) => set(p.len(), column, op, &texts(&c.values)),
            None => missing(p.len(), op),
        },
        _ => {
            let scale = if matches!(fact.kind, FactType::Money | FactType::Decimal) { 100 } else { 1 };
            let of = |row: usize| computed(p, fact.name, row, cx.today);
            numbers(p.len(), of, op, &c.values, scale, cx.today)
        }
    }
}

/// What a condition on a fact nobody has selects: everyone for "is not set", "!=" and "none of".
fn missing(len: usize, op: Operator) -> Bits {
    match op {
        Operator::IsNotSet | Operator::NotEqual | Operator::NoneOf => Bits::all(len),
        _ => Bits::none(len),
    }
}

/// A number fact of `row`: stored, or computed from stored ones.
fn computed(p: &Population, fact: &str, row: usize, today: i64) -> Option<i64> {
    let stored = |name: &str| p.clients.get(name).and_then(|c| c.number_at(row));
    match fact {
        "client.age" => stored("client.birth_date").map(|born| years_between(born, today)),
        "client.days_in_programme" => stored("client.registered_at").map(|joined| today - joined),
        "ledger.used_share" => {
            let (used, earned) = (stored("ledger.used")?, stored("ledger.earned_total")?);
            (earned > 0).then(|| used.saturating_mul(10_000) / earned)
        }
        name => stored(name),
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

/// The rows whose number (from `of`) satisfies `op` with `values`.
pub fn numbers(
    len: usize,
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
            Some(x) => Bits::from_fn(len, |r| of(r) == Some(x)),
            None => Bits::none(len),
        },
        O::NotEqual => match v(0) {
            Some(x) => Bits::from_fn(len, |r| of(r) != Some(x)),
            None => Bits::all(len),
        },
        O::Less | O::LessOrEqual | O::Greater | O::GreaterOrEqual => {
            let Some(x) = v(0) else { return Bits::none(len) };
            let holds = |n: i64| match op {
                O::Less => n < x,
                O::LessOrEqual => n <= x,
                O::Greater => n > x,
                _ => n >= x,
            };
            Bits::from_fn(len, |r| of(r).is_some_and(holds))
        }
        O::Between => match (v(0), v(1)) {
            (Some(lo), Some(hi)) => Bits::from_fn(len, |r| of(r).is_some_and(|n| lo <= n && n <= hi)),
            _ => Bits::none(len),
        },
        O::DaysAgoBetween => match (whole(0), whole(1)) {
            (Some(lo), Some(hi)) => Bits::from_fn(len, |r| of(r).is_some_and(|d| today - hi <= d && d <= today - lo)),
            _ => Bits::none(len),
        },
        O::AnniversaryWithinDays => match whole(0) {
            Some(days) => Bits::from_fn(len, |r| of(r).is_some_and(|d| days_to_anniversary(d, today) <= days)),
            None => Bits::none(len),
        },
        O::AnniversaryInMonth => {
            let months: Vec<u8> = if values.is_empty() {
                vec![month_day(today, true).0]
            } else {
                values.iter().filter_map(|v| number(v, 1)).filter_map(|m| u8::try_from(m).ok()).collect()
            };
            Bits::from_fn(len, |r| of(r).is_some_and(|d| months.contains(&month_day(d, true).0)))
        }
        O::IsSet => Bits::from_fn(len, |r| of(r).is_some()),
        O::IsNotSet => Bits::from_fn(len, |r| of(r).is_none()),
        _ => Bits::none(len),
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

/// The rows whose text satisfies `op` with `values` (already normalised).
pub fn text(len: usize, column: &Column, op: Operator, values: &[String]) -> Bits {
    use Operator as O;
    let Column::Text { dict, codes } = column else { return Bits::none(len) };
    let code_of = |row: usize| codes.get(row).copied().unwrap_or(0);
    let wanted = match op {
        O::Equal | O::NotEqual | O::AnyOf | O::NoneOf => dict.matching(|t| values.iter().any(|v| v == t)),
        O::Contains => dict.matching(|t| values.iter().any(|v| t.contains(v.as_str()))),
        O::StartsWith => dict.matching(|t| values.iter().any(|v| t.starts_with(v.as_str()))),
        O::IsSet | O::IsNotSet => dict.matching(|_| true),
        _ => return Bits::none(len),
    };
    let negated = matches!(op, O::NotEqual | O::NoneOf | O::IsNotSet);
    Bits::from_fn(len, |r| wanted.get(code_of(r) as usize) != negated)
}

/// The rows whose set satisfies `op` with `values`.
fn set(len: usize, column: &Column, op: Operator, values: &[String]) -> Bits {
    use Operator as O;
    let Column::Set { dict, members } = column else { return Bits::none(len) };
    let codes: Vec<u32> = values.iter().filter_map(|v| dict.find(v)).collect();
    let held = |row: usize| members.get(row).map(Vec::as_slice).unwrap_or(&[]);
    match op {
        O::AnyOf => Bits::from_fn(len, |r| held(r).iter().any(|c| codes.contains(c))),
        O::AllOf if codes.len() < values.len() => Bits::none(len),
        O::AllOf => Bits::from_fn(len, |r| codes.iter().all(|c| held(r).binary_search(c).is_ok())),
        O::NoneOf => Bits::from_fn(len, |r| !held(r).iter().any(|c| codes.contains(c))),
        O::IsSet => Bits::from_fn(len, |r| !held(r).is_empty()),
        O::IsNotSet => Bits::from_fn(len, |r| held(r).is_empty()),
        _ => Bits::none(len),
    }
}

/// Membership of saved segments: in one of them, in all, or in none.
fn segments(p: &Population, op: Operator, values: &[Value], cx: &Context<'_>) -> Bits {
    let members: Vec<Bits> = texts(values)
        .iter()
        .map(|id| {
            let mut b = (cx.segment)(id).unwrap_or_default();
            b.grow(p.len());
            b
        })
        .collect();
    let mut acc = match op {
        Operator::AllOf => Bits::all(p.len()),
        _ => Bits::none(p.len()),
    };
    for m in &members {
        if op == Operator::AllOf { acc.and(m) } else { acc.or(m) }
    }
    if op == Operator::NoneOf {
        acc.not();
    }
    acc
}
