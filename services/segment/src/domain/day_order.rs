//! A table's rows in day order, for windows ("the last 30 days" is one stretch of it). For a table
//! with amounts (purchases, returns) each placed row's owner and amount lie beside it, so that a
//! window's counts and sums read one stretch of memory. Rows loaded client by client (a rebuild,
//! a new replica, an import) lie scattered by day over the table's columns: read through the row
//! numbers, a month's purchases cost a cache miss each for the owner and another for the amount.
use super::column::NONE;
use std::ops::Range;

/// A row not placed yet: it waits for [`DayOrder::settle`].
const UNPLACED: u32 = u32::MAX;

#[derive(Clone, Debug, Default)]
pub struct DayOrder {
    /// The rows by day, and within a day in the order they came.
    rows: Vec<u32>,
    /// Rows that came out of day order since the last settle (an import, a rebuild).
    pending: Vec<u32>,
    /// Beside `rows`, for a table with amounts: each placed row's owner and amount (0 for none).
    owners: Vec<u32>,
    amounts: Vec<i64>,
    /// Each row's place in `rows`, while `owners` and `amounts` are kept.
    place: Vec<u32>,
}

/// A row of a window: its number, its owner and its amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placed {
    pub row: usize,
    pub owner: usize,
    pub amount: i64,
}

impl DayOrder {
    /// Row `r`, of `day`, was added (rows mostly come in day order: then this is a push).
    pub fn add(&mut self, r: u32, day: i64, days: &[i64]) {
        match self.rows.last() {
            Some(&last) if days[last as usize] > day => self.pending.push(r),
            _ => self.rows.push(r),
        }
    }

    pub fn is_settled(&self) -> bool {
        self.pending.is_empty()
    }

    /// Puts the rows that came out of day order into the day order, one merge per batch of events
    /// instead of one insert (a move of every later row) per row; then brings the owners and
    /// amounts beside the rows up to date when `amounts` are kept.
    pub fn settle(&mut self, days: &[i64], owners: &[u32], amounts: Option<&[i64]>) {
        let merged = !self.pending.is_empty();
        if merged {
            let mut late = std::mem::take(&mut self.pending);
            late.sort_by_key(|&r| (days[r as usize], r));
            let mut all = Vec::with_capacity(self.rows.len() + late.len());
            let (mut a, mut b) = (self.rows.iter().peekable(), late.iter().peekable());
            while let (Some(&&x), Some(&&y)) = (a.peek(), b.peek()) {
                if days[x as usize] <= days[y as usize] {
                    all.push(x);
                    a.next();
                } else {
                    all.push(y);
                    b.next();
                }
            }
            all.extend(a);
            all.extend(b);
            self.rows = all;
        }
        let Some(amounts) = amounts else { return };
        // Rows pushed in day order since the last settle are a tail; a merge moved every place.
        let from = if merged { 0 } else { self.owners.len() };
        self.owners.truncate(from);
        self.amounts.truncate(from);
        self.place.resize(owners.len(), UNPLACED);
        for (i, &r) in self.rows.iter().enumerate().skip(from) {
            let r = r as usize;
            self.owners.push(owners[r]);
            self.amounts.push(amounts.get(r).copied().filter(|a| *a != NONE).unwrap_or(0));
            self.place[r] = i as u32;
        }
    }

    /// The places of the rows whose day lies in `from..=to` (after a settle).
    pub fn span(&self, from: i64, to: i64, days: &[i64]) -> Range<usize> {
        debug_assert!(self.pending.is_empty(), "settle the rows before reading a window");
        let lo = self.rows.partition_point(|&x| days[x as usize] < from);
        let hi = self.rows.partition_point(|&x| days[x as usize] <= to);
        lo..hi.max(lo)
    }

    pub fn rows(&self, span: Range<usize>) -> &[u32] {
        &self.rows[span]
    }

