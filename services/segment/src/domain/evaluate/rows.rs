//! Conditions answered from rows: a client's purchases and returns summed up over all time or a
//! window (count, sum, average and largest check, first and last dates, stores), and row facts
//! (purchase lines, return lines, cards, children, deliveries) with their dependent conditions.
use super::client::{normalised, numbers, text, years_between};
use super::{Context, days_of};
use crate::domain::bits::Bits;
use crate::domain::column::{Column, NONE};
use crate::domain::facts::{self, FactInfo};
use crate::domain::population::{Population, Rows};
use crate::domain::tally;
use loyalty_api::filter::v1::{Condition, FactType, Operator};
use std::collections::HashMap;

/// Facts summed up over a client's rows, not read from one row.
const ROW_SUMS: [&str; 3] = ["purchase_lines.count", "purchase_lines.quantity", "purchase_lines.amount"];

/// The live rows of `table` in the condition's window, as bits over the table's rows.
fn in_window(rows: &Rows, c: &Condition, cx: &Context<'_>) -> Bits {
    match days_of(&c.window, cx.today) {
        None => rows.live.clone(),
        Some((from, to)) => {
            let mut b = Bits::none(rows.len());
            for &r in rows.window(from, to) {
                b.set(r as usize, rows.live.get(r as usize));
            }
            b
        }
    }
}

/// A number of a slice, `None` for [`NONE`].
fn at(values: &[i64], r: usize) -> Option<i64> {
    values.get(r).copied().filter(|v| *v != NONE)
}

/// `purchases.*` and `returns.*` facts of the client: all-time totals from the client's columns
/// (kept by `tally`), a window's from the rows of its days.
pub fn aggregate(p: &Population, table: &str, fact: &FactInfo, c: &Condition, cx: &Context<'_>) -> Bits {
    let op = Operator::try_from(c.operator).unwrap_or(Operator::Unspecified);
    let empty = Rows::default();
    let rows = p.tables.get(table).unwrap_or(&empty);
    let field = fact.name.split_once('.').map(|(_, f)| f).unwrap_or("");
    if fact.kind == FactType::Set {
        let column = match field {
            "stores" => "store",
            "sellers" => "seller",
            "promotions" => "promotion",
            _ => "promo_code",
        };
        let selected = in_window(rows, c, cx);
        return owners_by_text(p, rows, &selected, column, op, &normalised(fact, &c.values, cx), true);
    }
    if matches!(field, "most_frequent_store" | "last_store") {
        return stores(p, rows, &in_window(rows, c, cx), field, op, &normalised(fact, &c.values, cx));
    }
    let values = match days_of(&c.window, cx.today) {
        None => all_time(p, table, field, cx.today),
        Some((from, to)) => windowed(p, rows, rows.window(from, to), field, cx.today),
    };
    let scale = if matches!(fact.kind, FactType::Money | FactType::Decimal) { 100 } else { 1 };
    numbers(p.len(), |r| at(&values, r), op, &c.values, scale, cx.today)
}

/// The all-time value of `field` for every client, [`NONE`] where there is none.
fn all_time(p: &Population, table: &str, field: &str, today: i64) -> Vec<i64> {
    let col = |name: &str| p.clients.get(name).map(Column::numbers).unwrap_or(&[]);
    let len = p.len();
    let zero_if_none = |name: &str| -> Vec<i64> {
        let values = col(name);
        (0..len).map(|r| at(values, r).unwrap_or(0)).collect()
    };
    let each = |f: &dyn Fn(usize) -> Option<i64>| -> Vec<i64> { (0..len).map(|r| f(r).unwrap_or(NONE)).collect() };
    match (table, field) {
        ("purchases", "count") => zero_if_none(tally::COUNT),
        ("purchases", "items") => zero_if_none(tally::ITEMS),
        ("purchases", "sum") => zero_if_none(tally::SUM),
        ("purchases", "average_check") => {
            let (sum, count) = (col(tally::SUM), col(tally::COUNT));
            each(&|r| at(count, r).filter(|n| *n > 0).and_then(|n| at(sum, r).map(|s| s / n)))
        }
        ("purchases", "max_check") => col(tally::MAX).to_vec(),
        ("purchases", "last_amount") => col(tally::LAST_AMOUNT).to_vec(),
        ("purchases", "first_at") => col(tally::FIRST).to_vec(),
        ("purchases", "last_at") => col(tally::LAST).to_vec(),
        ("purchases", "days_since_last") => {
            let last = col(tally::LAST);
            each(&|r| at(last, r).map(|d| today - d))
        }
        ("purchases", "days_between") => {
            let (last, count, joined) = (col(tally::LAST), col(tally::COUNT), col("client.registered_at"));
            each(&|r| {
                let n = at(count, r).filter(|n| *n > 0)?;
                Some((at(last, r)? - at(joined, r)?).max(0) * 100 / n)
            })
        }
        ("returns", "count") => zero_if_none(tally::RETURN_COUNT),
        ("returns", "sum") => zero_if_none(tally::RETURN_SUM),
        ("returns", "last_at") => col(tally::RETURN_LAST).to_vec(),
        ("returns", "days_since_last") => {
            let last = col(tally::RETURN_LAST);
            each(&|r| at(last, r).map(|d| today - d))
        }
        _ => vec![NONE; len],
    }
}

