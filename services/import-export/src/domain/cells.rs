//! What a row's cells mean: the client the client service is asked to create, or every problem
//! a cell has that needs no database (a date that is not a date, a name left empty).
use super::layout::{Field, Layout};
use loyalty_api::client::v1 as pb;
use loyalty_api::common::v1::{ConsentStatus, ContactChannel, Date};
use time::{OffsetDateTime, PrimitiveDateTime};

/// One problem of a row: the file's column (or "row") and why, in words.
pub type Problem = (String, String);

/// The client a row describes, or its problems.
pub fn client(layout: &Layout, cells: &[String], max_cell_chars: usize) -> Result<pb::Client, Vec<Problem>> {
    let mut c = pb::Client::default();
    let mut problems = Vec::new();
    let mut consent_at = None;
    let mut consents: Vec<(ContactChannel, ConsentStatus)> = Vec::new();
    for (i, field) in layout.columns.iter().enumerate() {
        let Some(field) = field else { continue };
        let column = &layout.header[i];
        let value = match text_of(*field, column, cells.get(i), max_cell_chars) {
            Ok(value) => value,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        let mut fail = |reason: String| problems.push((column.clone(), reason));
        match field {
            Field::FirstName => c.first_name = value.into(),
            Field::LastName => c.last_name = value.into(),
            Field::MiddleName => c.middle_name = value.into(),
            Field::Email => c.email = value.into(),
            Field::Phone => c.phone = value.into(),
            Field::Address => c.address = value.into(),
            Field::City => c.city = value.into(),
            Field::Region => c.region = value.into(),
            Field::Notes => c.notes = value.into(),
            Field::CarNumber => c.car_number = value.into(),
            Field::Store => c.registration_store_id = value.into(),
            Field::BirthDate if !value.is_empty() => match date(value) {
                Some(d) => c.birth_date = Some(Date { year: d.year(), month: d.month() as i32, day: d.day() as i32 }),
                None => fail(format!("{value:?} is not a date (YYYY-MM-DD, YYYY.MM.DD or DD.MM.YYYY)")),
            },
            Field::Gender if !value.is_empty() => match gender(value) {
                Some(g) => c.gender = g as i32,
                None => fail(format!("{value:?} is not a gender (female/male/other, moteris/vyras, ж/м, K/M)")),
            },
            Field::RegisteredAt if !value.is_empty() => match moment(value) {
                Some(t) => c.registered_at = Some(loyalty_platform::convert::to_timestamp(t)),
                None => fail(format!("{value:?} is not a date or a time (YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS])")),
            },
            Field::ConsentChangedAt if !value.is_empty() => match moment(value) {
                Some(t) => consent_at = Some(loyalty_platform::convert::to_timestamp(t)),
                None => fail(format!("{value:?} is not a date or a time (YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS])")),
            },
            Field::EmailConsent | Field::SmsConsent if !value.is_empty() => match consent(value) {
                Some(status) => {
                    let channel =
                        if *field == Field::EmailConsent { ContactChannel::Email } else { ContactChannel::Sms };
                    consents.push((channel, status));
                }
                None => fail(format!("{value:?} is not a consent (yes/no, taip/ne, да/нет, tak/nie, da/nu, 1/0)")),
            },
            _ => {}
        }
    }
    for (field, what) in [(Field::FirstName, &c.first_name), (Field::LastName, &c.last_name)] {
        if what.is_empty() {
            let column = layout.column_of(field).unwrap_or("row").to_string();
            problems.push((column, "is required".into()));
        }
    }
    c.consents = consents
        .into_iter()
        .map(|(channel, status)| pb::ChannelConsent {
            channel: channel as i32,
            status: status as i32,
            changed_at: consent_at.or(c.registered_at),
            source: "import".into(),
            address: String::new(),
        })
        .collect();
    if problems.is_empty() { Ok(c) } else { Err(problems) }
}

/// A cell's text, trimmed, or why it cannot be read: longer than the limit every request is held
/// to (proto/README.md, so no row fails its whole batch), a NUL, bytes not in the file's encoding.
pub fn text_of<'a>(
    field: Field,
    column: &str,
    raw: Option<&'a String>,
    max_cell_chars: usize,
) -> Result<&'a str, Problem> {
    let raw = raw.map(String::as_str).unwrap_or("");
    let longest = max_cell_chars.min(loyalty_platform::input::max_chars(field.name()));
    let problem = if raw.chars().count() > longest {
        format!("is longer than {longest} characters")
    } else if raw.contains('\0') {
        "holds a NUL character, which is not text".into()
    } else if raw.contains('\u{fffd}') {
        "holds bytes that are not text in the file's encoding: choose the encoding".into()
    } else {
        return Ok(raw.trim());
    };
    Err((column.to_string(), problem))
}

