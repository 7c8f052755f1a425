//! Between stored records and the wire: `Client` messages, field masks, read masks.
use crate::domain::profile::{Attribute, gender_value};
use crate::domain::{Agreement, ClientRecord, Consent};
use crate::events;
use loyalty_api::client::v1 as pb;
use loyalty_api::common::v1::{ConsentStatus, ContactChannel};
use loyalty_platform::convert::to_timestamp;
use loyalty_platform::error::Violations;

pub fn attribute_text(a: &Attribute) -> String {
    match a {
        Attribute::Text(t) | Attribute::Decimal(t) => t.clone(),
        Attribute::Integer(i) => i.to_string(),
        Attribute::Boolean(b) => b.to_string(),
        Attribute::Date(d) => d.to_string(),
    }
}

pub fn attribute(a: &Attribute) -> loyalty_api::common::v1::AttributeValue {
    use loyalty_api::common::v1::attribute_value::Value;
    let value = match a {
        Attribute::Text(t) => Value::Text(t.clone()),
        Attribute::Integer(i) => Value::Integer(*i),
        Attribute::Decimal(d) => Value::Decimal(d.clone()),
        Attribute::Boolean(b) => Value::Boolean(*b),
        Attribute::Date(d) => Value::Date(events::date(*d)),
    };
    loyalty_api::common::v1::AttributeValue { value: Some(value) }
}

pub fn channel_name(c: i32) -> Option<&'static str> {
    match ContactChannel::try_from(c).ok()? {
        ContactChannel::Email => Some("email"),
        ContactChannel::Sms => Some("sms"),
        ContactChannel::Push => Some("push"),
        ContactChannel::Telegram => Some("telegram"),
        ContactChannel::Unspecified => None,
    }
}

pub fn channel_value(name: &str) -> ContactChannel {
    match name {
        "email" => ContactChannel::Email,
        "sms" => ContactChannel::Sms,
        "push" => ContactChannel::Push,
        "telegram" => ContactChannel::Telegram,
        _ => ContactChannel::Unspecified,
    }
}

pub fn consent_name(s: i32) -> Option<&'static str> {
    match ConsentStatus::try_from(s).ok()? {
        ConsentStatus::Subscribed => Some("subscribed"),
        ConsentStatus::Unsubscribed => Some("unsubscribed"),
        ConsentStatus::Unknown => Some("unknown"),
        ConsentStatus::Unspecified => None,
    }
}

pub fn consent_value(name: &str) -> ConsentStatus {
    match name {
        "subscribed" => ConsentStatus::Subscribed,
        "unsubscribed" => ConsentStatus::Unsubscribed,
        _ => ConsentStatus::Unknown,
    }
}

fn agreement(a: &Agreement) -> pb::Agreement {
    pb::Agreement { granted: a.granted, changed_at: Some(to_timestamp(a.changed_at)), source: a.source.clone() }
}

pub fn consent(c: &Consent) -> pb::ChannelConsent {
    pb::ChannelConsent {
        channel: channel_value(&c.channel) as i32,
        status: consent_value(&c.status) as i32,
        changed_at: Some(to_timestamp(c.changed_at)),
        source: c.source.clone(),
        address: c.address.clone(),
    }
}

