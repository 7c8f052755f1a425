//! Customer-type analytics (SE-8, seed 004): new vs returning orders over time, the day-of-week
//! table, the most bought products per type, the group value index, and the second purchase.
//!
//! A "new" order is one placed on the buyer's first purchase day (their first order ever, with
//! any other order that same day); every later order is "returning". Only the `seen` clients'
//! purchases count.
use super::bits::Bits;
use super::column::{Column, NONE};
use super::dashboard::{Granularity, buckets};
use super::evaluate::date_of;
use super::population::Population;
use super::tally;

/// New and returning, in that order.
pub const TYPES: [&str; 2] = ["new", "returning"];

/// What a set of orders adds up to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Orders {
    pub orders: i64,
    pub revenue: i64,
    pub items: i64,
}

impl Orders {
    fn add(&mut self, revenue: i64, items: i64) {
        self.orders += 1;
        self.revenue = self.revenue.saturating_add(revenue);
        self.items += items;
    }

    pub fn average_basket(&self) -> i64 {
        if self.orders == 0 { 0 } else { self.revenue / self.orders }
    }

    pub fn items_per_order_milli(&self) -> i64 {
        if self.orders == 0 { 0 } else { self.items * 1000 / self.orders }
    }
}

/// A product's pieces bought by one customer type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Product {
    pub kind: usize,
    pub sku: String,
    pub name: String,
    pub quantity_milli: i64,
    pub orders: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Analytics {
    /// Per bucket (its first day): new, returning.
    pub over_time: Vec<(i64, [Orders; 2])>,
    /// Per ISO weekday 1..=7: new, returning; and how many such days the period holds.
    pub by_weekday: Vec<(u8, [Orders; 2], i64)>,
    pub totals: [Orders; 2],
    pub top: Vec<Product>,
    pub second_purchase_rate_bp: i64,
    pub median_days_to_second: i64,
}

/// A window's rows in row order: the columns are then read front to back instead of wherever a
/// row of that day happens to lie (rows loaded client by client lie scattered over the days).
fn in_row_order(window: &[u32]) -> Vec<u32> {
    let mut rows = window.to_vec();
    rows.sort_unstable();
    rows
}

fn numbers<'a>(columns: &'a std::collections::HashMap<&'static str, Column>, name: &str) -> &'a [i64] {
    columns.get(name).map(Column::numbers).unwrap_or(&[])
}

fn at(values: &[i64], r: usize) -> i64 {
    values.get(r).copied().filter(|v| *v != NONE).unwrap_or(0)
}

/// The analytics of `from..=to` by `g`, the `top` products per type.
pub fn analyse(p: &Population, seen: &Bits, from: i64, to: i64, g: Granularity, top: usize) -> Analytics {
    let first = numbers(&p.clients, tally::FIRST);
    let kind_of = |owner: usize, day: i64| usize::from(first.get(owner).copied() != Some(day));
    let spans = buckets(from, to, g);
    let mut a = Analytics {
        over_time: spans.iter().map(|(start, _)| (*start, [Orders::default(); 2])).collect(),
        by_weekday: (1..=7).map(|d| (d, [Orders::default(); 2], 0)).collect(),
        ..Default::default()
    };
    for day in from..=to {
        a.by_weekday[date_of(day).weekday().number_days_from_monday() as usize].2 += 1;
    }
    // The lines, the most rows, are tallied on a second thread beside the orders.
    std::thread::scope(|s| {
        let tallied = s.spawn(|| products(p, seen, from, to, &kind_of, top));
        orders(p, seen, (from, to), &spans, &kind_of, &mut a);
        (a.second_purchase_rate_bp, a.median_days_to_second) = second_purchase(p, seen, from, to);
        a.top = match tallied.join() {
            Ok(top) => top,
            Err(panic) => std::panic::resume_unwind(panic),
        };
    });
    a
}

