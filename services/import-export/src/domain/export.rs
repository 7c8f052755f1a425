//! What an export holds: its columns (facts of the segment catalogue, chosen one by one or by data
//! group), which of them an anonymised export drops, and how a fact's text becomes a typed cell
//! that no spreadsheet takes for a formula.
use loyalty_api::filter::v1::{Fact, FactType};

/// The columns of an export that names none.
pub const DEFAULT_COLUMNS: &[&str] = &[
    "client.first_name",
    "client.last_name",
    "client.email",
    "client.phone",
    "client.birth_date",
    "client.city",
    "client.registered_at",
    "ledger.available",
    "purchases.count",
    "purchases.sum",
    "purchases.last_at",
];

/// The facts of the historical group: the purchase and return totals the segment service sums
/// over an export's period (`ListMatchingClientsRequest.period`).
pub const HISTORICAL: &[&str] =
    &["purchases.count", "purchases.sum", "purchases.average_check", "purchases.items", "returns.count", "returns.sum"];

/// The facts of a data group (seed 000: personal, financial, behavioural, historical).
pub fn group(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "personal" => &[
            "client.first_name",
            "client.last_name",
            "client.email",
            "client.phone",
            "client.birth_date",
            "client.gender",
            "client.city",
        ],
        "financial" => &[
            "purchases.count",
            "purchases.sum",
            "purchases.average_check",
            "ledger.available",
            "ledger.used",
            "ledger.level",
        ],
        "historical" => HISTORICAL,
        "behavioural" => &[
            "purchases.last_at",
            "purchases.days_since_last",
            "purchases.most_frequent_store",
            "rfm.segment",
            "client.status",
        ],
        _ => return None,
    })
}

/// The columns asked for: the named ones, then each group's, each once; the defaults when none.
pub fn columns(named: &[String], groups: &[&[&str]]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let all = named.iter().map(String::as_str).chain(groups.iter().flat_map(|g| g.iter().copied()));
    for c in all {
        if !out.iter().any(|o| o == c) {
            out.push(c.to_string());
        }
    }
    if out.is_empty() {
        out = DEFAULT_COLUMNS.iter().map(|c| c.to_string()).collect();
    }
    out
}

/// Whether an anonymised export drops the fact: identifiers and personal data (names, emails,
/// phones, card numbers, addresses).
pub fn identifies(fact: &Fact) -> bool {
    fact.identifier || fact.personal
}

/// One cell of a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    Date(time::Date),
    /// A moment, shown in UTC.
    Time(time::OffsetDateTime),
}

impl Cell {
    /// A moment as people read it: "2026-12-02 08:15:00" (UTC).
    pub fn time_text(at: time::OffsetDateTime) -> String {
        let at = at.to_offset(time::UtcOffset::UTC);
        format!("{} {:02}:{:02}:{:02}", at.date(), at.hour(), at.minute(), at.second())
    }
}

/// The cell a fact's text makes: numbers and dates typed, anything else text.
pub fn cell(kind: FactType, text: String) -> Cell {
    if text.is_empty() {
        return Cell::Empty;
    }
    match kind {
        FactType::Integer | FactType::Decimal | FactType::Money => match text.parse::<f64>() {
            Ok(n) => Cell::Number(n),
            Err(_) => Cell::Text(text),
        },
        FactType::Date => match time::Date::parse(&text, time::macros::format_description!("[year]-[month]-[day]")) {
            Ok(d) => Cell::Date(d),
            Err(_) => Cell::Text(text),
        },
        _ => Cell::Text(text),
    }
}

/// Text a spreadsheet shows as text, never runs: a leading `=`, `+`, `-`, `@`, tab or carriage
/// return (CSV injection) gets an apostrophe in front. A number like "-5" stays as it is.
pub fn safe_text(text: &str) -> std::borrow::Cow<'_, str> {
    let risky = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && text.parse::<f64>().is_err() { format!("'{text}").into() } else { text.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_come_once_in_order_and_default_when_none() {
        let named = vec!["client.email".to_string()];
        let personal = group("personal").expect("personal");
        let got = columns(&named, &[personal]);
        assert_eq!(got[0], "client.email");
        assert_eq!(got.iter().filter(|c| *c == "client.email").count(), 1);
        assert_eq!(columns(&[], &[]).len(), DEFAULT_COLUMNS.len());
        assert_eq!(group("historical"), Some(HISTORICAL));
        assert!(group("secret").is_none());
    }

    #[test]
    fn cells_are_typed_and_formulas_are_defused() {
        assert_eq!(cell(FactType::Money, "123.45".to_string()), Cell::Number(123.45));
        assert!(matches!(cell(FactType::Date, "2024-05-01".to_string()), Cell::Date(_)));
        assert_eq!(cell(FactType::Text, String::new()), Cell::Empty);
        assert_eq!(safe_text("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
        assert_eq!(safe_text("+37061234567"), "+37061234567", "a phone number is a number");
        assert_eq!(safe_text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(safe_text("-5"), "-5");
        assert_eq!(safe_text("Ona"), "Ona");
    }
}
