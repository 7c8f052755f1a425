//! Triggers (ME-4) with a real SMTP server: a birthday greeting at the tenant's local time across
//! its midnight, once a year; points credited (not by an import); a segment entered, restricted to
//! an audience; client events once per event id; rights, store scope and bad input.
mod suite;

use loyalty_api::client::v1 as clients;
use loyalty_api::common::v1::{Channel, ConsentStatus, ContactChannel, Date, RequestContext};
use loyalty_api::filter::v1::{Audience, audience::Source};
use loyalty_api::messaging::v1 as pb;
use loyalty_api::messaging::v1::TriggerKind as K;
use loyalty_api::segment::v1 as spb;
use loyalty_platform::clock::ManualClock;
use loyalty_testkit::TestApp;
use loyalty_testkit::smtp::SmtpServer;
use loyalty_testkit::support::{self, TENANT};
use std::time::Duration;
use suite::*;
use time::macros::datetime;

/// A client subscribed to email, with a birthday and a gender.
async fn person(
    app: &TestApp,
    first: &str,
    email: &str,
    born: (i32, i32, i32),
    gender: clients::Gender,
    store: &str,
) -> String {
    let person = clients::Client {
        first_name: first.into(),
        last_name: "Testaitė".into(),
        email: email.into(),
        birth_date: Some(Date { year: born.0, month: born.1, day: born.2 }),
        gender: gender as i32,
        registration_store_id: store.into(),
        ..Default::default()
    };
    create_client(app, TENANT, person, ConsentStatus::Subscribed).await
}

fn greeting(name: &str, kind: K) -> pb::Trigger {
    pb::Trigger {
        name: name.into(),
        kind: kind as i32,
        enabled: true,
        body: Some(pb::trigger::Body::Content(newsletter())),
        ..Default::default()
    }
}

async fn create(api: &mut support::Messaging, t: pb::Trigger) -> pb::Trigger {
    api.create_trigger(pb::CreateTriggerRequest { trigger: Some(t) }).await.expect("trigger").into_inner()
}

async fn trigger_stats(api: &mut support::Messaging, id: &str) -> pb::CampaignStats {
    let t = api.get_trigger(pb::GetTriggerRequest { trigger_id: id.into() }).await.expect("trigger").into_inner();
    t.stats.unwrap_or_default()
}

/// Who the mails went to.
fn recipients(smtp: &SmtpServer) -> Vec<String> {
    let mut to: Vec<String> = smtp.mails().iter().map(|m| m.to.clone()).collect();
    to.sort();
    to
}

