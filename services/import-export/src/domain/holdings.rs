//! What a row of a migration's card or balance file means (IE-1): the holder by client id,
//! e-mail or phone, and a card number with the day the other system issued it and its store, or
//! the points the client had there with their expiry.
use super::cells::{Problem, moment, text_of};
use super::layout::{Field, Layout};
use time::OffsetDateTime;

/// How a card row names its holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holder {
    Id(String),
    Email(String),
    Phone(String),
}

/// A card a migration brings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardRow {
    pub number: String,
    pub holder: Holder,
    pub issued_at: Option<OffsetDateTime>,
    pub store_id: String,
}

/// A migrated opening balance: the points the client had and until when they are valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalanceRow {
    pub holder: Holder,
    pub points: i64,
    pub expires_at: Option<OffsetDateTime>,
}

/// The readable cells of a row by field, and the problems of the others.
fn read<'a>(layout: &Layout, cells: &'a [String], max_cell_chars: usize) -> (Vec<(Field, &'a str)>, Vec<Problem>) {
    let (mut values, mut problems) = (Vec::new(), Vec::new());
    for (i, field) in layout.columns.iter().enumerate() {
        let Some(field) = field else { continue };
        match text_of(*field, &layout.header[i], cells.get(i), max_cell_chars) {
            Ok(value) => values.push((*field, value)),
            Err(problem) => problems.push(problem),
        }
    }
    (values, problems)
}

/// The holder a row names: by client id, else e-mail, else phone.
fn holder(layout: &Layout, values: &[(Field, &str)], problems: &mut Vec<Problem>) -> Option<Holder> {
    let given = |field: Field| values.iter().find(|(f, v)| *f == field && !v.is_empty()).map(|(_, v)| v.to_string());
    let found = given(Field::ClientId)
        .map(Holder::Id)
        .or_else(|| given(Field::Email).map(Holder::Email))
        .or_else(|| given(Field::Phone).map(Holder::Phone));
    if found.is_none() {
        let column = [Field::ClientId, Field::Email, Field::Phone].into_iter().find_map(|f| layout.column_of(f));
        problems
            .push((column.unwrap_or("row").to_string(), "names no holder: give a client id, e-mail or phone".into()));
    }
    found
}

/// The time `value` of `column`, or a problem.
fn when(column: &str, value: &str, problems: &mut Vec<Problem>) -> Option<OffsetDateTime> {
    let at = moment(value);
    if at.is_none() {
        problems.push((column.to_string(), format!("{value:?} is not a date (YYYY-MM-DD or DD.MM.YYYY)")));
    }
    at
}

/// The card a row describes, or its problems; a card cannot have been issued after `now`.
pub fn card(
    layout: &Layout,
    cells: &[String],
    max_cell_chars: usize,
    now: OffsetDateTime,
) -> Result<CardRow, Vec<Problem>> {
    let (values, mut problems) = read(layout, cells, max_cell_chars);
    let (mut number, mut store_id, mut issued_at) = (String::new(), String::new(), None);
    for (field, value) in &values {
        let column = layout.column_of(*field).unwrap_or("row");
        match field {
            Field::CardNumber => number = value.to_string(),
            Field::Store => store_id = value.to_string(),
            Field::IssuedAt if !value.is_empty() => match when(column, value, &mut problems) {
                Some(at) if at > now => problems.push((column.to_string(), "lies in the future".into())),
                at => issued_at = at,
            },
            _ => {}
        }
    }
    if number.is_empty() {
        problems.push((layout.column_of(Field::CardNumber).unwrap_or("row").to_string(), "is required".into()));
    }
    match holder(layout, &values, &mut problems) {
        Some(holder) if problems.is_empty() => Ok(CardRow { number, holder, issued_at, store_id }),
        _ => Err(problems),
    }
}

/// The opening balance a row describes, or its problems: whole positive points, and an expiry
/// after `now` (a day without a time is valid through that day, UTC).
pub fn balance(
    layout: &Layout,
    cells: &[String],
    max_cell_chars: usize,
    now: OffsetDateTime,
) -> Result<BalanceRow, Vec<Problem>> {
    let (values, mut problems) = read(layout, cells, max_cell_chars);
    let (mut points, mut expires_at) = (None, None);
    for (field, value) in &values {
        let column = layout.column_of(*field).unwrap_or("row");
        let mut fail = |why: String| problems.push((column.to_string(), why));
        match field {
            Field::Points => {
                let digits: String = value.chars().filter(|c| !c.is_whitespace()).collect();
                match digits.parse::<i64>() {
                    Ok(n) if (1..=1_000_000_000_000).contains(&n) => points = Some(n),
                    Ok(_) => fail("must be a positive number of points, at most 10^12".into()),
                    Err(_) => fail(format!("{value:?} is not a whole number of points")),
                }
            }
            Field::ExpiresAt if !value.is_empty() => {
                let Some(at) = moment(value) else {
                    fail(format!("{value:?} is not a date (YYYY-MM-DD or DD.MM.YYYY)"));
                    continue;
                };
                let at = if value.len() <= 10 { at + time::Duration::DAY } else { at };
                if at <= now {
                    fail("has passed: these points expired in the old system".into());
                }
                expires_at = Some(at);
            }
            _ => {}
        }
    }
    let holder = holder(layout, &values, &mut problems);
    match (holder, points) {
        (Some(holder), Some(points)) if problems.is_empty() => Ok(BalanceRow { holder, points, expires_at }),
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn layout() -> Layout {
        let header: Vec<String> =
            ["Kortelės numeris", "El. paštas", "Telefonas", "Išdavimo data", "Parduotuvė"].map(String::from).into();
        Layout::read_cards(&header, &BTreeMap::new()).expect("a card layout")
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn a_row_names_its_card_its_holder_and_when_it_was_issued() {
        let got = card(&layout(), &row(&["2000000000017", "ona@example.lt", "", "2019-05-04", "VLN-01"]), 1000, now());
        let got = got.expect("a card");
        assert_eq!(got.holder, Holder::Email("ona@example.lt".into()));
        assert_eq!(got.issued_at.map(|t| t.date().to_string()), Some("2019-05-04".into()));
        let by_phone =
            card(&layout(), &row(&["2000000000024", "", "+37061234567", "", ""]), 1000, now()).expect("phone");
        assert_eq!((by_phone.holder, by_phone.issued_at), (Holder::Phone("+37061234567".into()), None));
    }

    #[test]
    fn a_balance_row_is_whole_points_and_an_expiry_through_its_day() {
        let header: Vec<String> = ["El. paštas", "Taškai", "Galioja iki"].map(String::from).into();
        let layout = Layout::read_balances(&header, &BTreeMap::new()).expect("a balance layout");
        let got = balance(&layout, &row(&["ona@example.lt", "1 250", "2999-03-31"]), 1000, now()).expect("a balance");
        assert_eq!(got.points, 1250);
        assert_eq!(got.expires_at.map(|t| t.to_string()), Some("2999-04-01 0:00:00.0 +00:00:00".into()));
        let bad = balance(&layout, &row(&["ona@example.lt", "12,5", "2001-01-01"]), 1000, now()).expect_err("bad");
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(bad[0].1.contains("not a whole number") && bad[1].1.contains("expired"), "{bad:?}");
        let zero = balance(&layout, &row(&["", "0", ""]), 1000, now()).expect_err("zero");
        let columns: Vec<&str> = zero.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(columns, ["Taškai", "El. paštas"], "{zero:?}");
        let huge = balance(&layout, &row(&["a@b.lt", "99999999999999999999", ""]), 1000, now()).expect_err("huge");
        assert!(huge[0].1.contains("not a whole number"), "{huge:?}");
    }

    #[test]
    fn every_problem_of_a_row_is_named_by_its_column() {
        let problems = card(&layout(), &row(&["", "", "", "vakar", ""]), 1000, now()).expect_err("bad");
        let columns: Vec<&str> = problems.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(columns, ["Išdavimo data", "Kortelės numeris", "El. paštas"], "{problems:?}");
        let future = card(&layout(), &row(&["2000", "a@b.lt", "", "2999-01-01", ""]), 1000, now()).expect_err("future");
        assert_eq!(future, [("Išdavimo data".to_string(), "lies in the future".to_string())]);
        let nul = card(&layout(), &row(&["20\0", "a@b.lt", "", "", ""]), 1000, now()).expect_err("NUL");
        assert!(nul[0].1.contains("NUL"), "{nul:?}");
    }
}
