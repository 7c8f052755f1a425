//! What the client service publishes. Consumers: card and ledger (merge, erase, block), segment and
//! messaging (read models of client facts and consents).
use crate::domain::{ClientRecord, Status};
use loyalty_api::common::v1::Date as PbDate;
use loyalty_api::events::v1::{ChildFacts, ClientStatus, ClientUpserted};

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
        registered_at: Some(loyalty_platform::convert::to_timestamp(r.registered_at)),
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
    }
}
