//! A migration keeps what happened when it happened: a client's original registration time and
//! its consents' original times (GDPR proof), but only for the right `clients.import`, never in
//! the future, and the feed tells the original times too.
mod support;

use futures::StreamExt;
use loyalty_api::client::v1 as pb;
use loyalty_api::common::v1::{ConsentStatus, ContactChannel};
use loyalty_api::events::v1::{WatchEventsRequest, event::Payload};
use loyalty_testkit::support::TENANT;
use support::*;
use tonic::Code;

fn at(rfc3339: &str) -> Option<prost_types::Timestamp> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).expect("time");
    Some(loyalty_platform::convert::to_timestamp(t))
}

fn registered(first: &str, phone: &str, when: &str) -> pb::CreateClientRequest {
    create(pb::Client { registered_at: at(when), ..person(first, "Migrantė", phone) })
}

#[tokio::test]
async fn original_times_need_the_import_right_and_travel_on_the_feed() {
    let app = start().await;
    let mut cashier = client(&app, &app.token(TENANT, &["clients.write", "clients.read"]));
    let refused = cashier.create_client(registered("Ona", "+37061200001", "2024-05-01T09:00:00Z")).await;
    assert_eq!(refused.expect_err("no import right").code(), Code::PermissionDenied);
    assert_eq!(total(&mut admin(&app)).await, 0, "nothing was created");
    let mut importer = client(&app, &app.token(TENANT, &["clients.write", "clients.read", "clients.import"]));
    let future = importer.create_client(registered("Ona", "+37061200001", "2099-01-01T00:00:00Z")).await;
    assert_eq!(fields(&future.expect_err("future")), ["client.registered_at"]);
    let ona = importer.create_client(registered("Ona", "+37061200001", "2024-05-01T09:00:00Z")).await.expect("created");
    let ona = ona.into_inner();
    assert_eq!(ona.registered_at, at("2024-05-01T09:00:00Z"), "the original registration is kept");
    // Consents with their original times.
    let consent = |status: ConsentStatus, when: &str| pb::ChannelConsent {
        channel: ContactChannel::Email as i32,
        status: status as i32,
        changed_at: at(when),
        ..Default::default()
    };
    let set = |c: pb::ChannelConsent| pb::SetConsentRequest {
        client_id: ona.id.clone(),
        consents: vec![c],
        source: "import".into(),
        ..Default::default()
    };
    let denied = cashier.set_consent(set(consent(ConsentStatus::Subscribed, "2024-05-01T09:00:00Z"))).await;
    assert_eq!(denied.expect_err("no import right").code(), Code::PermissionDenied);
    let later = importer.set_consent(set(consent(ConsentStatus::Subscribed, "2099-05-01T09:00:00Z"))).await;
    assert_eq!(fields(&later.expect_err("future")), ["consents[0].changed_at"]);
    let kept =
        importer.set_consent(set(consent(ConsentStatus::Subscribed, "2024-05-02T10:00:00Z"))).await.expect("set");
    let email =
        kept.into_inner().consents.into_iter().find(|c| c.channel == ContactChannel::Email as i32).expect("email");
    assert_eq!((email.changed_at, email.source.as_str()), (at("2024-05-02T10:00:00Z"), "import"));
    // Without a time it is now, for anyone.
    let now = cashier
        .set_consent(set(pb::ChannelConsent {
            changed_at: None,
            ..consent(ConsentStatus::Unsubscribed, "2024-01-01T00:00:00Z")
        }))
        .await;
    let seconds = |t: Option<prost_types::Timestamp>| t.map_or(0, |t| t.seconds);
    let recorded = now.expect("set").into_inner().consents[0].changed_at;
    assert!(seconds(recorded) > seconds(at("2026-01-01T00:00:00Z")), "recorded now");
    // The feed carries the original times.
    let replay = WatchEventsRequest { replay_only: true, ..Default::default() };
    let events: Vec<_> = admin(&app).watch_events(replay).await.expect("feed").into_inner().collect().await;
    let mut upserted = None;
    let mut consents = Vec::new();
    for e in events {
        match e.expect("event").payload {
            Some(Payload::ClientUpserted(u)) => upserted = u.registered_at,
            Some(Payload::ConsentChanged(c)) => consents.push(c.changed_at),
            _ => {}
        }
    }
    assert_eq!(upserted, at("2024-05-01T09:00:00Z"));
    assert_eq!(consents.first().cloned().flatten(), at("2024-05-02T10:00:00Z"));
}
