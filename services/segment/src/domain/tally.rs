//! What a client's purchases and returns add up to over all time, kept as client columns so that
//! the most asked questions ("spent between 100 and 500", "sleeping 90 days") read one column
//! instead of every row. Recomputed from the client's own rows whenever they change (a purchase, a
//! return, a merge); questions over a window still go through the rows.
use super::column::{Column, NONE};
use super::population::Population;

pub const COUNT: &str = "purchases.all.count";
pub const SUM: &str = "purchases.all.sum";
pub const ITEMS: &str = "purchases.all.items";
pub const MAX: &str = "purchases.all.max";
pub const FIRST: &str = "purchases.all.first";
pub const LAST: &str = "purchases.all.last";
pub const LAST_AMOUNT: &str = "purchases.all.last_amount";
/// The code, in the purchases' `store` column, of the store of the latest purchase.
pub const LAST_STORE: &str = "purchases.all.last_store";
pub const RETURN_COUNT: &str = "returns.all.count";
pub const RETURN_SUM: &str = "returns.all.sum";
pub const RETURN_LAST: &str = "returns.all.last";
/// The stores of the client's purchase lines, as a set: "bought in a store other than S01" reads
/// one list per client instead of every line.
pub const LINE_STORES: &str = "purchase_lines.all.stores";
/// A line without a store, in [`LINE_STORES`] (no store id holds a NUL).
pub const NO_STORE: &str = "\u{0}";

/// The client's purchase and return totals, from their rows.
pub fn recompute(p: &mut Population, owner: u32) {
    let (mut count, mut sum, mut items, mut max, mut first, mut last, mut last_amount, mut last_store) =
        (0i64, 0i64, 0i64, NONE, NONE, NONE, NONE, NONE);
    if let Some(rows) = p.tables.get("purchases") {
        let amount = rows.columns.get("amount").map(Column::numbers).unwrap_or(&[]);
        let item_counts = rows.columns.get("items").map(Column::numbers).unwrap_or(&[]);
        let stores = match rows.columns.get("store") {
            Some(Column::Text { codes, .. }) => codes.as_slice(),
            _ => &[],
        };
        for &r in rows.rows_of(owner) {
            let r = r as usize;
            if !rows.live.get(r) {
                continue;
            }
            let a = amount.get(r).copied().filter(|v| *v != NONE).unwrap_or(0);
            let day = rows.day[r];
            count += 1;
            sum = sum.saturating_add(a);
            items += item_counts.get(r).copied().filter(|v| *v != NONE).unwrap_or(0);
            max = if max == NONE { a } else { max.max(a) };
            first = if first == NONE { day } else { first.min(day) };
            if last == NONE || day >= last {
                last = day;
                last_amount = a;
                last_store = i64::from(stores.get(r).copied().unwrap_or(0));
            }
        }
    }
    let (mut returns, mut returned, mut returned_last) = (0i64, 0i64, NONE);
    if let Some(rows) = p.tables.get("returns") {
        let amount = rows.columns.get("amount").map(Column::numbers).unwrap_or(&[]);
        for &r in rows.rows_of(owner) {
            let r = r as usize;
            if rows.live.get(r) {
                returns += 1;
                returned = returned.saturating_add(amount.get(r).copied().filter(|v| *v != NONE).unwrap_or(0));
                returned_last = returned_last.max(rows.day[r]);
            }
        }
    }
    let mut line_stores: Vec<String> = Vec::new();
    if let Some(rows) = p.tables.get("purchase_lines")
        && let Some(Column::Text { dict, codes }) = rows.columns.get("purchase_lines.store")
    {
        let mut seen: Vec<u32> = rows
            .rows_of(owner)
            .iter()
            .filter(|r| rows.live.get(**r as usize))
            .map(|r| codes.get(*r as usize).copied().unwrap_or(0))
            .collect();
        seen.sort_unstable();
        seen.dedup();
        line_stores = seen.into_iter().map(|c| if c == 0 { NO_STORE } else { dict.text(c) }.to_string()).collect();
    }
    let row = owner as usize;
    p.column(LINE_STORES, Column::set).put_set(row, &line_stores);
    let values = [
        (COUNT, count),
        (SUM, sum),
        (ITEMS, items),
        (MAX, max),
        (FIRST, first),
        (LAST, last),
        (LAST_AMOUNT, last_amount),
        (LAST_STORE, last_store),
        (RETURN_COUNT, returns),
        (RETURN_SUM, returned),
        (RETURN_LAST, returned_last),
    ];
    for (name, value) in values {
        p.column(name, Column::number).put_number(row, (value != NONE).then_some(value));
    }
}
