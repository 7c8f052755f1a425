//! Quick search (CL-7): what each term of the box means, how a list is ordered, and the page token
//! that keeps paging stable while clients are added.
use super::phone::Phone;
use super::text;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// One term of the quick-search box. Terms combine with OR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Term {
    /// A client id, matched exactly.
    Id(Uuid),
    /// Contains `@`: the email, exactly or in part (lower case).
    Email(String),
    /// Digits and phone punctuation: the phone (normalised when it reads as one), any phone
    /// containing these digits, or a card number — unless typed as only a phone is (`+370…`,
    /// `8 (612) …`).
    Digits { e164: Option<String>, digits: String, may_be_card: bool },
    /// Words that must all appear in the name (folded), or the text within an email.
    Words(Vec<String>),
}

/// Splits the box into terms: one per line or `;`.
pub fn parse_query(query: &str, phone_region: &str) -> Vec<Term> {
    query.split(['\n', ';']).map(str::trim).filter(|t| !t.is_empty()).map(|term| classify(term, phone_region)).collect()
}

fn classify(term: &str, phone_region: &str) -> Term {
    if let Ok(id) = Uuid::parse_str(term) {
        return Term::Id(id);
    }
    if term.contains('@') {
        return Term::Email(term.to_lowercase());
    }
    let digits: String = term.chars().filter(char::is_ascii_digit).collect();
    let phone_like = term.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if phone_like && digits.len() >= 4 {
        let e164 = Phone::parse(term, phone_region).ok().map(|p| p.as_str().to_string());
        let may_be_card = !term.starts_with('+') && !term.contains('(');
        return Term::Digits { e164, digits, may_be_card };
    }
    Term::Words(text::words(term))
}

/// A column a list can be sorted by ("any shown column").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortColumn {
    RegisteredAt,
    UpdatedAt,
    FirstName,
    LastName,
    MiddleName,
    Email,
    Phone,
    City,
    Region,
    BirthDate,
    Status,
    Gender,
    RegistrationStore,
}

/// How a sort key is compared in SQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlType {
    Text,
    Timestamp,
    Date,
}

impl SortColumn {
    const ALL: [(&'static str, SortColumn); 13] = [
        ("registered_at", SortColumn::RegisteredAt),
        ("updated_at", SortColumn::UpdatedAt),
        ("first_name", SortColumn::FirstName),
        ("last_name", SortColumn::LastName),
        ("middle_name", SortColumn::MiddleName),
        ("email", SortColumn::Email),
        ("phone", SortColumn::Phone),
        ("city", SortColumn::City),
        ("region", SortColumn::Region),
        ("birth_date", SortColumn::BirthDate),
        ("status", SortColumn::Status),
        ("gender", SortColumn::Gender),
        ("registration_store_id", SortColumn::RegistrationStore),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, c)| *c == self).map(|(n, _)| *n).unwrap_or("registered_at")
    }

    /// The SQL expression sorted on: never NULL, so keyset comparisons hold.
    pub fn sql(self) -> &'static str {
        match self {
            SortColumn::Email => "coalesce(c.email_key, '')",
            SortColumn::Phone => "coalesce(c.phone, '')",
            SortColumn::BirthDate => "coalesce(c.birth_date, '-infinity'::date)",
            other => other.column(),
        }
    }

    /// The column [`Self::sql`] reads.
    pub fn column(self) -> &'static str {
        match self {
            SortColumn::RegisteredAt => "c.registered_at",
            SortColumn::UpdatedAt => "c.updated_at",
            SortColumn::FirstName => "c.first_name",
            SortColumn::LastName => "c.last_name",
            SortColumn::MiddleName => "c.middle_name",
            SortColumn::Email => "c.email_key",
            SortColumn::Phone => "c.phone",
            SortColumn::City => "c.city",
            SortColumn::Region => "c.region",
            SortColumn::BirthDate => "c.birth_date",
            SortColumn::Status => "c.status",
            SortColumn::Gender => "c.gender",
            SortColumn::RegistrationStore => "c.registration_store_id",
        }
    }

    pub fn sql_type(self) -> SqlType {
        match self {
            SortColumn::RegisteredAt | SortColumn::UpdatedAt => SqlType::Timestamp,
            SortColumn::BirthDate => SqlType::Date,
            _ => SqlType::Text,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SortKey {
    pub column: SortColumn,
    pub descending: bool,
}

/// Reads `order_by` ("city asc, last_name desc"); empty means newest registrations first.
pub fn parse_order_by(order_by: &str) -> Result<Vec<SortKey>, String> {
    if order_by.trim().is_empty() {
        return Ok(vec![SortKey { column: SortColumn::RegisteredAt, descending: true }]);
    }
    let mut keys = Vec::new();
    for part in order_by.split(',') {
        let mut words = part.split_whitespace();
        let name = words.next().ok_or("has an empty sort key")?;
        let column = SortColumn::ALL.iter().find(|(n, _)| *n == name).map(|(_, c)| *c).ok_or_else(|| {
            let names: Vec<&str> = SortColumn::ALL.iter().map(|(n, _)| *n).collect();
            format!("cannot sort by {name:?}; sortable: {}", names.join(", "))
        })?;
        let descending = match words.next() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => return Err(format!("{other:?} is not asc or desc")),
        };
        if words.next().is_some() {
            return Err(format!("{part:?} has more than a column and a direction"));
        }
        if keys.iter().any(|k: &SortKey| k.column == column) {
            return Err(format!("sorts by {name} twice"));
        }
        keys.push(SortKey { column, descending });
    }
    Ok(keys)
}

/// Canonical text of an ordering, stored in page tokens.
pub fn order_text(keys: &[SortKey]) -> String {
    keys.iter()
        .map(|k| format!("{} {}", k.column.name(), if k.descending { "desc" } else { "asc" }))
        .collect::<Vec<_>>()
        .join(",")
}

/// Where the next page starts: the sort values and id of the last row shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageToken {
    /// The ordering and filter the token belongs to.
    pub list: String,
    pub values: Vec<String>,
    pub id: Uuid,
}

