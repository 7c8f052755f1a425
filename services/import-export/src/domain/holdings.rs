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

/// A purchase from the system the chain leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurchaseRow {
    pub holder: Holder,
    pub check_id: String,
    pub purchased_at: OffsetDateTime,
    /// The total in hundredths (cents).
    pub amount_minor: i64,
    /// Empty: the tenant's currency.
    pub currency: String,
    pub store_id: String,
    /// In a file with lines: this row's line (its amount is `amount_minor`).
    pub line: Option<Line>,
}

/// One line of a check, as a file with lines gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub sku: String,
    pub name: String,
    pub category: String,
    /// In thousandths (1 piece = 1000).
    pub quantity_milli: i64,
}

/// A quantity as people write it ("2", "0,5", "1.250"): thousandths, above 0, or why not.
pub fn thousandths(text: &str) -> Result<i64, String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let (whole, fraction) = compact.split_once([',', '.']).unwrap_or((&compact, ""));
    let digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 3 {
        return Err(format!("{text:?} is not a quantity (a number with at most three decimals)"));
    }
    let milli = whole
        .parse::<i64>()
        .ok()
        .and_then(|w| w.checked_mul(1000))
        .and_then(|w| w.checked_add(format!("{fraction:0<3}").parse::<i64>().unwrap_or(0)));
    match milli {
        Some(m) if (1..=1_000_000_000).contains(&m) => Ok(m),
        _ => Err(format!("{text:?} must be more than 0 and at most a million")),
    }
}

/// An amount written as people write money ("12.50", "12,50", "1 234,5"): hundredths, or why not.
pub fn hundredths(text: &str) -> Result<i64, String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace() && *c != '\u{a0}').collect();
    let (whole, cents) = match compact.rsplit_once([',', '.']) {
        Some((w, c)) if c.len() <= 2 && !c.is_empty() => (w.to_string(), format!("{c:0<2}")),
        Some(_) => return Err(format!("{text:?} has more than two decimals")),
        None => (compact.clone(), "00".to_string()),
    };
    let digits = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
    if !digits(&whole) || !digits(&cents) {
        return Err(format!("{text:?} is not an amount (write 12.50 or 12,50)"));
    }
    let amount =
        whole.parse::<i64>().ok().and_then(|w| w.checked_mul(100)).and_then(|w| w.checked_add(cents.parse().ok()?));
    amount.filter(|a| *a <= 1_000_000_000_000).ok_or_else(|| format!("{text:?} is too large for one check"))
}

