//! One client's value of a fact as text, for pages of matching clients and a client's facts:
//! amounts and decimals with two decimals, dates as `YYYY-MM-DD`, texts as the model keeps them
//! (folded for searching: the client service has the profile as typed).
use super::column::Column;
use super::evaluate::{civil, client::years_between};
use super::facts::FactInfo;
use super::population::Population;
use super::tally;
use loyalty_api::filter::v1::{Entity, FactType};

/// A client's value of a fact: a number on the fact's scale, or a text. Numbers sort as numbers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Raw {
    Number(i64),
    Text(String),
}

/// The value of `fact` for client `row` as text, `None` when the client has none (or the fact is
/// about rows).
pub fn value(p: &Population, fact: &FactInfo, row: usize, today: i64) -> Option<String> {
    match raw(p, fact, row, today)? {
        Raw::Number(n) => Some(written(fact.kind, n)),
        Raw::Text(t) => Some(t),
    }
}

/// The value of `fact` for client `row`, to show or to sort by.
/// The column holding a folded text fact as the client wrote it, for the facts people read.
pub fn shown_column(fact: &str) -> Option<&'static str> {
    Some(match fact {
        "client.full_name" => "shown:client.full_name",
        "client.first_name" => "shown:client.first_name",
        "client.last_name" => "shown:client.last_name",
        "client.middle_name" => "shown:client.middle_name",
        "client.city" => "shown:client.city",
        "client.region" => "shown:client.region",
        "client.address" => "shown:client.address",
        "client.car_number" => "shown:client.car_number",
        _ => return None,
    })
}

pub fn raw(p: &Population, fact: &FactInfo, row: usize, today: i64) -> Option<Raw> {
    if fact.entity != Entity::Client || fact.name == "segments" {
        return None;
    }
    let number = |name: &str| p.clients.get(name).and_then(|c| c.number_at(row));
    if fact.kind == FactType::Set {
        return set(p, fact.name, row).map(Raw::Text);
    }
    if matches!(fact.kind, FactType::Text | FactType::Id | FactType::Enum) {
        let text = match fact.name {
            "purchases.last_store" => store_text(p, number(tally::LAST_STORE)?),
            "purchases.most_frequent_store" => most_frequent_store(p, row)?,
            name => shown_column(name)
                .and_then(|shown| p.clients.get(shown))
                .or_else(|| p.clients.get(name))?
                .text_at(row)
                .to_string(),
        };
        return (!text.is_empty()).then_some(Raw::Text(text));
    }
    let n = match fact.name {
        "client.age" => years_between(number("client.birth_date")?, today),
        "client.days_in_programme" => today - number("client.registered_at")?,
        "ledger.used_share" => {
            let earned = number("ledger.earned_total").filter(|e| *e > 0)?;
            number("ledger.used")?.saturating_mul(10_000) / earned
        }
        "purchases.count" => number(tally::COUNT).unwrap_or(0),
        "purchases.items" => number(tally::ITEMS).unwrap_or(0),
        "purchases.sum" => number(tally::SUM).unwrap_or(0),
        "purchases.average_check" => number(tally::SUM)? / number(tally::COUNT).filter(|c| *c > 0)?,
        "purchases.max_check" => number(tally::MAX)?,
        "purchases.last_amount" => number(tally::LAST_AMOUNT)?,
        "purchases.first_at" => number(tally::FIRST)?,
        "purchases.last_at" => number(tally::LAST)?,
        "purchases.days_since_last" => today - number(tally::LAST)?,
        "purchases.days_between" => {
            let count = number(tally::COUNT).filter(|c| *c > 0)?;
            (number(tally::LAST)? - number("client.registered_at")?).max(0) * 100 / count
        }
        "returns.count" => number(tally::RETURN_COUNT).unwrap_or(0),
        "returns.sum" => number(tally::RETURN_SUM).unwrap_or(0),
        "returns.last_at" => number(tally::RETURN_LAST)?,
        "returns.days_since_last" => today - number(tally::RETURN_LAST)?,
        name => number(name)?,
    };
    Some(Raw::Number(n))
}

/// The facts a period answers (`ListMatchingClientsRequest.period`): totals of the client's
/// purchases and returns, summed from the rows of the period's days.
pub const PERIOD_FACTS: [&str; 7] = [
    "purchases.count",
    "purchases.sum",
    "purchases.items",
    "purchases.average_check",
    "purchases.max_check",
    "returns.count",
    "returns.sum",
];