/// The value of `field` over the rows `window` (row numbers of `rows`) for every client.
fn windowed(p: &Population, rows: &Rows, window: &[u32], field: &str, today: i64) -> Vec<i64> {
    let len = p.len();
    let amount = rows.columns.get("amount").map(Column::numbers).unwrap_or(&[]);
    let items = rows.columns.get("items").map(Column::numbers).unwrap_or(&[]);
    let live = window.iter().map(|r| *r as usize).filter(|r| rows.live.get(*r));
    let mut count = vec![0i64; len];
    let mut value = vec![NONE; len];
    for r in live {
        let o = rows.owner[r] as usize;
        let (a, day) = (at(amount, r).unwrap_or(0), rows.day[r]);
        count[o] += 1;
        let v = &mut value[o];
        *v = match field {
            "sum" | "average_check" => (*v).max(0).saturating_add(a),
            "items" => (*v).max(0) + at(items, r).unwrap_or(0),
            "max_check" => (*v).max(a),
            "first_at" => {
                if *v == NONE {
                    day
                } else {
                    (*v).min(day)
                }
            }
            // The window is in day order: the last row seen is the latest.
            "last_at" | "days_since_last" | "days_between" => day,
            "last_amount" => a,
            _ => *v,
        };
    }
    let joined = p.clients.get("client.registered_at").map(Column::numbers).unwrap_or(&[]);
    (0..len)
        .map(|o| match field {
            "count" => count[o],
            "sum" | "items" => value[o].max(0),
            "average_check" if count[o] > 0 => value[o] / count[o],
            "days_since_last" if value[o] != NONE => today - value[o],
            "days_between" if count[o] > 0 => {
                at(joined, o).map(|j| (value[o] - j).max(0) * 100 / count[o]).unwrap_or(NONE)
            }
            "average_check" | "days_since_last" | "days_between" => NONE,
            _ => value[o],
        })
        .collect()
}

/// The clients whose most frequent or latest store (among the selected rows) satisfies the condition.
fn stores(p: &Population, rows: &Rows, selected: &Bits, field: &str, op: Operator, values: &[String]) -> Bits {
    let Some(Column::Text { dict, codes }) = rows.columns.get("store") else { return Bits::none(p.len()) };
    let mut by_client: Vec<u32> = vec![0; p.len()];
    if field == "last_store" {
        let mut latest = vec![NONE; p.len()];
        for r in selected.rows() {
            let o = rows.owner[r] as usize;
            if rows.day[r] >= latest[o] {
                latest[o] = rows.day[r];
                by_client[o] = codes.get(r).copied().unwrap_or(0);
            }
        }
    } else {
        let mut counts: HashMap<(u32, u32), i64> = HashMap::new();
        for r in selected.rows() {
            *counts.entry((rows.owner[r], codes.get(r).copied().unwrap_or(0))).or_default() += 1;
        }
        let mut best: HashMap<u32, (i64, u32)> = HashMap::new();
        for ((owner, store), n) in counts {
            let b = best.entry(owner).or_insert((0, 0));
            // The most rows wins; a tie goes to the store that sorts first, so answers are stable.
            if store != 0 && (n > b.0 || (n == b.0 && dict.text(store) < dict.text(b.1))) {
                *b = (n, store);
            }
        }
        for (owner, (_, store)) in best {
            by_client[owner as usize] = store;
        }
    }
    let column = Column::Text { dict: dict.clone(), codes: by_client };
    text(p.len(), &column, op, values)
}

/// The clients owning a selected row whose text `column` satisfies `op` (sets: any of, all of,
/// none of, is set).
fn owners_by_text(
    p: &Population,
    rows: &Rows,
    selected: &Bits,
    column: &str,
    op: Operator,
    values: &[String],
    as_set: bool,
) -> Bits {
    let Some(col) = rows.columns.get(column) else {
        return if matches!(op, Operator::NoneOf | Operator::IsNotSet) {
            Bits::all(p.len())
        } else {
            Bits::none(p.len())
        };
    };
    if as_set && op == Operator::AllOf {
        let mut acc = Bits::all(p.len());
        for v in values {
            acc.and(&owners_by_text(p, rows, selected, column, Operator::AnyOf, std::slice::from_ref(v), true));
        }
        return acc;
    }
    let (row_op, negate) = match op {
        Operator::NoneOf if as_set => (Operator::AnyOf, true),
        Operator::IsNotSet if as_set => (Operator::IsSet, true),
        other => (other, false),
    };
    let mut matching = text(rows.len(), col, row_op, values);
    matching.and(selected);
    let mut owners = owners_of(p, rows, &matching);
    if negate {
        owners.not();
    }
    owners
}