pub fn client(r: &ClientRecord) -> pb::Client {
    let p = &r.profile;
    let utm = &p.utm;
    pb::Client {
        id: r.id.to_string(),
        first_name: p.first_name.clone(),
        last_name: p.last_name.clone(),
        middle_name: p.middle_name.clone(),
        full_name: p.full_name(),
        email: p.email.as_ref().map(|e| e.address.clone()).unwrap_or_default(),
        phone: p.phone.as_ref().map(|x| x.as_str().to_string()).unwrap_or_default(),
        phone_original: p.phone_original.clone(),
        phone_verified: p.phone_verified,
        birth_date: p.birth_date.map(events::date),
        gender: gender_value(&p.gender) as i32,
        address: p.address.clone(),
        city: p.city.clone(),
        region: p.region.clone(),
        notes: p.notes.clone(),
        car_number: p.car_number.clone(),
        additional_keys: p.additional_keys.clone(),
        custom_attributes: p.custom_attributes.iter().map(|(k, v)| (k.clone(), attribute(v))).collect(),
        children: p
            .children
            .iter()
            .map(|c| pb::Child {
                name: c.name.clone(),
                birth_date: c.birth_date.map(events::date),
                gender: gender_value(&c.gender) as i32,
            })
            .collect(),
        registration_store_id: p.registration_store_id.clone(),
        added_by: match p.added_by.as_str() {
            "api" => pb::AddedBy::Api,
            "import" => pb::AddedBy::Import,
            "pos" => pb::AddedBy::Pos,
            _ => pb::AddedBy::User,
        } as i32,
        registered_at: Some(to_timestamp(r.registered_at)),
        updated_at: Some(to_timestamp(r.updated_at)),
        utm: Some(pb::Utm {
            source: utm.source.clone(),
            medium: utm.medium.clone(),
            campaign: utm.campaign.clone(),
            content: utm.content.clone(),
            term: utm.term.clone(),
        }),
        referrer_client_id: p.referrer_client_id.map(|u| u.to_string()).unwrap_or_default(),
        source_channel: p.source_channel.clone(),
        status: events::status(r.status) as i32,
        identified: p.identified(),
        anonymous_ids: p.anonymous_ids.clone(),
        consents: r.consents.iter().map(consent).collect(),
        personal_data_consent: r.personal_data_consent.as_ref().map(agreement),
        third_party_transfer_consent: r.third_party_consent.as_ref().map(agreement),
        tag_ids: r.tag_ids.iter().map(ToString::to_string).collect(),
        block: r.block.as_ref().map(|b| pb::BlockInfo {
            comment: b.comment.clone(),
            blocked_at: Some(to_timestamp(b.at)),
            blocked_by: Some(loyalty_api::common::v1::Actor {
                id: b.by_id.clone(),
                name: b.by_name.clone(),
                ..Default::default()
            }),
            previous_status: events::status(b.previous_status) as i32,
        }),
        merged_client_ids: r.merged_client_ids.iter().map(ToString::to_string).collect(),
        erased: r.erased,
        etag: r.etag(),
    }
}

/// Fields a caller may change with UpdateClient; the rest are output only or have their own RPC.
const EDITABLE: [&str; 22] = [
    "first_name",
    "last_name",
    "middle_name",
    "email",
    "phone",
    "phone_verified",
    "birth_date",
    "gender",
    "address",
    "city",
    "region",
    "notes",
    "car_number",
    "additional_keys",
    "custom_attributes",
    "children",
    "registration_store_id",
    "added_by",
    "utm",
    "referrer_client_id",
    "source_channel",
    "anonymous_ids",
];

/// Copies the fields named by `paths` from `incoming` onto `current`. Unknown and output-only paths
/// are violations of `update_mask`.
pub fn apply_mask(current: &mut pb::Client, incoming: &pb::Client, paths: &[String]) -> Violations {
    let mut v = Violations::new();
    if paths.is_empty() {
        v.add("update_mask", "names no field; list the fields to change");
    }
    for path in paths {
        if let Some(key) = path.strip_prefix("custom_attributes.") {
            match incoming.custom_attributes.get(key) {
                Some(value) => {
                    current.custom_attributes.insert(key.to_string(), value.clone());
                }
                None => {
                    current.custom_attributes.remove(key);
                }
            }
            continue;
        }
        if let Some(part) = path.strip_prefix("utm.") {
            let from = incoming.utm.clone().unwrap_or_default();
            let to = current.utm.get_or_insert_with(Default::default);
            match part {
                "source" => to.source = from.source,
                "medium" => to.medium = from.medium,
                "campaign" => to.campaign = from.campaign,
                "content" => to.content = from.content,
                "term" => to.term = from.term,
                _ => v.add("update_mask", format!("{path} is not a field of Client")),
            }
            continue;
        }
        if !EDITABLE.contains(&path.as_str()) {
            let why = match path.as_str() {
                "status" | "block" => "is changed by BlockClient/UnblockClient",
                "consents" | "personal_data_consent" | "third_party_transfer_consent" => "is changed by SetConsent",
                "tag_ids" => "is changed by the tag RPCs",
                "id" | "full_name" | "phone_original" | "registered_at" | "updated_at" | "identified"
                | "merged_client_ids" | "erased" | "etag" => "is output only",
                _ => "is not a field of Client",
            };
            v.add("update_mask", format!("{path} {why}"));
            continue;
        }
        copy_field(current, incoming, path);
    }
    v
}

fn copy_field(to: &mut pb::Client, from: &pb::Client, path: &str) {
    match path {
        "first_name" => to.first_name = from.first_name.clone(),
        "last_name" => to.last_name = from.last_name.clone(),
        "middle_name" => to.middle_name = from.middle_name.clone(),
        "email" => to.email = from.email.clone(),
        "phone" => to.phone = from.phone.clone(),
        "phone_verified" => to.phone_verified = from.phone_verified,
        "birth_date" => to.birth_date = from.birth_date,
        "gender" => to.gender = from.gender,
        "address" => to.address = from.address.clone(),
        "city" => to.city = from.city.clone(),
        "region" => to.region = from.region.clone(),
        "notes" => to.notes = from.notes.clone(),
        "car_number" => to.car_number = from.car_number.clone(),
        "additional_keys" => to.additional_keys = from.additional_keys.clone(),
        "custom_attributes" => to.custom_attributes = from.custom_attributes.clone(),
        "children" => to.children = from.children.clone(),
        "registration_store_id" => to.registration_store_id = from.registration_store_id.clone(),
        "added_by" => to.added_by = from.added_by,
        "utm" => to.utm = from.utm.clone(),
        "referrer_client_id" => to.referrer_client_id = from.referrer_client_id.clone(),
        "source_channel" => to.source_channel = from.source_channel.clone(),
        "anonymous_ids" => to.anonymous_ids = from.anonymous_ids.clone(),
        _ => {}
    }
}