impl PageToken {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    /// Reads a token, checking it belongs to the list `fingerprint` describes.
    pub fn decode(token: &str, fingerprint: &str) -> Result<PageToken, &'static str> {
        let bytes =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| "is not a page token")?;
        let token: PageToken = serde_json::from_slice(&bytes).map_err(|_| "is not a page token")?;
        if token.list != fingerprint {
            return Err("belongs to a different query or ordering");
        }
        Ok(token)
    }
}

/// A short fingerprint of a list request (query, filters, ordering).
pub fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    h.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_classified_by_shape() {
        let id = Uuid::now_v7();
        let terms = parse_query(&format!("Šarūnas Kazl\n{id}; ona@EXAMPLE.lt ;8 (612) 34567\n\n"), "LT");
        assert_eq!(
            terms,
            vec![
                Term::Words(vec!["sarunas".into(), "kazl".into()]),
                Term::Id(id),
                Term::Email("ona@example.lt".into()),
                Term::Digits { e164: Some("+37061234567".into()), digits: "861234567".into(), may_be_card: false },
            ]
        );
    }

    #[test]
    fn partial_digits_are_digits_without_a_phone() {
        let digits = Term::Digits { e164: None, digits: "34567".into(), may_be_card: true };
        assert_eq!(parse_query("34567", "LT"), vec![digits]);
    }

    #[test]
    fn only_digits_typed_as_a_phone_cannot_be_a_card_number() {
        let may_be_card = |q: &str| match parse_query(q, "LT").first() {
            Some(Term::Digits { may_be_card, .. }) => *may_be_card,
            other => panic!("{q}: {other:?}"),
        };
        assert!(!may_be_card("+370 612 34567"));
        assert!(!may_be_card("8 (612) 34567"));
        assert!(may_be_card("37061234567"));
        assert!(may_be_card("2900 0001 2345"));
    }

    #[test]
    fn orderings_parse_and_bad_ones_say_why() {
        let keys = parse_order_by("city, last_name desc").expect("valid");
        assert_eq!(order_text(&keys), "city asc,last_name desc");
        assert!(parse_order_by("password").expect_err("unknown").contains("sortable"));
        assert!(parse_order_by("city up").is_err());
        assert!(parse_order_by("city, city").is_err());
        assert_eq!(order_text(&parse_order_by("").expect("default")), "registered_at desc");
    }

    #[test]
    fn page_tokens_round_trip_and_refuse_other_lists() {
        let token = PageToken { list: "abc".into(), values: vec!["2026-01-01".into()], id: Uuid::nil() };
        let text = token.encode();
        assert_eq!(PageToken::decode(&text, "abc"), Ok(token));
        assert!(PageToken::decode(&text, "xyz").is_err());
        assert!(PageToken::decode("garbage!", "abc").is_err());
    }
}
