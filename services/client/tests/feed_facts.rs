//! The client feed is a complete source of client facts: a read model replayed from sequence 0
//! holds what `GetClient` answers (every field a filter names, typed attributes, tags, channel
//! consents and both agreements, the update time) after creation, an update, consents, tags, a
//! merge that rewrites consents, and an erase.
mod support;
use futures::StreamExt;
use loyalty_api::client::v1 as pb;
use loyalty_api::common::v1::{AttributeValue, ConsentStatus, ContactChannel, attribute_value::Value};
use loyalty_api::events::v1::{self as ev, WatchEventsRequest, event::Payload};
use std::collections::{BTreeMap, HashMap};
use support::*;

/// A read model of the client feed: the last facts of each client and their consents.
#[derive(Default)]
struct Facts {
    clients: HashMap<String, ev::ClientUpserted>,
    tags: HashMap<String, Vec<String>>,
    /// (client, channel or agreement) → (status or granted, source)
    consents: HashMap<(String, String), (String, String)>,
    merged_into: HashMap<String, String>,
    erased: Vec<String>,
}

async fn replay(api: &mut Client) -> Facts {
    let feed = api
        .watch_events(WatchEventsRequest { replay_only: true, ..Default::default() })
        .await
        .expect("the client feed")
        .into_inner();
    let events: Vec<ev::Event> = feed.map(|e| e.expect("event")).collect().await;
    let mut facts = Facts::default();
    for event in events {
        match event.payload {
            Some(Payload::ClientUpserted(c)) => {
                facts.tags.insert(c.client_id.clone(), c.tag_ids.clone());
                facts.clients.insert(c.client_id.clone(), c);
            }
            Some(Payload::ClientTagsChanged(t)) => {
                facts.tags.insert(t.client_id, t.tag_ids);
            }
            Some(Payload::ConsentChanged(c)) => {
                let (what, answer) = if c.agreement.is_empty() {
                    let channel = ContactChannel::try_from(c.channel).expect("channel").as_str_name().to_string();
                    (channel, ConsentStatus::try_from(c.status).expect("status").as_str_name().to_string())
                } else {
                    (c.agreement.clone(), c.granted.to_string())
                };
                facts.consents.insert((c.client_id, what), (answer, c.source));
            }
            Some(Payload::ClientsMerged(m)) => {
                for merged in m.merged_client_ids {
                    facts.merged_into.insert(merged, m.survivor_client_id.clone());
                }
            }
            Some(Payload::ClientErased(e)) => {
                facts.clients.remove(&e.client_id);
                facts.erased.push(e.client_id);
            }
            _ => {}
        }
    }
    facts
}

fn attribute(value: Value) -> AttributeValue {
    AttributeValue { value: Some(value) }
}

async fn consent(api: &mut Client, id: &str, channel: ContactChannel, status: ConsentStatus, key: &str) {
    let c = pb::ChannelConsent { channel: channel as i32, status: status as i32, ..Default::default() };
    let agreements = Some(pb::Agreement { granted: true, ..Default::default() });
    let request = pb::SetConsentRequest {
        context: with_key(key),
        client_id: id.into(),
        consents: vec![c],
        personal_data_consent: agreements.clone(),
        third_party_transfer_consent: if key.ends_with("dup") { agreements } else { None },
        source: "form".into(),
    };
    api.set_consent(request).await.expect("consent set");
}