/// Keeps only the fields of `read_mask` (and the id and etag): the table's column choice. The
/// paths were checked by [`crate::store::columns::Selection::for_read_mask`].
pub fn read_masked(full: pb::Client, mask: &[String]) -> pb::Client {
    if mask.is_empty() {
        return full;
    }
    let mut out = pb::Client { id: full.id.clone(), etag: full.etag.clone(), ..Default::default() };
    for path in mask {
        match path.as_str() {
            "full_name" => out.full_name = full.full_name.clone(),
            "status" => out.status = full.status,
            "identified" => out.identified = full.identified,
            "registered_at" => out.registered_at = full.registered_at,
            "updated_at" => out.updated_at = full.updated_at,
            "phone_original" => out.phone_original = full.phone_original.clone(),
            "consents" => out.consents = full.consents.clone(),
            "tag_ids" => out.tag_ids = full.tag_ids.clone(),
            "block" => out.block = full.block.clone(),
            "personal_data_consent" => out.personal_data_consent = full.personal_data_consent.clone(),
            "third_party_transfer_consent" => {
                out.third_party_transfer_consent = full.third_party_transfer_consent.clone()
            }
            "merged_client_ids" => out.merged_client_ids = full.merged_client_ids.clone(),
            "erased" => out.erased = full.erased,
            other => copy_field(&mut out, &full, other),
        }
    }
    out
}

/// Paths of fields that differ between two versions (for history and events).
pub fn changed_fields(before: &pb::Client, after: &pb::Client) -> Vec<String> {
    let b = serde_like(before);
    let a = serde_like(after);
    a.iter()
        .filter(|(k, v)| b.iter().find(|(bk, _)| bk == k).map(|(_, bv)| bv) != Some(v))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Field name -> JSON value of the editable fields, for history before/after.
pub fn serde_like(c: &pb::Client) -> Vec<(String, serde_json::Value)> {
    use serde_json::json;
    let date = |d: &Option<loyalty_api::common::v1::Date>| {
        d.map(|d| json!(format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))).unwrap_or(serde_json::Value::Null)
    };
    vec![
        ("first_name".into(), json!(c.first_name)),
        ("last_name".into(), json!(c.last_name)),
        ("middle_name".into(), json!(c.middle_name)),
        ("email".into(), json!(c.email)),
        ("phone".into(), json!(c.phone)),
        ("phone_verified".into(), json!(c.phone_verified)),
        ("birth_date".into(), date(&c.birth_date)),
        ("gender".into(), json!(c.gender)),
        ("address".into(), json!(c.address)),
        ("city".into(), json!(c.city)),
        ("region".into(), json!(c.region)),
        ("notes".into(), json!(c.notes)),
        ("car_number".into(), json!(c.car_number)),
        ("additional_keys".into(), json!(c.additional_keys)),
        (
            "custom_attributes".into(),
            json!(c.custom_attributes.iter().map(|(k, v)| (k.clone(), format!("{v:?}"))).collect::<std::collections::BTreeMap<_, _>>()),
        ),
        ("children".into(), json!(c.children.iter().map(|ch| json!({"name": ch.name, "birth_date": date(&ch.birth_date), "gender": ch.gender})).collect::<Vec<_>>())),
        ("registration_store_id".into(), json!(c.registration_store_id)),
        ("added_by".into(), json!(c.added_by)),
        ("utm".into(), json!(c.utm.as_ref().map(|u| json!({"source": u.source, "medium": u.medium, "campaign": u.campaign, "content": u.content, "term": u.term})))),
        ("referrer_client_id".into(), json!(c.referrer_client_id)),
        ("source_channel".into(), json!(c.source_channel)),
        ("anonymous_ids".into(), json!(c.anonymous_ids)),
    ]
}

/// The changed fields' values as a JSON object.
pub fn subset(fields: &[(String, serde_json::Value)], names: &[String]) -> serde_json::Value {
    serde_json::Value::Object(
        fields.iter().filter(|(k, _)| names.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect(),
    )
}
