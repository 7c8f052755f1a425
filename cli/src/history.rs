//! What a client's history record changed, in words: one line per field ("email: a@x.lt → b@x.lt",
//! "channels.sms: subscribed", "gender: male"), with nested values spelled out by their path and
//! nothing said about values that are empty on both sides.
use crate::format::word;
use loyalty_api::client::v1 as pb;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The fields a record changed, each as a line.
pub fn changes(before_json: &str, after_json: &str) -> Vec<String> {
    let (before, after) = (leaves(before_json), leaves(after_json));
    let mut paths: Vec<&String> = before.keys().chain(after.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|path| match (before.get(path), after.get(path)) {
            (old, new) if old == new => None,
            (Some(old), Some(new)) => Some(format!("{path}: {} → {}", text(path, old), text(path, new))),
            (None, Some(new)) => Some(format!("{path}: {}", text(path, new))),
            (Some(old), None) => Some(format!("{path}: {} → (none)", text(path, old))),
            (None, None) => None,
        })
        .collect()
}

/// Every non-empty value of the document by its dotted path; a document that is not an object is
/// one value under "value".
fn leaves(json: &str) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(fields)) => flatten("", &fields, &mut out),
        Ok(other) if !is_empty(&other) => {
            out.insert("value".to_string(), other);
        }
        Ok(_) => {}
        Err(_) if json.trim().is_empty() => {}
        Err(_) => {
            out.insert("value".to_string(), Value::String(json.to_string()));
        }
    }
    out
}

fn flatten(prefix: &str, fields: &Map<String, Value>, out: &mut BTreeMap<String, Value>) {
    for (key, value) in fields {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            Value::Object(inner) => flatten(&path, inner, out),
            v if is_empty(v) => {}
            v => {
                out.insert(path, v.clone());
            }
        }
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.is_empty(),
        _ => false,
    }
}

/// A value as a word: enums stored as numbers by their name, lists joined, text as it is.
fn text(path: &str, v: &Value) -> String {
    let field = path.rsplit('.').next().unwrap_or(path);
    if let Some(n) = v.as_i64().and_then(|n| i32::try_from(n).ok()) {
        let named = match field {
            "gender" => pb::Gender::try_from(n).ok().map(|g| word(g.as_str_name(), "GENDER_")),
            "added_by" => pb::AddedBy::try_from(n).ok().map(|a| word(a.as_str_name(), "ADDED_BY_")),
            "status" => {
                loyalty_api::events::v1::ClientStatus::try_from(n).ok().map(|s| word(s.as_str_name(), "CLIENT_STATUS_"))
            }
            _ => None,
        };
        if let Some(named) = named {
            return named;
        }
    }
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(|i| text(path, i)).collect::<Vec<_>>().join(", "),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_a_line_per_field_in_words() {
        assert_eq!(changes(r#"{"email":"a@x.lt"}"#, r#"{"email":"b@x.lt"}"#), ["email: a@x.lt → b@x.lt"]);
        assert_eq!(changes(r#"{"status":"member"}"#, r#"{"status":"blocked"}"#), ["status: member → blocked"]);
        assert_eq!(changes("{}", r#"{"city":"Vilnius"}"#), ["city: Vilnius"]);
        assert_eq!(changes(r#"{"city":"Vilnius"}"#, r#"{"city":""}"#), ["city: Vilnius → (none)"]);
    }

    #[test]
    fn enums_are_words_nested_values_are_paths_and_empty_ones_are_left_out() {
        let created = r#"{"added_by":4,"gender":2,"utm":{"campaign":"","source":""},"tags":["vip","b2b"]}"#;
        assert_eq!(changes("{}", created), ["added_by: pos", "gender: male", "tags: vip, b2b"]);
        let consent =
            r#"{"channels":{"email":"unknown","sms":"subscribed"},"personal_data":true,"third_party_transfer":null}"#;
        assert_eq!(
            changes(r#"{"channels":{}}"#, consent),
            ["channels.email: unknown", "channels.sms: subscribed", "personal_data: yes"]
        );
        assert_eq!(changes("", "not json"), ["value: not json"]);
    }
}
