//! Conditions answered from rows: a client's purchases and returns summed up over all time or a
//! window (count, sum, average and largest check, first and last dates, stores), and row facts
//! (purchase lines, return lines, cards, children, deliveries) with their dependent conditions.
use super::client::{normalised, numbers, text, years_between};
use super::sums::{Asked, PerClient, all_time, scale, windowed};
use super::{Context, days_of, operator};
use crate::domain::bits::Bits;
use crate::domain::column::{Column, NONE};
use crate::domain::facts::{self, FactInfo};
use crate::domain::population::{Population, Rows};
use crate::domain::tally;
use loyalty_api::filter::v1::{Condition, FactType, Operator};
use std::collections::HashMap;

/// Facts summed up over a client's rows, not read from one row.
const ROW_SUMS: [&str; 3] = ["purchase_lines.count", "purchase_lines.quantity", "purchase_lines.amount"];

/// The live rows of `table` in the condition's window that belong to clients of `within`, as
/// bits over the table's rows. When `within` is a small part of the clients (a selective
/// condition came first), only their rows are taken.
fn rows_in(rows: &Rows, c: &Condition, cx: &Context<'_>, within: &Bits) -> Bits {
    let mut b = match days_of(&c.window, cx.today) {
        None => rows.live.clone(),
        Some((from, to)) => {
            let mut b = Bits::none(rows.len());
            for &r in rows.window(from, to) {
                b.set(r as usize, rows.live.get(r as usize));
            }
            b
        }
    };
    b.grow(rows.len());
    if let Some(theirs) = theirs(rows, within, b.count() as usize) {
        b.and(&theirs);
    }
    b
}

/// The rows of the clients of `within`, when reading them pays: a lookup per client is worth it
/// when they hold far fewer rows than the `window` (a store's clients among all the lines).
fn theirs(rows: &Rows, within: &Bits, window: usize) -> Option<Bits> {
    let their_rows = (within.count() as usize).saturating_mul(rows.len()) / within.len().max(1);
    if their_rows.saturating_mul(4) >= window {
        return None;
    }
    let mut theirs = Bits::none(rows.len());
    for owner in within.rows() {
        rows.rows_of(owner as u32).iter().for_each(|r| theirs.set(*r as usize, true));
    }
    Some(theirs)
}

/// `purchases.*` and `returns.*` facts of the client: all-time totals from the client's columns
/// (kept by `tally`), a window's from the rows of its days.
pub fn aggregate(p: &Population, table: &str, fact: &FactInfo, c: &Condition, cx: &Context<'_>, within: &Bits) -> Bits {
    let op = operator(c);
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
        let selected = rows_in(rows, c, cx, within);
        return owners_by_text(p, rows, &selected, column, op, &normalised(fact, &c.values, cx), true, within);
    }
    if matches!(field, "most_frequent_store" | "last_store") {
        let selected = rows_in(rows, c, cx, within);
        return stores(p, rows, &selected, field, op, &normalised(fact, &c.values, cx), within);
    }
    let asked = Asked { within, op, values: &c.values, scale: scale(fact), today: cx.today };
    match days_of(&c.window, cx.today) {
        None => all_time(p, table, field, &asked),
        Some((from, to)) => {
            let only = theirs(rows, within, rows.window(from, to).len());
            windowed(p, rows, (from, to), only.as_ref(), field, &asked)
        }
    }
}

/// The clients whose most frequent or latest store (among the selected rows) satisfies the condition.
fn stores(
    p: &Population,
    rows: &Rows,
    selected: &Bits,
    field: &str,
    op: Operator,
    values: &[String],
    within: &Bits,
) -> Bits {
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
    text(within, &column, op, values)
}

