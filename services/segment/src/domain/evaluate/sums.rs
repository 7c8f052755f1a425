//! What a client's purchases and returns add up to: over all time from the tallied client
//! columns, over a window from the rows of its days. Only the clients with rows in the window are
//! summed up and asked; the others are answered once, as a client without rows.
use super::client::{at, numbers};
use crate::domain::bits::Bits;
use crate::domain::column::Column;
use crate::domain::facts::FactInfo;
use crate::domain::population::{Population, Rows};
use crate::domain::tally;
use loyalty_api::filter::v1::{FactType, Operator, Value};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

pub fn scale(fact: &FactInfo) -> i64 {
    if matches!(fact.kind, FactType::Money | FactType::Decimal) { 100 } else { 1 }
}

/// What a number condition asks, for the clients of `within`.
pub struct Asked<'a> {
    pub within: &'a Bits,
    pub op: Operator,
    pub values: &'a [Value],
    pub scale: i64,
    pub today: i64,
}

impl Asked<'_> {
    fn of(&self, of: impl Fn(usize) -> Option<i64>) -> Bits {
        numbers(self.within, of, self.op, self.values, self.scale, self.today)
    }

    /// Whether the condition holds for one value.
    fn holds_for(&self, value: Option<i64>) -> bool {
        numbers(&Bits::all(1), |_| value, self.op, self.values, self.scale, self.today).any()
    }

    /// The clients with rows (`touched`) answered from `of`; those without answered once from
    /// `absent` (what a client without rows has: 0 purchases, no last date).
    pub fn of_touched(&self, touched: &Bits, of: impl Fn(usize) -> Option<i64>, absent: Option<i64>) -> Bits {
        let mut held = numbers(touched, of, self.op, self.values, self.scale, self.today);
        if self.holds_for(absent) {
            let mut without = touched.clone();
            without.not_within(self.within);
            held.or(&without);
        }
        held
    }
}

/// The all-time value of `field` for the clients of `within`, from the tallied client columns.
pub fn all_time(p: &Population, table: &str, field: &str, a: &Asked<'_>) -> Bits {
    let col = |name: &str| p.clients.get(name).map(Column::numbers).unwrap_or(&[]);
    let today = a.today;
    let zero_if_none = |name: &str| {
        let values = col(name);
        a.of(|r| Some(at(values, r).unwrap_or(0)))
    };
    match (table, field) {
        ("purchases", "count") => zero_if_none(tally::COUNT),
        ("purchases", "items") => zero_if_none(tally::ITEMS),
        ("purchases", "sum") => zero_if_none(tally::SUM),
        ("purchases", "average_check") => {
            let (sum, count) = (col(tally::SUM), col(tally::COUNT));
            a.of(|r| at(count, r).filter(|n| *n > 0).and_then(|n| at(sum, r).map(|s| s / n)))
        }
        ("purchases", "max_check") => a.of(|r| at(col(tally::MAX), r)),
        ("purchases", "last_amount") => a.of(|r| at(col(tally::LAST_AMOUNT), r)),
        ("purchases", "first_at") => a.of(|r| at(col(tally::FIRST), r)),
        ("purchases", "last_at") => a.of(|r| at(col(tally::LAST), r)),
        ("purchases", "days_since_last") => {
            let last = col(tally::LAST);
            a.of(|r| at(last, r).map(|d| today - d))
        }
        ("purchases", "days_between") => {
            let (last, count, joined) = (col(tally::LAST), col(tally::COUNT), col("client.registered_at"));
            a.of(|r| {
                let n = at(count, r).filter(|n| *n > 0)?;
                Some((at(last, r)? - at(joined, r)?).max(0) * 100 / n)
            })
        }
        ("returns", "count") => zero_if_none(tally::RETURN_COUNT),
        ("returns", "sum") => zero_if_none(tally::RETURN_SUM),
        ("returns", "last_at") => a.of(|r| at(col(tally::RETURN_LAST), r)),
        ("returns", "days_since_last") => {
            let last = col(tally::RETURN_LAST);
            a.of(|r| at(last, r).map(|d| today - d))
        }
        _ => a.of(|_| None),
    }
}

/// What a windowed fact sums up per client.
#[derive(Clone, Copy, PartialEq)]
enum Sum {
    Count,
    Amount,
    Average,
    Items,
    Max,
    First,
    Last,
    LastAmount,
    DaysSince,
    DaysBetween,
}

impl Sum {
    fn of(field: &str) -> Option<Sum> {
        Some(match field {
            "count" => Sum::Count,
            "sum" => Sum::Amount,
            "average_check" => Sum::Average,
            "items" => Sum::Items,
            "max_check" => Sum::Max,
            "first_at" => Sum::First,
            "last_at" => Sum::Last,
            "last_amount" => Sum::LastAmount,
            "days_since_last" => Sum::DaysSince,
            "days_between" => Sum::DaysBetween,
            _ => return None,
        })
    }
}

