//! One fact for every row, stored as a column: texts by a dictionary code, numbers (amounts in
//! minor units, decimals in hundredths, dates as days since 1970-01-01, booleans as 0 and 1) as
//! `i64`, sets as lists of dictionary codes. Conditions are answered a column at a time.
use super::bits::Bits;
use std::collections::HashMap;

/// Distinct texts of a column, each with a code; code 0 is "no value".
#[derive(Clone, Debug)]
pub struct Dict {
    texts: Vec<String>,
    codes: HashMap<String, u32>,
}

impl Default for Dict {
    fn default() -> Self {
        Dict { texts: vec![String::new()], codes: HashMap::new() }
    }
}

impl Dict {
    /// The code of `text`, added when new; "" is code 0.
    pub fn code(&mut self, text: &str) -> u32 {
        if text.is_empty() {
            return 0;
        }
        if let Some(&c) = self.codes.get(text) {
            return c;
        }
        let c = self.texts.len() as u32;
        self.texts.push(text.to_string());
        self.codes.insert(text.to_string(), c);
        c
    }

    /// The code of `text` if the column ever held it.
    pub fn find(&self, text: &str) -> Option<u32> {
        self.codes.get(text).copied()
    }

    /// How many codes there are, "no value" included.
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.texts.len() <= 1
    }

    pub fn text(&self, code: u32) -> &str {
        self.texts.get(code as usize).map(String::as_str).unwrap_or("")
    }

    /// The codes whose text satisfies `pick`, as bits over codes.
    pub fn matching(&self, mut pick: impl FnMut(&str) -> bool) -> Bits {
        Bits::from_fn(self.texts.len(), |c| c != 0 && pick(&self.texts[c]))
    }
}

/// A number column's "no value" (no fact is ever `i64::MIN`).
pub const NONE: i64 = i64::MIN;

#[derive(Clone, Debug)]
pub enum Column {
    Text {
        dict: Dict,
        codes: Vec<u32>,
    },
    /// [`NONE`] where a row has no value.
    Number {
        values: Vec<i64>,
    },
    /// Each row's codes (sorted), and each code's rows (sorted): "tags any of (student)" reads
    /// the rows of one code instead of every row's list.
    Set {
        dict: Dict,
        members: Vec<Vec<u32>>,
        postings: Vec<Vec<u32>>,
    },
}

/// Adds `row` to a sorted list of rows (rows mostly come in order: then it is a push).
fn post(rows: &mut Vec<u32>, row: usize) {
    let row = row as u32;
    match rows.last() {
        Some(&last) if last >= row => {
            if let Err(at) = rows.binary_search(&row) {
                rows.insert(at, row);
            }
        }
        _ => rows.push(row),
    }
}

fn unpost(rows: &mut Vec<u32>, row: usize) {
    if let Ok(at) = rows.binary_search(&(row as u32)) {
        rows.remove(at);
    }
}

/// The postings of `code`, made when new.
fn posting(postings: &mut Vec<Vec<u32>>, code: u32) -> &mut Vec<u32> {
    let i = code as usize;
    if postings.len() <= i {
        postings.resize(i + 1, Vec::new());
    }
    &mut postings[i]
}

impl Column {
    pub fn text() -> Self {
        Column::Text { dict: Dict::default(), codes: Vec::new() }
    }

    pub fn number() -> Self {
        Column::Number { values: Vec::new() }
    }

    pub fn set() -> Self {
        Column::Set { dict: Dict::default(), members: Vec::new(), postings: Vec::new() }
    }

    /// Makes room for `rows` rows.
    pub fn grow(&mut self, rows: usize) {
        match self {
            Column::Text { codes, .. } if codes.len() < rows => codes.resize(rows, 0),
            Column::Number { values } if values.len() < rows => values.resize(rows, NONE),
            Column::Set { members, .. } if members.len() < rows => members.resize(rows, Vec::new()),
            _ => {}
        }
    }

    /// Sets a text (already normalised; "" clears it).
    pub fn put_text(&mut self, row: usize, text: &str) {
        self.grow(row + 1);
        if let Column::Text { dict, codes } = self {
            codes[row] = dict.code(text);
        }
    }

    /// The numbers, [`NONE`] where a row has none (empty for another kind of column).
    pub fn numbers(&self) -> &[i64] {
        match self {
            Column::Number { values } => values,
            _ => &[],
        }
    }

    /// Adds `by` to a row's number (a row without one starts at 0).
    pub fn add(&mut self, row: usize, by: i64) {
        self.grow(row + 1);
        if let Column::Number { values } = self {
            values[row] = if values[row] == NONE { by } else { values[row].saturating_add(by) };
        }
    }

    /// Sets a number, or clears it (`None`).
    pub fn put_number(&mut self, row: usize, value: Option<i64>) {
        self.grow(row + 1);
        if let Column::Number { values } = self {
            values[row] = value.unwrap_or(NONE);
        }
    }