/// The value of `fact` for client `row` over the days `from..=to`: a fact of [`PERIOD_FACTS`]
/// summed from the rows of those days, any other as [`value`] answers it.
pub fn in_period(p: &Population, fact: &FactInfo, row: usize, (from, to): (i64, i64), today: i64) -> Option<String> {
    if !PERIOD_FACTS.contains(&fact.name) {
        return value(p, fact, row, today);
    }
    let (table, field) = fact.name.split_once('.')?;
    let (mut count, mut sum, mut items, mut max) = (0i64, 0i64, 0i64, None::<i64>);
    if let Some(rows) = p.tables.get(table) {
        let number = |name: &str, r: usize| rows.columns.get(name).and_then(|c| c.number_at(r)).unwrap_or(0);
        for &r in rows.rows_of(row as u32) {
            let r = r as usize;
            if !rows.live.get(r) || rows.day[r] < from || rows.day[r] > to {
                continue;
            }
            let amount = number("amount", r);
            (count, sum, items) = (count + 1, sum.saturating_add(amount), items.saturating_add(number("items", r)));
            max = Some(max.map_or(amount, |m| m.max(amount)));
        }
    }
    let n = match field {
        "count" => count,
        "sum" => sum,
        "items" => items,
        "average_check" => sum / (count > 0).then_some(count)?,
        _ => max?,
    };
    Some(written(fact.kind, n))
}

/// A number of a fact of `kind` as text.
pub fn written(kind: FactType, n: i64) -> String {
    match kind {
        FactType::Money | FactType::Decimal => {
            let sign = if n < 0 { "-" } else { "" };
            format!("{sign}{}.{:02}", (n / 100).unsigned_abs(), (n % 100).unsigned_abs())
        }
        FactType::Date => {
            let (y, m, d) = civil(n);
            format!("{y:04}-{m:02}-{d:02}")
        }
        FactType::Boolean => (n != 0).to_string(),
        _ => n.to_string(),
    }
}

fn store_text(p: &Population, code: i64) -> String {
    match p.tables.get("purchases").and_then(|t| t.columns.get("store")) {
        Some(Column::Text { dict, .. }) => dict.text(u32::try_from(code).unwrap_or(0)).to_string(),
        _ => String::new(),
    }
}

fn most_frequent_store(p: &Population, row: usize) -> Option<String> {
    let rows = p.tables.get("purchases")?;
    let Some(Column::Text { dict, codes }) = rows.columns.get("store") else { return None };
    let mut counts: std::collections::BTreeMap<&str, i64> = Default::default();
    for &r in rows.rows_of(row as u32) {
        let r = r as usize;
        if rows.live.get(r) {
            *counts.entry(dict.text(codes.get(r).copied().unwrap_or(0))).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .filter(|(s, _)| !s.is_empty())
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(s, _)| s.to_string())
}

/// A set fact as a comma-separated list.
fn set(p: &Population, name: &str, row: usize) -> Option<String> {
    let items: Vec<String> = match name {
        "tags" | "client.card_numbers" => match p.clients.get(name) {
            Some(Column::Set { dict, members, .. }) => {
                let mut items: Vec<String> = members.get(row)?.iter().map(|c| dict.text(*c).to_string()).collect();
                items.sort();
                items
            }
            _ => return None,
        },
        _ => {
            let column = match name {
                "purchases.stores" => "store",
                "purchases.sellers" => "seller",
                "purchases.promotions" => "promotion",
                _ => "promo_code",
            };
            let rows = p.tables.get("purchases")?;
            let Some(Column::Text { dict, codes }) = rows.columns.get(column) else { return None };
            let mut seen: Vec<String> = rows
                .rows_of(row as u32)
                .iter()
                .filter(|r| rows.live.get(**r as usize))
                .map(|r| dict.text(codes.get(*r as usize).copied().unwrap_or(0)).to_string())
                .filter(|t| !t.is_empty())
                .collect();
            seen.sort();
            seen.dedup();
            seen
        }
    };
    (!items.is_empty()).then(|| items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_as_people_read_them() {
        assert_eq!(written(FactType::Money, 12_345), "123.45");
        assert_eq!(written(FactType::Money, -5), "-0.05");
        assert_eq!(written(FactType::Date, 20_522), "2026-03-10");
        assert_eq!(written(FactType::Boolean, 1), "true");
        assert_eq!(written(FactType::Integer, 42), "42");
    }
}