/// The value of `field` over the live rows of the window `days` (only those of `only` when given:
/// the rows of the clients asked about, when they are few): only the clients of `within` with rows
/// there are summed up and asked; the others are answered once, as a client without rows. The
/// window is read in day order, with the owners and amounts that lie beside it: the cost of a
/// window is the rows in it.
pub fn windowed(
    p: &Population,
    rows: &Rows,
    days: (i64, i64),
    only: Option<&Bits>,
    field: &str,
    a: &Asked<'_>,
) -> Bits {
    let Some(sum) = Sum::of(field) else { return Bits::none(p.len()) };
    let len = p.len();
    let (from, to) = days;
    let items = rows.columns.get("items").map(Column::numbers).unwrap_or(&[]);
    let selected = |r: usize| rows.live.get(r) && only.is_none_or(|o| o.get(r));
    let mut touched = Bits::none(len);
    // "Bought at least once in the window" needs to know who bought, not how often.
    let asks = |n: i64| a.holds_for(Some(n));
    let monotonic =
        matches!(a.op, Operator::Less | Operator::LessOrEqual | Operator::Greater | Operator::GreaterOrEqual);
    if sum == Sum::Count && monotonic && asks(1) == asks(i64::from(u32::MAX)) {
        rows.each_in_window(from, to, |w| {
            if selected(w.row) {
                touched.set(w.owner, true);
            }
        });
        touched.and(a.within);
        return a.of_touched(&touched, |_| Some(1), Some(0));
    }
    // "At least twice": counts that stop at 255 answer the same, in a byte per client.
    if sum == Sum::Count && monotonic && asks(255) == asks(i64::from(u32::MAX)) {
        let mut counts = vec![0u8; len];
        rows.each_in_window(from, to, |w| {
            if selected(w.row)
                && let Some(n) = counts.get_mut(w.owner)
            {
                *n = n.saturating_add(1);
            }
        });
        touched = Bits::from_fn_within(a.within, |o| counts[o] > 0);
        return a.of_touched(&touched, |o| Some(i64::from(counts[o])), Some(0));
    }
    let counted = matches!(sum, Sum::Count | Sum::Average | Sum::DaysBetween);
    // No more clients have rows here than are asked about.
    let expected = (rows.window(from, to).len() as u64).min(a.within.count());
    let mut count = PerClient::new(if counted { len } else { 0 }, expected);
    let mut value = PerClient::new(if sum == Sum::Count { 0 } else { len }, expected);
    // The latest day seen per client, for the amount of their last purchase.
    let mut latest = PerClient::new(if sum == Sum::LastAmount { len } else { 0 }, expected);
    rows.each_in_window(from, to, |w| {
        let (r, o, amt) = (w.row, w.owner, w.amount);
        if !selected(r) || !a.within.get(o) {
            return;
        }
        let first = !touched.get(o);
        touched.set(o, true);
        if counted {
            *count.at(o) += 1;
        }
        let day = || rows.day[r];
        match sum {
            Sum::Count => {}
            Sum::Amount | Sum::Average => {
                let v = value.at(o);
                *v = v.saturating_add(amt);
            }
            Sum::Items => *value.at(o) += at(items, r).unwrap_or(0),
            Sum::Max if first => *value.at(o) = amt,
            Sum::Max => *value.at(o) = value.get(o).max(amt),
            Sum::First if first => *value.at(o) = day(),
            Sum::First => *value.at(o) = value.get(o).min(day()),
            Sum::Last | Sum::DaysSince | Sum::DaysBetween if first => *value.at(o) = day(),
            Sum::Last | Sum::DaysSince | Sum::DaysBetween => *value.at(o) = value.get(o).max(day()),
            // A later row of the same day is the later purchase (rows of a day keep their order).
            Sum::LastAmount => {
                if first || day() >= latest.get(o) {
                    *latest.at(o) = day();
                    *value.at(o) = amt;
                }
            }
        }
    });
    touched.and(a.within);
    let joined = p.clients.get("client.registered_at").map(Column::numbers).unwrap_or(&[]);
    let today = a.today;
    let of = |o: usize| {
        let (n, v) = (count.get(o), value.get(o));
        match sum {
            Sum::Count => Some(n),
            Sum::Average => Some(v / n.max(1)),
            Sum::DaysSince => Some(today - v),
            Sum::DaysBetween => at(joined, o).map(|j| (v - j).max(0) * 100 / n.max(1)),
            _ => Some(v),
        }
    };
    let absent = matches!(sum, Sum::Count | Sum::Amount | Sum::Items).then_some(0);
    a.of_touched(&touched, of, absent)
}

/// A figure per client summed up over rows, starting at 0: a map when the rows are few next to the
/// clients (a product's lines), a column when they are many (a month's purchases). Either way no
/// question allocates and clears megabytes it does not need.
pub enum PerClient {
    Column(Vec<i64>),
    Map(HashMap<u32, i64, BuildHasherDefault<RowHasher>>),
}

/// Client rows hashed by one multiplication: they are small distinct numbers of ours, not text a
/// caller chose (nothing to flood), and SipHash took a quarter of a window's sum.
#[derive(Default)]
pub struct RowHasher(u64);

impl Hasher for RowHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u32(u32::from(*b) ^ (self.0 as u32));
        }
    }

    fn write_u32(&mut self, n: u32) {
        let m = u128::from(n) * 0x9E37_79B9_7F4A_7C15;
        self.0 ^= (m as u64) ^ ((m >> 64) as u64);
    }
}

impl PerClient {
    /// For `clients` clients (0 when the figure is not needed) and about `rows` rows.
    pub fn new(clients: usize, rows: u64) -> Self {
        match usize::try_from(rows) {
            Ok(rows) if rows.saturating_mul(32) < clients => {
                PerClient::Map(HashMap::with_capacity_and_hasher(rows, Default::default()))
            }
            _ => PerClient::Column(vec![0; clients]),
        }
    }

    pub fn at(&mut self, client: usize) -> &mut i64 {
        match self {
            PerClient::Column(v) => {
                if client >= v.len() {
                    v.resize(client + 1, 0);
                }
                &mut v[client]
            }
            PerClient::Map(m) => m.entry(client as u32).or_insert(0),
        }
    }

    pub fn get(&self, client: usize) -> i64 {
        match self {
            PerClient::Column(v) => v.get(client).copied().unwrap_or(0),
            PerClient::Map(m) => m.get(&(client as u32)).copied().unwrap_or(0),
        }
    }
}