    /// Replaces a row's set.
    pub fn put_set(&mut self, row: usize, items: &[String]) {
        self.grow(row + 1);
        if let Column::Set { dict, members, postings } = self {
            let mut codes: Vec<u32> = items.iter().map(|i| dict.code(i)).filter(|c| *c != 0).collect();
            codes.sort_unstable();
            codes.dedup();
            for gone in members[row].iter().filter(|c| codes.binary_search(c).is_err()) {
                unpost(posting(postings, *gone), row);
            }
            for new in codes.iter().filter(|c| members[row].binary_search(c).is_err()) {
                post(posting(postings, *new), row);
            }
            members[row] = codes;
        }
    }

    /// Adds one item to a row's set.
    pub fn add_to_set(&mut self, row: usize, item: &str) {
        self.grow(row + 1);
        if let Column::Set { dict, members, postings } = self {
            let code = dict.code(item);
            if code != 0
                && let Err(at) = members[row].binary_search(&code)
            {
                members[row].insert(at, code);
                post(posting(postings, code), row);
            }
        }
    }

    /// The rows holding set item `code`, in order (empty for another kind of column).
    pub fn holders(&self, code: u32) -> &[u32] {
        match self {
            Column::Set { postings, .. } => postings.get(code as usize).map(Vec::as_slice).unwrap_or(&[]),
            _ => &[],
        }
    }

    pub fn number_at(&self, row: usize) -> Option<i64> {
        match self {
            Column::Number { values } => values.get(row).copied().filter(|v| *v != NONE),
            _ => None,
        }
    }

    pub fn text_at(&self, row: usize) -> &str {
        match self {
            Column::Text { dict, codes } => codes.get(row).map(|c| dict.text(*c)).unwrap_or(""),
            _ => "",
        }
    }

    /// Moves what `from` holds to `to` where `to` holds nothing (a merge fills gaps).
    pub fn fill(&mut self, to: usize, from: usize) {
        let rows = to.max(from) + 1;
        self.grow(rows);
        match self {
            Column::Text { codes, .. } if codes[to] == 0 => codes[to] = codes[from],
            Column::Number { values } if values[to] == NONE => values[to] = values[from],
            Column::Set { members, postings, .. } => {
                let mut union = members[to].clone();
                for code in members[from].clone() {
                    if union.binary_search(&code).is_err() {
                        post(posting(postings, code), to);
                        union.push(code);
                    }
                }
                union.sort_unstable();
                members[to] = union;
            }
            _ => {}
        }
    }

    /// Forgets a row's value.
    pub fn clear(&mut self, row: usize) {
        match self {
            Column::Text { codes, .. } if row < codes.len() => codes[row] = 0,
            Column::Number { values } if row < values.len() => values[row] = NONE,
            Column::Set { members, postings, .. } if row < members.len() => {
                for code in std::mem::take(&mut members[row]) {
                    unpost(posting(postings, code), row);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_numbers_and_sets_keep_their_rows() {
        let mut city = Column::text();
        city.put_text(2, "vilnius");
        city.put_text(0, "kaunas");
        city.put_text(5, "vilnius");
        assert_eq!((city.text_at(0), city.text_at(1), city.text_at(5)), ("kaunas", "", "vilnius"));
        if let Column::Text { dict, .. } = &city {
            assert_eq!(
                dict.matching(|t| t.starts_with('v')).rows().collect::<Vec<_>>(),
                [dict.find("vilnius").unwrap_or(0) as usize]
            );
        }
        let mut age = Column::number();
        age.put_number(3, Some(40));
        assert_eq!((age.number_at(3), age.number_at(2)), (Some(40), None));
        age.fill(2, 3);
        assert_eq!(age.number_at(2), Some(40), "a merge fills a gap");
        let mut tags = Column::set();
        tags.put_set(1, &["vip".into(), "staff".into(), "vip".into()]);
        tags.add_to_set(1, "b2b");
        tags.add_to_set(1, "vip");
        if let Column::Set { members, .. } = &tags {
            assert_eq!(members[1].len(), 3);
        }
        let code = |tags: &Column, t: &str| match tags {
            Column::Set { dict, .. } => dict.find(t).unwrap_or(0),
            _ => 0,
        };
        let (vip, staff) = (code(&tags, "vip"), code(&tags, "staff"));
        tags.put_set(0, &["vip".into()]);
        assert_eq!(tags.holders(vip), [0, 1], "a row added before another keeps the postings in order");
        tags.put_set(1, &["staff".into()]);
        assert_eq!(
            (tags.holders(vip), tags.holders(staff)),
            (&[0][..], &[1][..]),
            "a replaced set leaves its old items"
        );
        tags.fill(3, 0);
        assert_eq!(tags.holders(vip), [0, 3], "a merge gives the survivor the merged client's items");
        tags.clear(0);
        assert_eq!(tags.holders(vip), [3], "a forgotten row holds nothing");
    }
}