/// The clients of `within` owning a selected row whose text `column` satisfies `op` (sets: any
/// of, all of, none of, is set).
#[allow(clippy::too_many_arguments)]
fn owners_by_text(
    p: &Population,
    rows: &Rows,
    selected: &Bits,
    column: &str,
    op: Operator,
    values: &[String],
    as_set: bool,
    within: &Bits,
) -> Bits {
    let Some(col) = rows.columns.get(column) else {
        return if matches!(op, Operator::NoneOf | Operator::IsNotSet) { within.clone() } else { Bits::none(p.len()) };
    };
    if as_set && op == Operator::AllOf {
        let mut acc = within.clone();
        for v in values {
            let one = std::slice::from_ref(v);
            acc.and(&owners_by_text(p, rows, selected, column, Operator::AnyOf, one, true, within));
        }
        return acc;
    }
    let (row_op, negate) = match op {
        Operator::NoneOf if as_set => (Operator::AnyOf, true),
        Operator::IsNotSet if as_set => (Operator::IsSet, true),
        other => (other, false),
    };
    let matching = text(selected, col, row_op, values);
    let mut owners = owners_of(p, rows, &matching);
    owners.and(within);
    if negate {
        owners.not_within(within);
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

/// The rows of `within` (rows of the table) a row-level condition selects.
fn row_matches(rows: &Rows, fact: &FactInfo, c: &Condition, cx: &Context<'_>, within: &Bits) -> Bits {
    let op = operator(c);
    if fact.name.ends_with(".date") || fact.name == "cards.issued_at" {
        return numbers(within, |r| rows.day.get(r).copied(), op, &c.values, 1, cx.today);
    }
    match fact.kind {
        FactType::Text | FactType::Id | FactType::Enum => match rows.columns.get(fact.name) {
            Some(Column::Text { dict, .. }) if matches!(op, Operator::Equal | Operator::AnyOf) => {
                // An indexed column finds the rows of a text without reading the others.
                let wanted = normalised(fact, &c.values, cx);
                let mut b = Bits::none(within.len());
                for code in wanted.iter().filter_map(|w| dict.find(w)) {
                    match rows.posting(fact.name, code) {
                        Some(found) => found.iter().for_each(|r| b.set(*r as usize, true)),
                        None => return text(within, &rows.columns[fact.name], op, &wanted),
                    }
                }
                b.and(within);
                b
            }
            Some(column) => text(within, column, op, &normalised(fact, &c.values, cx)),
            None if matches!(op, Operator::NotEqual | Operator::NoneOf | Operator::IsNotSet) => within.clone(),
            None => Bits::none(within.len()),
        },
        _ => {
            let column = rows.columns.get(fact.name);
            let born = rows.columns.get("children.birth_date");
            let of = |r: usize| match fact.name {
                "children.age" => born.and_then(|b| b.number_at(r)).map(|d| years_between(d, cx.today)),
                _ => column.and_then(|col| col.number_at(r)),
            };
            numbers(within, of, op, &c.values, scale(fact), cx.today)
        }
    }
}

/// A row fact with its dependent conditions: the clients of `within` with at least one row that
/// matches them all, where sums over rows (`purchase_lines.count >= 2`) are taken over the
/// matching rows.
pub fn row_condition(
    p: &Population,
    table: &str,
    fact: &FactInfo,
    c: &Condition,
    cx: &Context<'_>,
    within: &Bits,
) -> Bits {
    let empty = Rows::default();
    let rows = p.tables.get(table).unwrap_or(&empty);
    let by_set = matches!(operator(c), Operator::Equal | Operator::AnyOf | Operator::NotEqual | Operator::NoneOf);
    if fact.name == "purchase_lines.store" && c.window.is_none() && c.dependent.is_empty() && by_set {
        return line_stores(p, c, cx, within);
    }
    let mut selected = rows_in(rows, c, cx, within);
    let mut sums: Vec<&Condition> = Vec::new();
    for cond in std::iter::once(c).chain(&c.dependent) {
        let Some(f) = facts::find(&cond.fact) else { return Bits::none(p.len()) };
        if ROW_SUMS.contains(&f.name) {
            sums.push(cond);
        } else {
            let mut m = row_matches(rows, f, cond, cx, &selected);
            if cond.exclude && !std::ptr::eq(cond, c) {
                m.not_within(&selected);
            }
            selected = m;
        }
    }
    let mut with_rows = owners_of(p, rows, &selected);
    with_rows.and(within);
    if sums.is_empty() {
        return with_rows;
    }
    let mut owners = within.clone();
    for cond in sums {
        let mut per_client = PerClient::new(p.len(), selected.count());
        let column = rows.columns.get(cond.fact.as_str());
        for r in selected.rows() {
            let add = if cond.fact == "purchase_lines.count" {
                1
            } else {
                column.and_then(|col| col.number_at(r)).unwrap_or(0)
            };
            *per_client.at(rows.owner[r] as usize) += add;
        }
        let op = operator(cond);
        let scale = if cond.fact == "purchase_lines.count" { 1 } else { 100 };
        let asked = Asked { within, op, values: &cond.values, scale, today: cx.today };
        let mut holds = asked.of_touched(&with_rows, |row| Some(per_client.get(row)), Some(0));
        if cond.exclude && !std::ptr::eq(cond, c) {
            holds.not_within(within);
        }
        owners.and(&holds);
    }
    // "Bought X, then at least twice" needs a line of X; "lines = 0" alone holds for no lines.
    if !ROW_SUMS.contains(&fact.name) {
        owners.and(&with_rows);
    }
    owners
}

/// `purchase_lines.store` over all time with nothing depending on it, from each client's set of
/// line stores (kept by `tally`; a line without a store is in it as [`tally::NO_STORE`]): a client
/// has a line in one of the stores (`=`, any of) or a line in a store that is not one of them
/// (`!=`, none of: "bought elsewhere").
fn line_stores(p: &Population, c: &Condition, cx: &Context<'_>, within: &Bits) -> Bits {
    let op = operator(c);
    let Some(column @ Column::Set { dict, members, .. }) = p.clients.get(tally::LINE_STORES) else {
        return Bits::none(within.len());
    };
    let wanted: Vec<String> =
        facts::find("purchase_lines.store").map(|f| normalised(f, &c.values, cx)).unwrap_or_default();
    let codes: Vec<u32> = wanted.iter().filter_map(|w| dict.find(w)).collect();
    let held = |r: usize| members.get(r).map(Vec::as_slice).unwrap_or(&[]);
    match op {
        Operator::Equal | Operator::AnyOf => {
            let mut b = Bits::none(within.len());
            codes.iter().flat_map(|code| column.holders(*code)).for_each(|r| b.set(*r as usize, true));
            b.and(within);
            b
        }
        Operator::NotEqual | Operator::NoneOf => {
            Bits::from_fn_within(within, |r| held(r).iter().any(|s| !codes.contains(s)))
        }
        _ => Bits::none(within.len()),
    }
}