    /// The rows of `span` with their owners and amounts, read beside the rows when they are kept
    /// and from `owners` and `amounts` (by row) when not.
    pub fn each(&self, span: Range<usize>, owners: &[u32], amounts: &[i64], mut f: impl FnMut(Placed)) {
        if self.owners.len() >= span.end {
            let rows = self.rows[span.clone()].iter();
            for ((&r, &owner), &amount) in rows.zip(&self.owners[span.clone()]).zip(&self.amounts[span]) {
                f(Placed { row: r as usize, owner: owner as usize, amount });
            }
            return;
        }
        for &r in &self.rows[span] {
            let r = r as usize;
            let amount = amounts.get(r).copied().filter(|a| *a != NONE).unwrap_or(0);
            f(Placed { row: r, owner: owners[r] as usize, amount });
        }
    }

    /// Row `r` now belongs to `owner` (a card moved, a client merged).
    pub fn moved(&mut self, r: usize, owner: u32) {
        if let Some(i) = self.placed(r) {
            self.owners[i] = owner;
        }
    }

    /// Row `r`'s amount is now `amount` (a purchase partly returned).
    pub fn amount_changed(&mut self, r: usize, amount: i64) {
        if let Some(i) = self.placed(r) {
            self.amounts[i] = amount;
        }
    }

    fn placed(&self, r: usize) -> Option<usize> {
        let i = *self.place.get(r)? as usize;
        (i < self.owners.len()).then_some(i)
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::column::Column;
    use crate::domain::day_order::Placed;
    use crate::domain::population::Rows;

    /// What a window reads beside the day order, and what the rows themselves hold.
    fn both(rows: &Rows) -> (Vec<Placed>, Vec<Placed>) {
        let mut kept = Vec::new();
        rows.each_in_window(0, 100, |w| kept.push(w));
        let amounts = rows.columns["amount"].numbers();
        let truth = rows
            .window(0, 100)
            .iter()
            .map(|&r| {
                let r = r as usize;
                Placed { row: r, owner: rows.owner[r] as usize, amount: amounts[r].max(0) }
            })
            .collect();
        (kept, truth)
    }

    #[test]
    fn the_owners_and_amounts_beside_a_window_follow_late_rows_moves_and_returns() {
        let mut rows = Rows::default();
        for (owner, day, amount) in [(0, 10, 500), (1, 12, 700), (2, 5, 300), (3, 12, 100)] {
            let r = rows.add(owner, day);
            rows.put_amount(r, amount);
        }
        rows.settle();
        let (kept, truth) = both(&rows);
        assert_eq!(kept, truth);
        assert_eq!(kept.iter().map(|w| w.row).collect::<Vec<_>>(), [2, 0, 1, 3], "by day, a day's rows in order");

        // A row in day order, one out of it, a purchase partly returned, a client merged.
        let r = rows.add(4, 13);
        rows.put_amount(r, 900);
        let late = rows.add(5, 1);
        rows.column("amount", Column::number).put_number(late, Some(50));
        rows.put_amount(1, 650);
        rows.reown(0, 4);
        rows.set_owner(3, 2);
        rows.settle();
        let (kept, truth) = both(&rows);
        assert_eq!(kept, truth);
        assert_eq!(kept[0], Placed { row: late, owner: 5, amount: 50 });

        // Without a merge: a tail pushed in order, then changes to rows already placed.
        let r = rows.add(6, 20);
        rows.put_amount(r, 10);
        rows.settle();
        rows.put_amount(0, 0);
        rows.reown(4, 6);
        let (kept, truth) = both(&rows);
        assert_eq!(kept, truth);
        assert_eq!(kept.iter().filter(|w| w.owner == 6).count(), 3);
    }

    #[test]
    fn a_table_without_amounts_reads_its_owners_by_row() {
        let mut rows = Rows::default();
        rows.add(7, 3);
        rows.add(8, 2);
        rows.settle();
        let mut seen = Vec::new();
        rows.each_in_window(0, 10, |w| seen.push((w.row, w.owner, w.amount)));
        assert_eq!(seen, [(1, 8, 0), (0, 7, 0)]);
    }
}