/// Adds the orders of the purchases window to `a`'s buckets, weekdays and totals by type.
fn orders(
    p: &Population,
    seen: &Bits,
    (from, to): (i64, i64),
    spans: &[(i64, i64)],
    kind_of: &dyn Fn(usize, i64) -> usize,
    a: &mut Analytics,
) {
    if let Some(rows) = p.tables.get("purchases") {
        let (amount, items) = (numbers(&rows.columns, "amount"), numbers(&rows.columns, "items"));
        for r in in_row_order(rows.window(from, to)) {
            let r = r as usize;
            let owner = rows.owner[r] as usize;
            if !rows.live.get(r) || !seen.get(owner) {
                continue;
            }
            let (day, kind) = (rows.day[r], kind_of(owner, rows.day[r]));
            let (revenue, pieces) = (at(amount, r), at(items, r));
            let bucket = spans.partition_point(|s| s.1 < day).min(spans.len().saturating_sub(1));
            a.over_time[bucket].1[kind].add(revenue, pieces);
            a.by_weekday[date_of(day).weekday().number_days_from_monday() as usize].1[kind].add(revenue, pieces);
            a.totals[kind].add(revenue, pieces);
        }
    }
}

fn products(
    p: &Population,
    seen: &Bits,
    from: i64,
    to: i64,
    kind_of: &dyn Fn(usize, i64) -> usize,
    top: usize,
) -> Vec<Product> {
    let Some(lines) = p.tables.get("purchase_lines") else { return Vec::new() };
    let (Some(Column::Text { dict: skus, codes: sku_codes }), quantity) =
        (lines.columns.get("purchase_lines.sku"), numbers(&lines.columns, "purchase_lines.quantity"))
    else {
        return Vec::new();
    };
    let names = match lines.columns.get("purchase_lines.name") {
        Some(Column::Text { dict, codes }) => Some((dict, codes)),
        _ => None,
    };
    // Per type, per SKU code: pieces (hundredths), lines, and a name code.
    let mut tally = [vec![(0i64, 0i64, 0u32); skus.len()], vec![(0i64, 0i64, 0u32); skus.len()]];
    for l in in_row_order(lines.window(from, to)) {
        let l = l as usize;
        let owner = lines.owner[l] as usize;
        if !lines.live.get(l) || !seen.get(owner) {
            continue;
        }
        let code = sku_codes.get(l).copied().unwrap_or(0);
        if code == 0 {
            continue;
        }
        let Some(entry) = tally[kind_of(owner, lines.day[l])].get_mut(code as usize) else { continue };
        if entry.1 == 0 {
            entry.2 = names.and_then(|(_, c)| c.get(l).copied()).unwrap_or(0);
        }
        entry.0 += at(quantity, l);
        entry.1 += 1;
    }
    let mut out = Vec::new();
    for (kind, per_sku) in tally.into_iter().enumerate() {
        let mut ranked: Vec<(u32, (i64, i64, u32))> =
            per_sku.into_iter().enumerate().filter(|(_, t)| t.1 > 0).map(|(code, t)| (code as u32, t)).collect();
        ranked.sort_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| skus.text(a.0).cmp(skus.text(b.0))));
        for (code, (hundredths, orders, name)) in ranked.into_iter().take(top) {
            out.push(Product {
                kind,
                sku: skus.text(code).to_string(),
                name: names.map(|(d, _)| d.text(name).to_string()).unwrap_or_default(),
                quantity_milli: hundredths * 10,
                orders,
            });
        }
    }
    out
}

/// Of the seen clients whose first purchase lies in `from..=to`: the share (basis points) who
/// bought again (a second order, on any later day or the same one), and the median days from
/// the first order to the second.
fn second_purchase(p: &Population, seen: &Bits, from: i64, to: i64) -> (i64, i64) {
    let first = numbers(&p.clients, tally::FIRST);
    let Some(rows) = p.tables.get("purchases") else { return (0, 0) };
    let (mut starters, mut gaps) = (0i64, Vec::new());
    for r in seen.rows() {
        let Some(&f) = first.get(r).filter(|f| **f != NONE && (from..=to).contains(*f)) else { continue };
        starters += 1;
        let days = super::history::days_of(rows, r as u32);
        if days.len() >= 2 {
            gaps.push(days[1] - f);
        }
    }
    if starters == 0 {
        return (0, 0);
    }
    gaps.sort_unstable();
    let median = match gaps.len() {
        0 => 0,
        n if n % 2 == 1 => gaps[n / 2],
        n => (gaps[n / 2 - 1] + gaps[n / 2]) / 2,
    };
    (gaps.len() as i64 * 10_000 / starters, median)
}

#[cfg(test)]
mod tests;
