//! Merging duplicates (CL-8) and erasing a person (CL-10), as pure rules.
use super::{Agreement, Consent, Profile};

fn fill(target: &mut String, from: &str) {
    if target.is_empty() && !from.is_empty() {
        *target = from.to_string();
    }
}

/// Fills the survivor's empty fields from a duplicate; what the survivor has always wins.
pub fn fill_from(survivor: &mut Profile, other: &Profile) {
    fill(&mut survivor.first_name, &other.first_name);
    fill(&mut survivor.last_name, &other.last_name);
    fill(&mut survivor.middle_name, &other.middle_name);
    if survivor.email.is_none() {
        survivor.email = other.email.clone();
    }
    if survivor.phone.is_none() && other.phone.is_some() {
        survivor.phone = other.phone.clone();
        survivor.phone_original = other.phone_original.clone();
        survivor.phone_verified = other.phone_verified;
    }
    if survivor.birth_date.is_none() {
        survivor.birth_date = other.birth_date;
    }
    if survivor.gender == "unknown" || survivor.gender.is_empty() {
        survivor.gender = other.gender.clone();
    }
    fill(&mut survivor.address, &other.address);
    fill(&mut survivor.city, &other.city);
    fill(&mut survivor.region, &other.region);
    fill(&mut survivor.notes, &other.notes);
    fill(&mut survivor.car_number, &other.car_number);
    fill(&mut survivor.registration_store_id, &other.registration_store_id);
    fill(&mut survivor.source_channel, &other.source_channel);
    if survivor.additional_keys.is_empty() {
        survivor.additional_keys = other.additional_keys.clone();
    }
    for (k, v) in &other.custom_attributes {
        survivor.custom_attributes.entry(k.clone()).or_insert_with(|| v.clone());
    }
    if survivor.children.is_empty() {
        survivor.children = other.children.clone();
    }
    if survivor.utm == Default::default() {
        survivor.utm = other.utm.clone();
    }
    if survivor.referrer_client_id.is_none() {
        survivor.referrer_client_id = other.referrer_client_id;
    }
    for a in &other.anonymous_ids {
        if !survivor.anonymous_ids.contains(a) {
            survivor.anonymous_ids.push(a.clone());
        }
    }
}

/// Per channel, the most recently changed consent among all the merged clients.
pub fn newest_consents(all: &[&[Consent]]) -> Vec<Consent> {
    let mut out: Vec<Consent> = Vec::new();
    for c in all.iter().flat_map(|list| list.iter()) {
        match out.iter_mut().find(|o| o.channel == c.channel) {
            Some(o) if o.changed_at < c.changed_at => *o = c.clone(),
            Some(_) => {}
            None => out.push(c.clone()),
        }
    }
    out.sort_by(|a, b| a.channel.cmp(&b.channel));
    out
}

/// The most recent of several agreements.
pub fn newest_agreement(all: &[Option<&Agreement>]) -> Option<Agreement> {
    all.iter().flatten().max_by_key(|a| a.changed_at).map(|a| (*a).clone())
}

/// A profile with every personal field wiped; what is not personal (store, how the client was
/// added) stays so financial and statistical records remain consistent.
pub fn erased(p: &Profile) -> Profile {
    Profile {
        gender: "unknown".into(),
        registration_store_id: p.registration_store_id.clone(),
        added_by: p.added_by.clone(),
        ..Profile::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::email::Email;
    use time::macros::datetime;

    #[test]
    fn the_survivor_keeps_its_fields_and_fills_the_empty_ones() {
        let mut survivor = Profile { first_name: "Ona".into(), gender: "unknown".into(), ..Default::default() };
        let other = Profile {
            first_name: "Onutė".into(),
            last_name: "Kazlauskienė".into(),
            email: Email::parse("ona@example.lt").ok(),
            gender: "female".into(),
            anonymous_ids: vec!["cookie-1".into()],
            ..Default::default()
        };
        fill_from(&mut survivor, &other);
        assert_eq!(survivor.first_name, "Ona");
        assert_eq!(survivor.last_name, "Kazlauskienė");
        assert_eq!(survivor.email.map(|e| e.key).as_deref(), Some("ona@example.lt"));
        assert_eq!(survivor.gender, "female");
        assert_eq!(survivor.anonymous_ids, vec!["cookie-1"]);
    }

    #[test]
    fn the_most_recent_consent_wins_per_channel() {
        let c = |channel: &str, status: &str, at| Consent {
            channel: channel.into(),
            status: status.into(),
            changed_at: at,
            source: String::new(),
            address: String::new(),
        };
        let a = [
            c("email", "subscribed", datetime!(2026-01-01 0:00 UTC)),
            c("sms", "unsubscribed", datetime!(2026-05-01 0:00 UTC)),
        ];
        let b = [
            c("email", "unsubscribed", datetime!(2026-03-01 0:00 UTC)),
            c("sms", "subscribed", datetime!(2026-02-01 0:00 UTC)),
        ];
        let merged = newest_consents(&[&a, &b]);
        assert_eq!(
            merged.iter().map(|c| (c.channel.as_str(), c.status.as_str())).collect::<Vec<_>>(),
            vec![("email", "unsubscribed"), ("sms", "unsubscribed")]
        );
    }
}
