//! A client's profile (CL-1) as the service computes with it: every value valid by construction.
//! [`Profile::parse`] is the edge where every violation of a request is collected at once (CL-2).
use super::email::Email;
use super::phone::Phone;
use loyalty_api::client::v1 as pb;
use loyalty_platform::error::Violations;
use serde::{Deserialize, Serialize};
use time::Date;

pub const MAX_NAME: usize = 100;
pub const MAX_TEXT: usize = 500;
pub const MAX_NOTES: usize = 4000;
pub const MAX_ADDITIONAL_KEYS: usize = 6;
pub const MAX_CUSTOM_ATTRIBUTES: usize = 50;
pub const MAX_CHILDREN: usize = 20;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Child {
    pub name: String,
    pub birth_date: Option<Date>,
    pub gender: String,
}

/// Stored as JSON; rows written by bulk loads hold `{}`, so every field has a default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Utm {
    pub source: String,
    pub medium: String,
    pub campaign: String,
    pub content: String,
    pub term: String,
}

/// A typed custom attribute value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attribute {
    Text(String),
    Integer(i64),
    Decimal(String),
    Boolean(bool),
    Date(Date),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    pub first_name: String,
    pub last_name: String,
    pub middle_name: String,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub phone_original: String,
    pub phone_verified: bool,
    pub birth_date: Option<Date>,
    /// "female", "male", "other", "unknown", "refused".
    pub gender: String,
    pub address: String,
    pub city: String,
    pub region: String,
    pub notes: String,
    pub car_number: String,
    pub additional_keys: Vec<String>,
    pub custom_attributes: std::collections::BTreeMap<String, Attribute>,
    pub children: Vec<Child>,
    pub registration_store_id: String,
    /// "user", "api", "import", "pos".
    pub added_by: String,
    pub utm: Utm,
    pub referrer_client_id: Option<uuid::Uuid>,
    pub source_channel: String,
    pub anonymous_ids: Vec<String>,
}

/// What parsing needs to know besides the request.
pub struct Rules<'a> {
    /// Region of phones written without a country code.
    pub phone_region: &'a str,
    /// The latest date that is not in the future anywhere (UTC+14).
    pub latest_date: Date,
}

pub fn gender_name(g: i32) -> Option<&'static str> {
    Some(match pb::Gender::try_from(g).ok()? {
        pb::Gender::Unspecified | pb::Gender::Unknown => "unknown",
        pb::Gender::Female => "female",
        pb::Gender::Male => "male",
        pb::Gender::Other => "other",
        pb::Gender::Refused => "refused",
    })
}

pub fn gender_value(name: &str) -> pb::Gender {
    match name {
        "female" => pb::Gender::Female,
        "male" => pb::Gender::Male,
        "other" => pb::Gender::Other,
        "refused" => pb::Gender::Refused,
        _ => pb::Gender::Unknown,
    }
}

pub fn added_by_name(a: i32) -> &'static str {
    match pb::AddedBy::try_from(a) {
        Ok(pb::AddedBy::Api) => "api",
        Ok(pb::AddedBy::Import) => "import",
        Ok(pb::AddedBy::Pos) => "pos",
        _ => "user",
    }
}

pub fn parse_date(d: &loyalty_api::common::v1::Date) -> Result<Date, &'static str> {
    let month = u8::try_from(d.month).ok().and_then(|m| time::Month::try_from(m).ok()).ok_or("month must be 1..12")?;
    let day = u8::try_from(d.day).map_err(|_| "day must be 1..31")?;
    Date::from_calendar_date(d.year, month, day).map_err(|_| "is not a calendar date")
}

fn text(v: &mut Violations, field: &str, value: &str, max: usize) -> String {
    let value = value.trim();
    if value.chars().count() > max {
        v.add(field, format!("is longer than {max} characters"));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        v.add(field, "contains control characters");
    }
    value.to_string()
}

fn past_date(
    v: &mut Violations,
    field: &str,
    d: Option<&loyalty_api::common::v1::Date>,
    rules: &Rules,
) -> Option<Date> {
    let d = d?;
    match parse_date(d) {
        Ok(date) if date > rules.latest_date => {
            v.add(field, "is in the future");
            None
        }
        Ok(date) if date.year() < 1900 => {
            v.add(field, "is before 1900");
            None
        }
        Ok(date) => Some(date),
        Err(reason) => {
            v.add(field, reason);
            None
        }
    }
}

