//! The lines of one check kept together in a purchase-history file with lines: a batch is never
//! cut between two rows of one check (so a check is recorded whole, and a job resumes at a check's
//! first line), and a check of more than [`MAX_LINES`] lines is refused whole, its every row
//! reported.
use crate::domain::layout::Layout;
use crate::reader::Item;

/// The most lines a check of a history file may have.
pub const MAX_LINES: usize = 500;

/// The check the batch's last rows belong to.
#[derive(Default)]
pub struct Checks {
    /// Its store and check id, and how many of its lines the batch holds.
    last: Option<(String, String)>,
    lines: usize,
    /// A check refused for its length: its later rows are refused too.
    oversized: Option<(String, String)>,
}

impl Checks {
    /// Whether `row` is a further line of the last row's check.
    pub fn goes_on(&self, layout: &Layout, row: &Item) -> bool {
        match (layout.check_of(row.cells()), &self.last) {
            (Some((store, check)), Some((s, c))) => store == s && check == c,
            _ => false,
        }
    }

    /// Adds `row` to `batch`, refusing its check's every row once it has too many lines.
    pub fn push(&mut self, layout: &Layout, batch: &mut Vec<Item>, row: Item) {
        let Some(key) = layout.check_of(row.cells()).map(|(s, c)| (s.to_string(), c.to_string())) else {
            (self.last, self.lines) = (None, 0);
            batch.push(row);
            return;
        };
        if self.oversized.as_ref() == Some(&key) {
            batch.push(too_long(row, &key));
            return;
        }
        if self.goes_on(layout, &row) {
            self.lines += 1;
        } else {
            (self.last, self.lines) = (Some(key.clone()), 1);
        }
        batch.push(row);
        if self.lines > MAX_LINES {
            let first = batch.len() - self.lines;
            for item in &mut batch[first..] {
                let row = std::mem::replace(item, Item::End { rows: 0 });
                *item = too_long(row, &key);
            }
            (self.oversized, self.last, self.lines) = (Some(key), None, 0);
        }
    }
}

/// `row` refused because its check has too many lines.
fn too_long(row: Item, (store, check): &(String, String)) -> Item {
    let reason = format!(
        "check {check:?} of store {store:?} has more than {MAX_LINES} lines: a check is imported whole, so none of \
         it was"
    );
    match row {
        Item::Row { number, cells } => Item::Refused { number, cells, reason },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn layout() -> Layout {
        let header: Vec<String> =
            ["El. paštas", "Čekio nr.", "Pirkimo data", "Prekės kodas", "Suma", "Parduotuvė"].map(String::from).into();
        Layout::read_purchases(&header, &BTreeMap::new()).expect("a layout with lines")
    }

    fn line(number: i64, check: &str) -> Item {
        let cells = ["ona@example.lt", check, "2021-05-04", "KAVA", "1,00", "VLN-01"].map(String::from).into();
        Item::Row { number, cells }
    }

    #[test]
    fn a_check_goes_on_while_its_rows_name_it() {
        let (layout, mut checks, mut batch) = (layout(), Checks::default(), Vec::new());
        checks.push(&layout, &mut batch, line(2, "K-1"));
        assert!(checks.goes_on(&layout, &line(3, "K-1")));
        assert!(!checks.goes_on(&layout, &line(3, "K-2")));
        assert!(!checks.goes_on(&layout, &line(3, "")), "a row without a check is its own");
    }

    #[test]
    fn a_check_of_too_many_lines_is_refused_whole() {
        let (layout, mut checks, mut batch) = (layout(), Checks::default(), Vec::new());
        checks.push(&layout, &mut batch, line(2, "K-0"));
        for n in 0..MAX_LINES as i64 + 3 {
            checks.push(&layout, &mut batch, line(3 + n, "K-1"));
        }
        checks.push(&layout, &mut batch, line(900, "K-2"));
        let refused = batch.iter().filter(|i| matches!(i, Item::Refused { .. })).count();
        assert_eq!(refused, MAX_LINES + 3, "every line of K-1, none of the others");
        assert!(matches!(batch[0], Item::Row { .. }) && matches!(batch.last(), Some(Item::Row { .. })));
    }
}