/// The purchase a row describes, or its problems: a check id, a date before `now`, an amount.
pub fn purchase(
    layout: &Layout,
    cells: &[String],
    max_cell_chars: usize,
    now: OffsetDateTime,
) -> Result<PurchaseRow, Vec<Problem>> {
    let (values, mut problems) = read(layout, cells, max_cell_chars);
    let (mut check_id, mut purchased_at, mut amount, mut currency, mut store_id) =
        (String::new(), None, None, String::new(), String::new());
    let mut line = layout.lines().then(|| Line {
        sku: String::new(),
        name: String::new(),
        category: String::new(),
        quantity_milli: 1000,
    });
    for (field, value) in &values {
        let column = layout.column_of(*field).unwrap_or("row");
        if let Some(line) = line.as_mut() {
            match field {
                Field::Sku => line.sku = value.to_string(),
                Field::ProductName => line.name = value.to_string(),
                Field::Category => line.category = value.to_string(),
                Field::Quantity if !value.is_empty() => match thousandths(value) {
                    Ok(milli) => line.quantity_milli = milli,
                    Err(why) => problems.push((column.to_string(), why)),
                },
                _ => {}
            }
        }
        match field {
            Field::CheckId => check_id = value.to_string(),
            Field::Store => store_id = value.to_string(),
            Field::Currency => currency = value.to_uppercase(),
            Field::PurchasedAt if !value.is_empty() => match when(column, value, &mut problems) {
                Some(at) if at > now => problems.push((column.to_string(), "lies in the future".into())),
                at => purchased_at = at,
            },
            Field::Amount if !value.is_empty() => match hundredths(value) {
                Ok(minor) => amount = Some(minor),
                Err(why) => problems.push((column.to_string(), why)),
            },
            _ => {}
        }
    }
    let required: &[Field] = if layout.lines() {
        &[Field::CheckId, Field::PurchasedAt, Field::Amount, Field::Sku]
    } else {
        &[Field::CheckId, Field::PurchasedAt, Field::Amount]
    };
    for &field in required {
        let column = layout.column_of(field).unwrap_or("row").to_string();
        if !values.iter().any(|(f, v)| *f == field && !v.is_empty()) && !problems.iter().any(|p| p.0 == column) {
            problems.push((column, "is required".into()));
        }
    }
    let holder = holder(layout, &values, &mut problems);
    match (holder, purchased_at, amount) {
        (Some(holder), Some(purchased_at), Some(amount_minor)) if problems.is_empty() => {
            Ok(PurchaseRow { holder, check_id, purchased_at, amount_minor, currency, store_id, line })
        }
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
    fn amounts_are_read_as_people_write_money() {
        assert_eq!(hundredths("12.50"), Ok(1250));
        assert_eq!(hundredths("12,5"), Ok(1250));
        assert_eq!(hundredths("1 234,05"), Ok(123_405));
        assert_eq!(hundredths("7"), Ok(700));
        assert!(hundredths("12.505").is_err_and(|e| e.contains("two decimals")));
        assert!(hundredths("-3").is_err() && hundredths("abc").is_err() && hundredths("").is_err());
        assert!(hundredths("99999999999999999999").is_err_and(|e| e.contains("too large")));
    }

    #[test]
    fn a_purchase_row_needs_its_check_its_day_and_its_total() {
        let header: Vec<String> =
            ["El. paštas", "Čekio nr.", "Pirkimo data", "Suma", "Parduotuvė"].map(String::from).into();
        let layout = Layout::read_purchases(&header, &BTreeMap::new()).expect("a purchase layout");
        let got =
            purchase(&layout, &row(&["ona@example.lt", "K-1", "2021-05-04 18:30", "23,40", "VLN-01"]), 1000, now());
        let got = got.expect("a purchase");
        assert_eq!((got.check_id.as_str(), got.amount_minor, got.store_id.as_str()), ("K-1", 2340, "VLN-01"));
        assert_eq!(got.purchased_at.to_string(), "2021-05-04 18:30:00.0 +00:00:00");
        let bad =
            purchase(&layout, &row(&["ona@example.lt", "", "2999-01-01", "x", ""]), 1000, now()).expect_err("bad");
        let columns: Vec<&str> = bad.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(columns, ["Pirkimo data", "Suma", "Čekio nr."], "{bad:?}");
    }

    #[test]
    fn quantities_are_thousandths_above_zero() {
        assert_eq!(thousandths("2"), Ok(2000));
        assert_eq!(thousandths("0,5"), Ok(500));
        assert_eq!(thousandths("1.250"), Ok(1250));
        for bad in ["0", "-1", "1.2345", "two", "", "99999999999999999999"] {
            assert!(thousandths(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_row_of_a_file_with_lines_is_one_line_of_its_check() {
        let header: Vec<String> =
            ["El. paštas", "Čekio nr.", "Pirkimo data", "Prekės kodas", "Prekė", "Kategorija", "Kiekis", "Suma"]
                .map(String::from)
                .into();
        let layout = Layout::read_purchases(&header, &BTreeMap::new()).expect("a layout with lines");
        assert!(layout.lines());
        let cells = row(&["ona@example.lt", "K-1", "2021-05-04", "KAVA-1", "Kava", "Gėrimai", "2", "7,00"]);
        let got = purchase(&layout, &cells, 1000, now()).expect("a line");
        let line = got.line.expect("its line");
        assert_eq!((line.sku.as_str(), line.name.as_str(), line.category.as_str()), ("KAVA-1", "Kava", "Gėrimai"));
        assert_eq!((line.quantity_milli, got.amount_minor), (2000, 700));
        let no_code = row(&["ona@example.lt", "K-1", "2021-05-04", "", "Kava", "", "x", "7,00"]);
        let problems = purchase(&layout, &no_code, 1000, now()).expect_err("no product code");
        let columns: Vec<&str> = problems.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(columns, ["Kiekis", "Prekės kodas"]);
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