/// YYYY-MM-DD, YYYY.MM.DD, YYYY/MM/DD or DD.MM.YYYY (the year says which end the day is at).
pub fn date(text: &str) -> Option<time::Date> {
    let parts: Vec<&str> = text.split(['-', '.', '/']).collect();
    let [a, b, c] = parts.as_slice() else { return None };
    let (y, m, d) = if a.len() == 4 {
        (a, b, c)
    } else if c.len() == 4 {
        (c, b, a)
    } else {
        return None;
    };
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    time::Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

/// A date (midnight UTC), "YYYY-MM-DD HH:MM[:SS]" (UTC) or RFC 3339 with its offset.
pub fn moment(text: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t);
    }
    let (day, clock) = text.split_once([' ', 'T']).unwrap_or((text, ""));
    let day = date(day)?;
    if clock.is_empty() {
        return Some(day.midnight().assume_utc());
    }
    let mut hms = clock.split(':').map(|p| p.parse::<u8>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next().unwrap_or(Some(0))?);
    let time = time::Time::from_hms(h, m, s).ok()?;
    Some(PrimitiveDateTime::new(day, time).assume_utc())
}

fn gender(text: &str) -> Option<pb::Gender> {
    Some(match text.to_lowercase().as_str() {
        "f" | "female" | "woman" | "moteris" | "ж" | "женский" | "k" | "kobieta" | "femeie" => {
            pb::Gender::Female
        }
        "male" | "man" | "vyras" | "v" | "м" | "мужской" | "mężczyzna" | "bărbat" | "barbat" | "m" => {
            pb::Gender::Male
        }
        "other" | "kita" | "другой" | "inna" | "altul" => pb::Gender::Other,
        "unknown" | "nežinoma" | "-" => pb::Gender::Unknown,
        _ => return None,
    })
}

fn consent(text: &str) -> Option<ConsentStatus> {
    Some(match text.to_lowercase().as_str() {
        "yes" | "y" | "true" | "1" | "taip" | "да" | "tak" | "da" | "subscribed" => ConsentStatus::Subscribed,
        "no" | "n" | "false" | "0" | "ne" | "нет" | "nie" | "nu" | "unsubscribed" => ConsentStatus::Unsubscribed,
        "unknown" | "?" => ConsentStatus::Unknown,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn layout(header: &[&str]) -> Layout {
        let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
        Layout::read(&header, &BTreeMap::new()).expect("layout")
    }

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn dates_in_three_orders_and_no_impossible_day() {
        assert_eq!(date("1985-03-09"), time::Date::from_calendar_date(1985, time::Month::March, 9).ok());
        assert_eq!(date("09.03.1985"), date("1985.03.09"));
        assert_eq!(date("1985-02-29"), None);
        assert_eq!(date("03/09/85"), None, "a two-digit year is ambiguous");
        assert_eq!(moment("2019-06-01 08:30").map(|t| t.hour()), Some(8));
    }

    #[test]
    fn a_row_becomes_a_client_or_every_problem_by_column() {
        let l = layout(&["Vardas", "Pavardė", "El. paštas", "Gimimo data", "Lytis", "Email consent"]);
        let ok = client(&l, &row(&["Ona", "Kazlauskienė", "ona@example.lt", "1985-03-09", "moteris", "taip"]), 100)
            .expect("a good row");
        assert_eq!((ok.first_name.as_str(), ok.gender()), ("Ona", pb::Gender::Female));
        assert_eq!(ok.consents[0].status(), ConsentStatus::Subscribed);
        let bad = client(&l, &row(&["", "K", "x@y.lt", "1985-13-01", "?", "gal"]), 100).expect_err("bad row");
        let columns: Vec<&str> = bad.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(columns, ["Gimimo data", "Lytis", "Email consent", "Vardas"]);
        let long = client(&l, &row(&["Ona", &"x".repeat(101), "", "", "", ""]), 100).expect_err("long");
        assert_eq!(long[0].0, "Pavardė");
    }
}