#[tokio::test]
async fn a_birthday_greeting_goes_out_after_the_tenants_midnight_once_a_year() {
    // 23:50 on 6 December in Vilnius (21:50 UTC).
    let clock = ManualClock::starting_at(datetime!(2026-12-06 21:50 UTC));
    let app = start_with_clock(std::sync::Arc::new(clock.clone())).await;
    let smtp = SmtpServer::start();
    use_smtp(&app, TENANT, &smtp).await;
    person(&app, "Ona", "ona@example.lt", (1990, 12, 7), clients::Gender::Female, "").await;
    person(&app, "Jonas", "jonas@example.lt", (1985, 12, 8), clients::Gender::Male, "").await;
    settle(&app, TENANT, 2).await;
    let mut api = admin(&app);
    let t =
        create(&mut api, pb::Trigger { send_at_local_time: "00:00".into(), ..greeting("Su gimtadieniu", K::Birthday) })
            .await;
    assert_eq!(t.kind(), K::Birthday);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(smtp.mails().is_empty(), "nobody before midnight in Vilnius");

    // 00:01 on 7 December in Vilnius: Ona's birthday.
    clock.set(datetime!(2026-12-06 22:01 UTC));
    smtp.wait_for(1, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(recipients(&smtp), vec!["ona@example.lt"], "Ona only, once");
    let mail = &smtp.mails()[0];
    assert_eq!(mail.subject, "Sveiki, Ona!");
    assert!(
        mail.header("List-Unsubscribe").is_some(),
        "a trigger's email is marketing: it carries the unsubscribe link"
    );

    // A year later she is greeted again: next year's birthday is a new occurrence.
    clock.set(datetime!(2027-12-07 08:00 UTC));
    smtp.wait_for(2, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(recipients(&smtp), vec!["ona@example.lt", "ona@example.lt"]);
    assert_eq!(trigger_stats(&mut api, &t.id).await.sent, 2);
}

#[tokio::test]
async fn points_credited_fire_a_trigger_and_points_that_arrived_by_import_do_not() {
    let app = start().await;
    let smtp = SmtpServer::start();
    use_smtp(&app, TENANT, &smtp).await;
    let ona = person(&app, "Ona", "ona@example.lt", (1990, 1, 1), clients::Gender::Female, "").await;
    let migrated = person(&app, "Rūta", "ruta@example.lt", (1991, 1, 1), clients::Gender::Female, "").await;
    settle(&app, TENANT, 2).await;
    let mut api = admin(&app);
    let t = create(&mut api, greeting("Taškai įskaityti", K::PointsCredited)).await;
    let mut ledger = support::ledger(&app, &app.admin_token(TENANT));
    let credit = |client: &str, key: &str, channel: Channel| loyalty_api::ledger::v1::AdjustPointsRequest {
        context: Some(RequestContext { idempotency_key: key.into(), channel: channel as i32, ..Default::default() }),
        client_id: client.into(),
        points: 40,
        comment: "ačiū".into(),
        ..Default::default()
    };
    ledger.adjust_points(credit(&migrated, "opening-balance", Channel::Import)).await.expect("an imported balance");
    ledger.adjust_points(credit(&ona, "goodwill", Channel::Console)).await.expect("credited");
    smtp.wait_for(1, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(recipients(&smtp), vec!["ona@example.lt"], "the imported balance greets nobody");
    assert!(smtp.mails()[0].text.contains("40"), "the balance placeholder shows the credit");
    assert_eq!(trigger_stats(&mut api, &t.id).await.sent, 1);
    // A merge moves Rūta's points onto Ona: nothing was credited, nobody is greeted.
    let mut people = support::clients(&app, &app.admin_token(TENANT));
    let merge = clients::MergeClientsRequest {
        context: Some(RequestContext { idempotency_key: "merge-1".into(), ..Default::default() }),
        survivor_client_id: ona.clone(),
        merged_client_ids: vec![migrated.clone()],
    };
    people.merge_clients(merge).await.expect("merged");
    let db = support::sql(&app, "messaging").await;
    let mut balance = 0;
    for _ in 0..200 {
        balance = db
            .query_one("SELECT points_balance FROM shopping WHERE client_id = $1::text::uuid", &[&ona])
            .await
            .map(|r| r.get::<_, i64>(0))
            .unwrap_or(0);
        if balance == 80 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(balance, 80, "Ona holds both balances after the merge");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(recipients(&smtp), vec!["ona@example.lt"], "the merge greets nobody");
}

/// Whether the segment feed tells, within `tries` looks 50 ms apart, that `client` entered
/// `segment`.
async fn entered(segments: &mut support::Segments, segment: &str, client: &str, tries: u32) -> bool {
    use futures::StreamExt;
    use loyalty_api::events::v1::{WatchEventsRequest, event::Payload};
    for _ in 0..tries {
        let replay = WatchEventsRequest { replay_only: true, ..Default::default() };
        let events: Vec<_> =
            segments.watch_events(replay).await.expect("the segment feed").into_inner().collect().await;
        let found = events.into_iter().filter_map(Result::ok).any(|e| {
            matches!(e.payload, Some(Payload::SegmentMembershipChanged(m)) if m.segment_id == segment && m.client_id == client && m.entered)
        });
        if found {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn entering_a_segment_greets_the_clients_the_audience_lets_in() {
    let app = start().await;
    let smtp = SmtpServer::start();
    use_smtp(&app, TENANT, &smtp).await;
    let ona = person(&app, "Ona", "ona@example.lt", (1990, 1, 1), clients::Gender::Female, "").await;
    let jonas = person(&app, "Jonas", "jonas@example.lt", (1985, 1, 1), clients::Gender::Male, "").await;
    settle(&app, TENANT, 2).await;
    segment_sees(&app, TENANT, 2).await;
    let mut segments = support::segments(&app, &app.admin_token(TENANT));
    let parse = |text: &str| spb::ParseFilterRequest { filter_text: text.into() };
    let kaunas = segments.parse_filter(parse(r#"client.city = "Kaunas""#)).await.expect("parses").into_inner().filter;
    let women = segments.parse_filter(parse(r#"client.gender = "female""#)).await.expect("parses").into_inner().filter;
    let segment = spb::Segment {
        name: "Kauniečiai".into(),
        kind: spb::SegmentKind::Dynamic as i32,
        filter: kaunas,
        ..Default::default()
    };
    let segment = segments
        .create_segment(spb::CreateSegmentRequest { segment: Some(segment), ..Default::default() })
        .await
        .expect("segment")
        .into_inner();
    let mut api = admin(&app);
    let welcome = pb::Trigger {
        segment_id: segment.id.clone(),
        audience: Some(Audience { source: Some(Source::Filter(women.unwrap_or_default())) }),
        ..greeting("Sveiki atvykę į Kauną", K::SegmentEntered)
    };
    let t = create(&mut api, welcome).await;
    let mut people = support::clients(&app, &app.admin_token(TENANT));
    // A first entry published shows the segment's first members were recorded (an entry before
    // that would be a first member, announced to nobody).
    let probe = person(&app, "Petras", "petras@example.lt", (1980, 1, 1), clients::Gender::Male, "").await;
    // The probe moves in and out until its entry is published.
    let mut announced = false;
    for _ in 0..20 {
        for city in ["Vilnius", "Kaunas"] {
            let moved = clients::Client { id: probe.clone(), city: city.into(), ..Default::default() };
            let mask = prost_types::FieldMask { paths: vec!["city".into()] };
            let update =
                clients::UpdateClientRequest { client: Some(moved), update_mask: Some(mask), ..Default::default() };
            people.update_client(update).await.expect("moved");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        if entered(&mut segments, &segment.id, &probe, 20).await {
            announced = true;
            break;
        }
    }
    assert!(announced, "the probe's entry into the segment was never published");
    for id in [&ona, &jonas] {
        let moved = clients::Client { id: id.to_string(), city: "Kaunas".into(), ..Default::default() };
        let mask = prost_types::FieldMask { paths: vec!["city".into()] };
        people
            .update_client(clients::UpdateClientRequest {
                client: Some(moved),
                update_mask: Some(mask),
                ..Default::default()
            })
            .await
            .expect("moved to Kaunas");
    }
    // A client an import brings in, living in Kaunas, enters too: an import greets nobody.
    let migrated = clients::Client {
        first_name: "Eglė".into(),
        last_name: "Importuota".into(),
        email: "egle@example.lt".into(),
        phone: next_phone(),
        city: "Kaunas".into(),
        gender: clients::Gender::Female as i32,
        ..Default::default()
    };
    let imported = RequestContext {
        idempotency_key: "import-row-1".into(),
        channel: Channel::Import as i32,
        ..Default::default()
    };
    let egle = people
        .create_client(clients::CreateClientRequest {
            client: Some(migrated),
            context: Some(imported),
            ..Default::default()
        })
        .await
        .expect("imported")
        .into_inner()
        .id;
    people
        .set_consent(clients::SetConsentRequest {
            client_id: egle.clone(),
            consents: vec![clients::ChannelConsent {
                channel: ContactChannel::Email as i32,
                status: ConsentStatus::Subscribed as i32,
                source: "import".into(),
                ..Default::default()
            }],
            source: "import".into(),
            context: Some(RequestContext { channel: Channel::Import as i32, ..Default::default() }),
            ..Default::default()
        })
        .await
        .expect("imported consent");
    smtp.wait_for(1, Duration::from_secs(30)).await;
    assert!(entered(&mut segments, &segment.id, &egle, 400).await, "Eglė entered the segment");
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(
        recipients(&smtp),
        vec!["ona@example.lt"],
        "all entered; the audience (women) lets Ona in, Eglė came by import"
    );
    assert_eq!(trigger_stats(&mut api, &t.id).await.sent, 1);

    // A segment that does not exist is named.
    let wrong = pb::Trigger { segment_id: "auto:nonesuch".into(), ..greeting("x", K::SegmentEntered) };
    let refused = api.create_trigger(pb::CreateTriggerRequest { trigger: Some(wrong) }).await.expect_err("refused");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
    assert!(refused.message().contains("segment_id"), "{}", refused.message());
}

#[tokio::test]
async fn an_event_fires_its_triggers_once_per_event_id_within_the_creators_stores() {
    let app = start().await;
    let smtp = SmtpServer::start();
    use_smtp(&app, TENANT, &smtp).await;
    let ona = person(&app, "Ona", "ona@example.lt", (1990, 1, 1), clients::Gender::Female, "VLN-01").await;
    let petras = person(&app, "Petras", "petras@example.lt", (1980, 1, 1), clients::Gender::Male, "KNS-01").await;
    settle(&app, TENANT, 2).await;
    // A Vilnius store's manager writes a trigger: it reaches Vilnius clients only.
    let manager = app.store_token(TENANT, &["campaigns.send", "campaigns.read", "segments.read"], &["VLN-01"]);
    let mut vilnius = support::messaging(&app, &manager);
    let t =
        create(&mut vilnius, pb::Trigger { event_name: "app_installed".into(), ..greeting("Programėlė", K::Event) })
            .await;
    let mut api = admin(&app);
    let event = |id: &str, client: &str| pb::RecordClientEventRequest {
        event_id: id.into(),
        client_id: client.into(),
        event_name: "app_installed".into(),
        ..Default::default()
    };
    let fired = api.record_client_event(event("e-1", &ona)).await.expect("recorded").into_inner();
    assert_eq!(fired.triggers_fired, 1);
    api.record_client_event(event("e-1", &ona)).await.expect("the same event again");
    api.record_client_event(event("e-2", &petras)).await.expect("a Kaunas client's event");
    smtp.wait_for(1, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(recipients(&smtp), vec!["ona@example.lt"], "once for e-1; Petras is outside the manager's store");

    // The manager cannot report an event of a client their store does not see, nor see a chain trigger.
    let outside = vilnius.record_client_event(event("e-3", &petras)).await.expect_err("not theirs");
    assert_eq!(outside.code(), tonic::Code::NotFound);
    let chain = create(&mut api, pb::Trigger { event_name: "x".into(), ..greeting("Visiems", K::Event) }).await;
    let listed = vilnius.list_triggers(pb::ListTriggersRequest {}).await.expect("listed").into_inner();
    assert_eq!(listed.triggers.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), vec![t.id.as_str()]);
    let hidden = vilnius.get_trigger(pb::GetTriggerRequest { trigger_id: chain.id.clone() }).await.expect_err("hidden");
    assert_eq!(hidden.code(), tonic::Code::NotFound);
    // An event that came in an import fires nothing.
    let imported = pb::RecordClientEventRequest {
        context: Some(RequestContext { channel: Channel::Import as i32, ..Default::default() }),
        ..event("e-4", &ona)
    };
    assert_eq!(api.record_client_event(imported).await.expect("recorded").into_inner().triggers_fired, 0);

    // Writing a trigger needs the right to send.
    let writer = app.token(TENANT, &["campaigns.write", "campaigns.read", "segments.read"]);
    let denied = support::messaging(&app, &writer)
        .create_trigger(pb::CreateTriggerRequest { trigger: Some(greeting("x", K::PointsCredited)) })
        .await
        .expect_err("denied");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    // Disabled, it fires nothing; deleted, it is gone.
    let off = pb::Trigger { id: t.id.clone(), enabled: false, ..Default::default() };
    let mask = prost_types::FieldMask { paths: vec!["enabled".into()] };
    vilnius
        .update_trigger(pb::UpdateTriggerRequest { trigger: Some(off), update_mask: Some(mask) })
        .await
        .expect("off");
    assert_eq!(api.record_client_event(event("e-5", &ona)).await.expect("recorded").into_inner().triggers_fired, 0);
    vilnius.delete_trigger(pb::DeleteTriggerRequest { trigger_id: t.id.clone() }).await.expect("deleted");
    let gone = api.get_trigger(pb::GetTriggerRequest { trigger_id: t.id.clone() }).await.expect_err("gone");
    assert_eq!(gone.code(), tonic::Code::NotFound);
    assert_eq!(smtp.mails().len(), 1);
}

#[tokio::test]
async fn bad_triggers_and_events_are_refused_naming_the_field() {
    let app = start().await;
    let ona = person(&app, "Ona", "ona@example.lt", (1990, 1, 1), clients::Gender::Female, "").await;
    settle(&app, TENANT, 1).await;
    let mut api = admin(&app);
    let refused = |t: pb::Trigger| {
        let mut api = api.clone();
        async move { api.create_trigger(pb::CreateTriggerRequest { trigger: Some(t) }).await.expect_err("refused") }
    };
    let no_unsubscribe = pb::Content { body: "<p>Sveiki</p>".into(), ..newsletter() };
    let cases: Vec<(pb::Trigger, &str)> = vec![
        (pb::Trigger { kind: 0, ..greeting("x", K::Birthday) }, "trigger.kind"),
        (pb::Trigger { name: " ".into(), ..greeting("x", K::Birthday) }, "trigger.name"),
        (pb::Trigger { offset_days: 400, ..greeting("x", K::Birthday) }, "trigger.offset_days"),
        (pb::Trigger { offset_days: -1, ..greeting("x", K::PointsExpiring) }, "trigger.offset_days"),
        (greeting("x", K::SegmentEntered), "trigger.segment_id"),
        (greeting("x", K::Date), "trigger.date"),
        (pb::Trigger { date: Some(Date { year: 2027, month: 2, day: 30 }), ..greeting("x", K::Date) }, "trigger.date"),
        (pb::Trigger { event_name: "App Installed\0".into(), ..greeting("x", K::Event) }, "trigger.event_name"),
        (
            pb::Trigger { send_at_local_time: "25:00".into(), ..greeting("x", K::Birthday) },
            "trigger.send_at_local_time",
        ),
        (
            pb::Trigger { body: Some(pb::trigger::Body::Content(no_unsubscribe)), ..greeting("x", K::Birthday) },
            "unsubscribe",
        ),
        (pb::Trigger { body: None, ..greeting("x", K::Birthday) }, "trigger.content"),
    ];
    for (t, field) in cases {
        let e = refused(t).await;
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{field}: {e:?}");
        assert!(e.message().contains(field), "{field}: {}", e.message());
    }
    let listed = api.list_triggers(pb::ListTriggersRequest {}).await.expect("listed").into_inner();
    assert!(listed.triggers.is_empty(), "nothing was written");
    let event = |id: &str, name: &str, client: &str| pb::RecordClientEventRequest {
        event_id: id.into(),
        client_id: client.into(),
        event_name: name.into(),
        ..Default::default()
    };
    for (e, field) in [
        (event("", "app_installed", &ona), "event_id"),
        (event(&"x".repeat(500), "app_installed", &ona), "event_id"),
        (event("e\0", "app_installed", &ona), "event_id"),
        (event("e", "", &ona), "event_name"),
        (event("e", "app_installed", "not-an-id"), "client_id"),
    ] {
        let e = api.record_client_event(e).await.expect_err("refused");
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{field}: {e:?}");
        assert!(e.message().contains(field), "{field}: {}", e.message());
    }
}