#[tokio::test]
async fn a_read_model_replayed_from_the_feed_holds_what_the_client_service_answers() {
    let app = start().await;
    let mut api = admin(&app);
    let attributes: BTreeMap<String, AttributeValue> = [
        ("shoe_size".to_string(), attribute(Value::Integer(38))),
        (
            "vip_since".to_string(),
            attribute(Value::Date(loyalty_api::common::v1::Date { year: 2024, month: 2, day: 29 })),
        ),
        ("newsletter".to_string(), attribute(Value::Boolean(true))),
    ]
    .into();
    let ona = pb::Client {
        email: "ona@example.lt".into(),
        address: "Gedimino pr. 1".into(),
        city: "Vilnius".into(),
        notes: "prefers SMS".into(),
        phone_verified: true,
        custom_attributes: attributes,
        ..person("Ona", "Jonaitė", "+37061200301")
    };
    let ona = api.create_client(create(ona)).await.expect("created").into_inner();
    let dup = api.create_client(create(person("Ona", "Jonaite", "+37061200302"))).await.expect("dup").into_inner();
    let gone = add(&mut api, "Petras", "Petraitis", "+37061200303").await;

    let moved = pb::Client { id: ona.id.clone(), city: "Kaunas".into(), ..Default::default() };
    let update = pb::UpdateClientRequest { client: Some(moved), update_mask: mask(&["city"]), ..Default::default() };
    api.update_client(update).await.expect("moved to Kaunas");
    consent(&mut api, &ona.id, ContactChannel::Email, ConsentStatus::Subscribed, "c-ona").await;
    consent(&mut api, &dup.id, ContactChannel::Sms, ConsentStatus::Subscribed, "c-dup").await;
    let tag = pb::Tag { name: "vip".into(), ..Default::default() };
    let tag = api.create_tag(pb::CreateTagRequest { tag: Some(tag), ..Default::default() }).await.expect("tag");
    let tag = tag.into_inner();
    let tagging = pb::ModifyClientTagsRequest {
        client_id: dup.id.clone(),
        add_tag_ids: vec![tag.id.clone()],
        ..Default::default()
    };
    api.modify_client_tags(tagging).await.expect("tagged");
    let merge = pb::MergeClientsRequest {
        survivor_client_id: ona.id.clone(),
        merged_client_ids: vec![dup.id.clone()],
        ..Default::default()
    };
    api.merge_clients(merge).await.expect("merged");
    let erase = pb::EraseClientRequest { client_id: gone.id.clone(), reason: "GDPR-1".into(), ..Default::default() };
    api.erase_client(erase).await.expect("erased");

    let facts = replay(&mut api).await;
    let now = api.get_client(pb::GetClientRequest { client_id: ona.id.clone() }).await.expect("get").into_inner();
    let seen = &facts.clients[&ona.id];
    assert_eq!(
        (&seen.first_name, &seen.last_name, &seen.email, &seen.phone, &seen.city, &seen.address, &seen.notes),
        (&now.first_name, &now.last_name, &now.email, &now.phone, &now.city, &now.address, &now.notes),
        "profile fields"
    );
    assert!(seen.phone_verified && now.phone_verified, "phone verified");
    assert_eq!(seen.typed_attributes, now.custom_attributes, "typed custom attributes");
    assert_eq!(seen.updated_at.map(|t| t.seconds), now.updated_at.map(|t| t.seconds), "updated time");
    let mut feed_tags = facts.tags[&ona.id].clone();
    let mut api_tags = now.tag_ids.clone();
    feed_tags.sort();
    api_tags.sort();
    assert_eq!(feed_tags, api_tags, "tags, the duplicate's moved by the merge");
    assert_eq!(api_tags, vec![tag.id.clone()]);
    for c in &now.consents {
        let channel = ContactChannel::try_from(c.channel).expect("channel").as_str_name().to_string();
        let status = ConsentStatus::try_from(c.status).expect("status").as_str_name().to_string();
        let on_feed = facts.consents.get(&(ona.id.clone(), channel.clone())).map(|(s, _)| s.clone());
        assert_eq!(on_feed, Some(status), "the {channel} consent");
    }
    assert!(
        now.consents.iter().any(|c| c.channel == ContactChannel::Sms as i32),
        "the merge took the duplicate's SMS consent"
    );
    for (agreement, answer) in
        [("personal_data", &now.personal_data_consent), ("third_party_transfer", &now.third_party_transfer_consent)]
    {
        let granted = answer.as_ref().map(|a| a.granted.to_string());
        let on_feed = facts.consents.get(&(ona.id.clone(), agreement.to_string())).map(|(g, _)| g.clone());
        assert_eq!(on_feed, granted, "the {agreement} agreement");
        assert_eq!(
            seen_flag(seen, agreement),
            answer.as_ref().is_some_and(|a| a.granted),
            "{agreement} on the profile"
        );
    }
    assert_eq!(facts.merged_into.get(&dup.id), Some(&ona.id), "the duplicate resolves to the survivor");
    assert!(facts.erased.contains(&gone.id) && !facts.clients.contains_key(&gone.id), "the erased client is gone");
}

fn seen_flag(c: &ev::ClientUpserted, agreement: &str) -> bool {
    if agreement == "personal_data" { c.personal_data_consent } else { c.third_party_transfer_consent }
}
