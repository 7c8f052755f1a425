//! What the client service publishes. Consumers: card and ledger (merge, erase, block), segment and
//! messaging (read models of client facts and consents).
use crate::domain::{Agreement, ClientRecord, Consent, Status};
use loyalty_api::common::v1::Date as PbDate;
use loyalty_api::events::v1::{ChildFacts, ClientStatus, ClientUpserted, ConsentChanged};
use loyalty_platform::convert::to_timestamp;

pub fn status(s: Status) -> ClientStatus {
    match s {
        Status::Member => ClientStatus::Member,
        Status::Subscriber => ClientStatus::Subscriber,
        Status::Blocked => ClientStatus::Blocked,
    }
}

pub fn date(d: time::Date) -> PbDate {
    PbDate { year: d.year(), month: i32::from(u8::from(d.month())), day: i32::from(d.day()) }
}

/// The client's facts for read models; `changed` names the fields an update touched.
pub fn upserted(r: &ClientRecord, changed: Vec<String>) -> ClientUpserted {
    let p = &r.profile;
    ClientUpserted {
        client_id: r.id.to_string(),
        first_name: p.first_name.clone(),
        last_name: p.last_name.clone(),
        email: p.email.as_ref().map(|e| e.address.clone()).unwrap_or_default(),
        phone: p.phone.as_ref().map(|x| x.as_str().to_string()).unwrap_or_default(),
        birth_date: p.birth_date.map(date),
        gender: p.gender.clone(),
        city: p.city.clone(),
        region: p.region.clone(),
        status: status(r.status) as i32,
        identified: p.identified(),
        registration_store_id: p.registration_store_id.clone(),
        registered_at: Some(to_timestamp(r.registered_at)),
        added_by: p.added_by.clone(),
        utm: [
            ("source", &p.utm.source),
            ("medium", &p.utm.medium),
            ("campaign", &p.utm.campaign),
            ("content", &p.utm.content),
            ("term", &p.utm.term),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect(),
        referrer_client_id: p.referrer_client_id.map(|u| u.to_string()).unwrap_or_default(),
        source_channel: p.source_channel.clone(),
        tag_ids: r.tag_ids.iter().map(ToString::to_string).collect(),
        children: p
            .children
            .iter()
            .map(|c| ChildFacts { name: c.name.clone(), birth_date: c.birth_date.map(date), gender: c.gender.clone() })
            .collect(),
        additional_keys: p.additional_keys.clone(),
        custom_attributes: p
            .custom_attributes
            .iter()
            .map(|(k, v)| (k.clone(), crate::api::convert::attribute_text(v)))
            .collect(),
        changed_fields: changed,
        car_number: p.car_number.clone(),
        middle_name: p.middle_name.clone(),
        personal_data_consent: r.personal_data_consent.as_ref().is_some_and(|a| a.granted),
        typed_attributes: p
            .custom_attributes
            .iter()
            .map(|(k, v)| (k.clone(), crate::api::convert::attribute(v)))
            .collect(),
        phone_verified: p.phone_verified,
        address: p.address.clone(),
        notes: p.notes.clone(),
        third_party_transfer_consent: r.third_party_consent.as_ref().is_some_and(|a| a.granted),
        updated_at: Some(to_timestamp(r.updated_at)),
    }
}

/// A channel's consent as it now stands, with the contact it is for: the profile's email or phone,
/// else the address the consent named.
pub fn consent_changed(r: &ClientRecord, c: &Consent) -> ConsentChanged {
    let address = match c.channel.as_str() {
        "email" => r.profile.email.as_ref().map(|e| e.address.clone()).unwrap_or_default(),
        "sms" => r.profile.phone.as_ref().map(|p| p.as_str().to_string()).unwrap_or_default(),
        _ => c.address.clone(),
    };
    ConsentChanged {
        client_id: r.id.to_string(),
        channel: crate::api::convert::channel_value(&c.channel) as i32,
        status: crate::api::convert::consent_value(&c.status) as i32,
        source: c.source.clone(),
        address,
        changed_at: Some(to_timestamp(c.changed_at)),
        ..Default::default()
    }
}

/// One of the two agreements ("personal_data", "third_party_transfer") as it now stands.
pub fn agreement_changed(r: &ClientRecord, agreement: &str, a: &Agreement) -> ConsentChanged {
    ConsentChanged {
        client_id: r.id.to_string(),
        source: a.source.clone(),
        agreement: agreement.to_string(),
        granted: a.granted,
        changed_at: Some(to_timestamp(a.changed_at)),
        ..Default::default()
    }
}

/// The agreements of `after` that differ from `before`'s, as events.
pub fn agreements_changed(before: &ClientRecord, after: &ClientRecord) -> Vec<ConsentChanged> {
    let pairs = [
        ("personal_data", &before.personal_data_consent, &after.personal_data_consent),
        ("third_party_transfer", &before.third_party_consent, &after.third_party_consent),
    ];
    pairs
        .into_iter()
        .filter(|(_, b, a)| b != a)
        .filter_map(|(name, _, a)| a.as_ref().map(|a| agreement_changed(after, name, a)))
        .collect()
}