fn owners_of(p: &Population, rows: &Rows, selected: &Bits) -> Bits {
    let mut owners = Bits::none(p.len());
    for r in selected.rows() {
        owners.set(rows.owner[r] as usize, true);
    }
    owners
}

/// The rows of `rows` a row-level condition selects.
fn row_matches(rows: &Rows, fact: &FactInfo, c: &Condition, cx: &Context<'_>) -> Bits {
    let op = Operator::try_from(c.operator).unwrap_or(Operator::Unspecified);
    let len = rows.len();
    if fact.name.ends_with(".date") || fact.name == "cards.issued_at" {
        return numbers(len, |r| rows.day.get(r).copied(), op, &c.values, 1, cx.today);
    }
    match fact.kind {
        FactType::Text | FactType::Id | FactType::Enum => match rows.columns.get(fact.name) {
            Some(Column::Text { dict, .. }) if matches!(op, Operator::Equal | Operator::AnyOf) => {
                // An indexed column finds the rows of a text without reading the others.
                let wanted = normalised(fact, &c.values, cx);
                let mut b = Bits::none(len);
                for code in wanted.iter().filter_map(|w| dict.find(w)) {
                    match rows.posting(fact.name, code) {
                        Some(found) => found.iter().for_each(|r| b.set(*r as usize, true)),
                        None => return text(len, &rows.columns[fact.name], op, &wanted),
                    }
                }
                b
            }
            Some(column) => text(len, column, op, &normalised(fact, &c.values, cx)),
            None if matches!(op, Operator::NotEqual | Operator::NoneOf | Operator::IsNotSet) => Bits::all(len),
            None => Bits::none(len),
        },
        _ => {
            let scale = if matches!(fact.kind, FactType::Money | FactType::Decimal) { 100 } else { 1 };
            let column = rows.columns.get(fact.name);
            let born = rows.columns.get("children.birth_date");
            let of = |r: usize| match fact.name {
                "children.age" => born.and_then(|b| b.number_at(r)).map(|d| years_between(d, cx.today)),
                _ => column.and_then(|col| col.number_at(r)),
            };
            numbers(len, of, op, &c.values, scale, cx.today)
        }
    }
}

/// A row fact with its dependent conditions: the clients with at least one row that matches them
/// all, where sums over rows (`purchase_lines.count >= 2`) are taken over the matching rows.
pub fn row_condition(p: &Population, table: &str, fact: &FactInfo, c: &Condition, cx: &Context<'_>) -> Bits {
    let empty = Rows::default();
    let rows = p.tables.get(table).unwrap_or(&empty);
    let mut selected = in_window(rows, c, cx);
    let mut sums: Vec<&Condition> = Vec::new();
    for cond in std::iter::once(c).chain(&c.dependent) {
        let Some(f) = facts::find(&cond.fact) else { return Bits::none(p.len()) };
        if ROW_SUMS.contains(&f.name) {
            sums.push(cond);
        } else {
            let mut m = row_matches(rows, f, cond, cx);
            if cond.exclude && !std::ptr::eq(cond, c) {
                m.not();
            }
            selected.and(&m);
        }
    }
    if sums.is_empty() {
        return owners_of(p, rows, &selected);
    }
    let mut owners = Bits::all(p.len());
    for cond in sums {
        let mut per_client = vec![0i64; p.len()];
        let column = rows.columns.get(cond.fact.as_str());
        for r in selected.rows() {
            let add = if cond.fact == "purchase_lines.count" {
                1
            } else {
                column.and_then(|col| col.number_at(r)).unwrap_or(0)
            };
            if let Some(acc) = per_client.get_mut(rows.owner[r] as usize) {
                *acc += add;
            }
        }
        let op = Operator::try_from(cond.operator).unwrap_or(Operator::Unspecified);
        let scale = if cond.fact == "purchase_lines.count" { 1 } else { 100 };
        let mut holds = numbers(p.len(), |row| per_client.get(row).copied(), op, &cond.values, scale, cx.today);
        if cond.exclude && !std::ptr::eq(cond, c) {
            holds.not();
        }
        owners.and(&holds);
    }
    // "Bought X, then at least twice" needs a line of X; "lines = 0" alone holds for no lines.
    if !ROW_SUMS.contains(&fact.name) {
        owners.and(&owners_of(p, rows, &selected));
    }
    owners
}