fn attribute(v: &mut Violations, field: &str, value: &loyalty_api::common::v1::AttributeValue) -> Option<Attribute> {
    use loyalty_api::common::v1::attribute_value::Value;
    match value.value.as_ref() {
        None => {
            v.add(field, "has no value");
            None
        }
        Some(Value::Text(t)) => Some(Attribute::Text(text(v, field, t, MAX_TEXT))),
        Some(Value::Integer(i)) => Some(Attribute::Integer(*i)),
        Some(Value::Decimal(d)) => {
            let ok = !d.is_empty()
                && d.trim_start_matches('-').split('.').count() <= 2
                && d.trim_start_matches('-').chars().all(|c| c.is_ascii_digit() || c == '.')
                && d.trim_start_matches('-').chars().any(|c| c.is_ascii_digit());
            if ok {
                Some(Attribute::Decimal(d.clone()))
            } else {
                v.add(field, "is not a decimal number like 12.50");
                None
            }
        }
        Some(Value::Boolean(b)) => Some(Attribute::Boolean(*b)),
        Some(Value::Date(d)) => match parse_date(d) {
            Ok(date) => Some(Attribute::Date(date)),
            Err(reason) => {
                v.add(field, reason);
                None
            }
        },
    }
}

fn attribute_key_ok(key: &str) -> bool {
    (1..=40).contains(&key.len()) && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl Profile {
    /// Reads the editable fields of `client`; every problem is reported under `prefix` + field
    /// (e.g. `client.email`), all at once. The rule "a phone or a card number" is the caller's,
    /// since it depends on the request.
    pub fn parse(client: &pb::Client, prefix: &str, rules: &Rules) -> Result<Profile, Violations> {
        let mut v = Violations::new();
        let f = |name: &str| format!("{prefix}{name}");
        let email =
            if client.email.trim().is_empty() { None } else { v.take(&f("email"), Email::parse(&client.email)) };
        let phone = if client.phone.trim().is_empty() {
            None
        } else {
            v.take(&f("phone"), Phone::parse(&client.phone, rules.phone_region))
        };
        let gender = match gender_name(client.gender) {
            Some(g) => g.to_string(),
            None => {
                v.add(f("gender"), "is not one of female, male, other, unknown, refused");
                String::new()
            }
        };
        if client.additional_keys.len() > MAX_ADDITIONAL_KEYS {
            v.add(f("additional_keys"), format!("holds at most {MAX_ADDITIONAL_KEYS} keys"));
        }
        let additional_keys = client
            .additional_keys
            .iter()
            .enumerate()
            .map(|(i, k)| text(&mut v, &f(&format!("additional_keys[{i}]")), k, MAX_TEXT))
            .collect();
        if client.custom_attributes.len() > MAX_CUSTOM_ATTRIBUTES {
            v.add(f("custom_attributes"), format!("holds at most {MAX_CUSTOM_ATTRIBUTES} attributes"));
        }
        let mut custom_attributes = std::collections::BTreeMap::new();
        for (key, value) in &client.custom_attributes {
            let field = f(&format!("custom_attributes.{key}"));
            if !attribute_key_ok(key) {
                v.add(&field, "key must be 1-40 of a-z, 0-9 and _");
                continue;
            }
            if let Some(a) = attribute(&mut v, &field, value) {
                custom_attributes.insert(key.clone(), a);
            }
        }
        if client.children.len() > MAX_CHILDREN {
            v.add(f("children"), format!("holds at most {MAX_CHILDREN} children"));
        }
        let children = client
            .children
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let at = |n: &str| f(&format!("children[{i}].{n}"));
                let gender = gender_name(c.gender).unwrap_or_else(|| {
                    v.add(at("gender"), "is not one of female, male, other, unknown, refused");
                    "unknown"
                });
                Child {
                    name: text(&mut v, &at("name"), &c.name, MAX_NAME),
                    birth_date: past_date(&mut v, &at("birth_date"), c.birth_date.as_ref(), rules),
                    gender: gender.to_string(),
                }
            })
            .collect();
        let referrer_client_id = if client.referrer_client_id.is_empty() {
            None
        } else {
            v.take(&f("referrer_client_id"), uuid::Uuid::parse_str(&client.referrer_client_id))
        };
        let utm = client.utm.clone().unwrap_or_default();
        let anonymous_ids: Vec<String> = client
            .anonymous_ids
            .iter()
            .enumerate()
            .map(|(i, a)| text(&mut v, &f(&format!("anonymous_ids[{i}]")), a, 200))
            .filter(|a| !a.is_empty())
            .collect();
        let profile = Profile {
            first_name: text(&mut v, &f("first_name"), &client.first_name, MAX_NAME),
            last_name: text(&mut v, &f("last_name"), &client.last_name, MAX_NAME),
            middle_name: text(&mut v, &f("middle_name"), &client.middle_name, MAX_NAME),
            email,
            phone_original: if phone.is_some() { client.phone.trim().to_string() } else { String::new() },
            phone,
            phone_verified: client.phone_verified,
            birth_date: past_date(&mut v, &f("birth_date"), client.birth_date.as_ref(), rules),
            gender,
            address: text(&mut v, &f("address"), &client.address, MAX_TEXT),
            city: text(&mut v, &f("city"), &client.city, MAX_NAME),
            region: text(&mut v, &f("region"), &client.region, MAX_NAME),
            notes: text(&mut v, &f("notes"), &client.notes, MAX_NOTES),
            car_number: text(&mut v, &f("car_number"), &client.car_number, 20),
            additional_keys,
            custom_attributes,
            children,
            registration_store_id: text(&mut v, &f("registration_store_id"), &client.registration_store_id, 64),
            added_by: added_by_name(client.added_by).to_string(),
            utm: Utm {
                source: text(&mut v, &f("utm.source"), &utm.source, MAX_TEXT),
                medium: text(&mut v, &f("utm.medium"), &utm.medium, MAX_TEXT),
                campaign: text(&mut v, &f("utm.campaign"), &utm.campaign, MAX_TEXT),
                content: text(&mut v, &f("utm.content"), &utm.content, MAX_TEXT),
                term: text(&mut v, &f("utm.term"), &utm.term, MAX_TEXT),
            },
            referrer_client_id,
            source_channel: text(&mut v, &f("source_channel"), &client.source_channel, 50),
            anonymous_ids,
        };
        if v.is_empty() { Ok(profile) } else { Err(v) }
    }

    /// "first middle last".
    pub fn full_name(&self) -> String {
        [&self.first_name, &self.middle_name, &self.last_name]
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Has an email or a phone (CL-3).
    pub fn identified(&self) -> bool {
        self.email.is_some() || self.phone.is_some()
    }

    /// What quick search matches names against.
    pub fn name_search(&self) -> String {
        super::text::fold(&self.full_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loyalty_api::common::v1::Date as PbDate;

    fn rules() -> Rules<'static> {
        Rules { phone_region: "LT", latest_date: time::macros::date!(2026 - 11 - 24) }
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_field() {
        let client = pb::Client {
            email: "not-an-email".into(),
            phone: "12".into(),
            birth_date: Some(PbDate { year: 2030, month: 1, day: 1 }),
            gender: 99,
            children: vec![pb::Child {
                name: "Ieva".into(),
                birth_date: Some(PbDate { year: 2020, month: 2, day: 30 }),
                gender: 0,
            }],
            custom_attributes: [("Shoe Size".to_string(), loyalty_api::common::v1::AttributeValue::default())].into(),
            ..Default::default()
        };
        let v = Profile::parse(&client, "client.", &rules()).expect_err("invalid");
        let fields: Vec<&str> = v.iter().map(|(f, _)| f).collect();
        for expected in [
            "client.email",
            "client.phone",
            "client.birth_date",
            "client.gender",
            "client.children[0].birth_date",
            "client.custom_attributes.Shoe Size",
        ] {
            assert!(fields.contains(&expected), "{expected} missing from {fields:?}");
        }
    }

    #[test]
    fn a_good_profile_parses_with_normalised_phone_and_full_name() {
        let client = pb::Client {
            first_name: " Šarūnas ".into(),
            last_name: "Kazlauskas".into(),
            phone: "8 (612) 34567".into(),
            email: "Sarunas@Example.lt".into(),
            ..Default::default()
        };
        let p = Profile::parse(&client, "client.", &rules()).expect("valid");
        assert_eq!(p.phone.as_ref().map(Phone::as_str), Some("+37061234567"));
        assert_eq!(p.phone_original, "8 (612) 34567");
        assert_eq!(p.full_name(), "Šarūnas Kazlauskas");
        assert_eq!(p.name_search(), "sarunas kazlauskas");
        assert!(p.identified());
    }
}
