//! Conditions answered from rows: a client's purchases and returns summed up over all time or a
//! window (count, sum, average and largest check, first and last dates, stores), and row facts
//! (purchase lines, return lines, cards, children, deliveries) with their dependent conditions.
use super::client::{normalised, numbers, text, years_between};
use super::{Context, days_of};
use crate::domain::bits::Bits;
use crate::domain::column::Column;
use crate::domain::facts::{self, FactInfo};
use crate::domain::population::{Population, Rows};
use loyalty_api::filter::v1::{Condition, FactType, Operator};
use std::collections::HashMap;

/// Facts summed up over a client's rows, not read from one row.
const ROW_SUMS: [&str; 3] = ["purchase_lines.count", "purchase_lines.quantity", "purchase_lines.amount"];

/// What one client's rows add up to.
#[derive(Clone, Copy, Default)]
struct Tally {
    count: i64,
    sum: i64,
    items: i64,
    max: Option<i64>,
    first: Option<i64>,
    last: Option<i64>,
    /// The amount and store of the latest row.
    last_amount: i64,
    last_store: u32,
}

/// The live rows of `table` in the condition's window.
fn in_window(rows: &Rows, c: &Condition, cx: &Context<'_>) -> Bits {
    let window = days_of(&c.window, cx.today);
    Bits::from_fn(rows.len(), |r| {
        rows.live.get(r) && window.is_none_or(|(from, to)| (from..=to).contains(&rows.day[r]))
    })
}

fn tallies(p: &Population, rows: &Rows, selected: &Bits) -> Vec<Tally> {
    let mut t = vec![Tally::default(); p.len()];
    let amount = rows.columns.get("amount");
    let items = rows.columns.get("items");
    let store = rows.columns.get("store");
    for r in selected.rows() {
        let (owner, day) = (rows.owner[r] as usize, rows.day[r]);
        let Some(acc) = t.get_mut(owner) else { continue };
        let a = amount.and_then(|c| c.number_at(r)).unwrap_or(0);
        acc.count += 1;
        acc.sum = acc.sum.saturating_add(a);
        acc.items += items.and_then(|c| c.number_at(r)).unwrap_or(0);
        acc.max = Some(acc.max.map_or(a, |m| m.max(a)));
        acc.first = Some(acc.first.map_or(day, |f| f.min(day)));
        if acc.last.is_none_or(|l| day >= l) {
            acc.last = Some(day);
            acc.last_amount = a;
            acc.last_store = match store {
                Some(Column::Text { codes, .. }) => codes.get(r).copied().unwrap_or(0),
                _ => 0,
            };
        }
    }
    t
}

/// `purchases.*` and `returns.*` facts of the client.
pub fn aggregate(p: &Population, table: &str, fact: &FactInfo, c: &Condition, cx: &Context<'_>) -> Bits {
    let op = Operator::try_from(c.operator).unwrap_or(Operator::Unspecified);
    let empty = Rows::default();
    let rows = p.tables.get(table).unwrap_or(&empty);
    let selected = in_window(rows, c, cx);
    let field = fact.name.split_once('.').map(|(_, f)| f).unwrap_or("");
    if fact.kind == FactType::Set {
        let column = match field {
            "stores" => "store",
            "sellers" => "seller",
            "promotions" => "promotion",
            _ => "promo_code",
        };
        return owners_by_text(p, rows, &selected, column, op, &normalised(fact, &c.values, cx), true);
    }
    let t = tallies(p, rows, &selected);
    if matches!(field, "most_frequent_store" | "last_store") {
        return stores(p, rows, &selected, &t, field, op, &normalised(fact, &c.values, cx));
    }
    let registered = p.clients.get("client.registered_at");
    let of = |row: usize| -> Option<i64> {
        let t = t.get(row)?;
        match field {
            "count" => Some(t.count),
            "items" => Some(t.items),
            "sum" => Some(t.sum),
            "average_check" => (t.count > 0).then(|| t.sum / t.count),
            "max_check" => t.max,
            "last_amount" => t.last.map(|_| t.last_amount),
            "first_at" => t.first,
            "last_at" => t.last,
            "days_since_last" => t.last.map(|l| cx.today - l),
            "days_between" => {
                let joined = registered.and_then(|c| c.number_at(row))?;
                let last = t.last?;
                (t.count > 0).then(|| (last - joined).max(0) * 100 / t.count)
            }
            _ => None,
        }
    };
    let scale = if matches!(fact.kind, FactType::Money | FactType::Decimal) { 100 } else { 1 };
    numbers(p.len(), of, op, &c.values, scale, cx.today)
}

/// The clients whose most frequent or latest store satisfies the condition.
fn stores(
    p: &Population,
    rows: &Rows,
    selected: &Bits,
    t: &[Tally],
    field: &str,
    op: Operator,
    values: &[String],
) -> Bits {
    let Some(Column::Text { dict, codes }) = rows.columns.get("store") else { return Bits::none(p.len()) };
    let mut by_client: Vec<u32> = vec![0; p.len()];
    if field == "last_store" {
        for (row, tally) in t.iter().enumerate() {
            by_client[row] = tally.last_store;
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
