//! Answering a filter over a [`Population`]: every condition becomes the set of client rows it
//! selects, and groups combine those sets with AND, OR and NOT. The filter has been checked
//! (`validate::check`) before it gets here; a value of the wrong kind selects nobody.
//!
//! Semantics a marketer relies on:
//! - `!=` and `none of` select clients without a value too ("city is not Riga" keeps those whose
//!   city is unknown); `<`, `>`, `between` select only clients with a value.
//! - Relative days count 0 as `today` (the tenant's local day); windows of "the last N days"
//!   include today.
//! - Row facts select a client when one of their rows matches (with its dependent conditions);
//!   `exclude` on a row condition selects the clients with no matching row.
pub(crate) mod client;
mod rows;
mod sums;

use super::bits::Bits;
use super::population::Population;
use super::validate::{calendar, decimal};
use loyalty_api::filter::v1::{Condition, Filter, Operator, Value, Window, filter::Combinator, value, window};

/// What a filter is answered against besides the facts.
pub struct Context<'a> {
    /// Today in the tenant's time zone, as days since 1970-01-01.
    pub today: i64,
    /// The tenant's region for phones typed without a country code ("LT").
    pub phone_region: &'a str,
    /// The members of a saved segment by its id, as client rows; `None` for an unknown segment.
    pub segment: &'a dyn Fn(&str) -> Option<Bits>,
}

/// The live client rows `filter` selects.
pub fn evaluate(p: &Population, filter: &Filter, cx: &Context<'_>) -> Bits {
    let mut live = p.live.clone();
    live.grow(p.len());
    group(p, filter, cx, &live)
}

// Every part below answers for the client rows `within` alone: what it returns is the rows of
// `within` that hold. An AND asks each part only about the rows the parts before it kept, an OR
// only about the rows not yet taken, so a selective condition makes the ones after it cheap.

fn group(p: &Population, f: &Filter, cx: &Context<'_>, within: &Bits) -> Bits {
    let any = f.combinator == Combinator::Any as i32;
    let mut conditions: Vec<&Condition> = f.conditions.iter().collect();
    // The client's own facts first: they read one column; rows and windows read many.
    conditions.sort_by_key(|c| cost(c));
    let mut acc = if any { Bits::none(within.len()) } else { within.clone() };
    let parts = conditions.into_iter().map(Part::Condition).chain(f.groups.iter().map(Part::Group));
    for part in parts {
        let asked = if any {
            let mut rest = acc.clone();
            rest.not_within(within);
            rest
        } else {
            acc.clone()
        };
        if !asked.any() {
            break;
        }
        let held = match part {
            Part::Condition(c) => condition(p, c, cx, &asked),
            Part::Group(g) => group(p, g, cx, &asked),
        };
        if any { acc.or(&held) } else { acc = held }
    }
    if f.exclude {
        acc.not_within(within);
    }
    acc
}

enum Part<'a> {
    Condition(&'a Condition),
    Group(&'a Filter),
}

/// How much a condition reads: a client column (0), a window's count (1: the owner of each row),
/// another window's figure (2: the owner and the amount or day of each row), rows with their
/// dependent conditions (3).
fn cost(c: &Condition) -> u8 {
    let table = c.fact.split('.').next().filter(|t| super::population::TABLES.contains(t));
    let row_fact = super::facts::find(&c.fact).is_some_and(|f| f.takes_dependent());
    match (table, row_fact) {
        (None, _) => 0,
        (Some(_), false) if c.window.is_none() => 0,
        (Some(_), false) if c.fact.ends_with(".count") => 1,
        (Some(_), false) => 2,
        (Some(_), true) => 3,
    }
}

fn condition(p: &Population, c: &Condition, cx: &Context<'_>, within: &Bits) -> Bits {
    let Some(fact) = super::facts::find(&c.fact) else { return Bits::none(within.len()) };
    let table = super::population::TABLES.iter().find(|t| c.fact.split('.').next() == Some(**t));
    let mut selected = match table {
        Some(table) if fact.takes_dependent() => rows::row_condition(p, table, fact, c, cx, within),
        Some(table) => rows::aggregate(p, table, fact, c, cx, within),
        None => client::condition(p, fact, c, cx, within),
    };
    selected.grow(within.len());
    selected.and(within);
    if c.exclude {
        selected.not_within(within);
    }
    selected
}

/// The condition's operator (an unknown one is `Unspecified`, which selects nobody).
fn operator(c: &Condition) -> Operator {
    Operator::try_from(c.operator).unwrap_or(Operator::Unspecified)
}

/// The days a window spans, both included; `None` for no window (all time).
fn days_of(window: &Option<Window>, today: i64) -> Option<(i64, i64)> {
    match window.as_ref()?.kind.as_ref()? {
        window::Kind::LastDays(n) => Some((today - i64::from(*n) + 1, today)),
        window::Kind::Dates(range) => {
            let from = range.from.as_ref().and_then(calendar).map(day_number)?;
            let to = range.to.as_ref().and_then(calendar).map(day_number)?;
            Some((from, to))
        }
    }
}

/// Days since 1970-01-01.
pub fn day_number(d: time::Date) -> i64 {
    i64::from(d.to_julian_day()) - i64::from(time::macros::date!(1970 - 01 - 01).to_julian_day())
}

/// The date of a day number (see [`day_number`]).
pub fn date_of(day: i64) -> time::Date {
    let epoch = i64::from(time::macros::date!(1970 - 01 - 01).to_julian_day());
    i32::try_from(day + epoch).ok().and_then(|j| time::Date::from_julian_day(j).ok()).unwrap_or(time::Date::MIN)
}

/// A value on a number column's scale: `scale` 100 for money and decimals (hundredths), 1 for
/// whole numbers; dates as day numbers; booleans as 0 and 1.
fn number(v: &Value, scale: i64) -> Option<i64> {
    match v.kind.as_ref()? {
        value::Kind::Integer(n) => n.checked_mul(scale),
        value::Kind::Decimal(d) => {
            decimal(d).map(|hundredths| if scale == 100 { hundredths } else { hundredths / 100 })
        }
        value::Kind::Date(d) => calendar(d).map(day_number),
        value::Kind::Boolean(b) => Some(i64::from(*b)),
        value::Kind::Text(_) => None,
    }
}

/// The (year, month, day) of a day number (days since 1970-01-01), by integer arithmetic alone:
/// it runs for every client row of a birthday question.
pub fn civil(day: i64) -> (i64, i64, i64) {
    // Howard Hinnant's days-to-civil.
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The day number of a calendar day.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (month, day) of a day number, with 29 February read as 28 February in years without it.
fn month_day(day: i64, year_has_29_feb: bool) -> (u8, u8) {
    let (_, m, d) = civil(day);
    if m == 2 && d == 29 && !year_has_29_feb { (2, 28) } else { (m as u8, d as u8) }
}

#[cfg(test)]
mod narrowing;
#[cfg(test)]
mod tests;
