//! SMS through an HTTP gateway and Telegram through the Bot API (ME-1), at their request shapes,
//! against local stand-ins; transactional notices (ME-5) including the ledger's points-credited
//! SMS (LE-3), sent once per idempotency key or event, never to a blocked client.
mod suite;

use loyalty_api::client::v1 as clients;
use loyalty_api::common::v1::ConsentStatus::{Subscribed, Unknown};
use loyalty_api::common::v1::{ConsentStatus, ContactChannel};
use loyalty_api::ledger::v1 as ledger;
use loyalty_api::messaging::v1 as pb;
use loyalty_platform::clock::ManualClock;
use loyalty_testkit::recorder::Recorder;
use loyalty_testkit::support::{self, TENANT, with_key};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use suite::*;

async fn subscribe(app: &loyalty_testkit::TestApp, client: &str, channel: ContactChannel, address: &str) {
    let consent = clients::ChannelConsent {
        channel: channel as i32,
        status: ConsentStatus::Subscribed as i32,
        address: address.into(),
        source: "form".into(),
        ..Default::default()
    };
    support::clients(app, &app.admin_token(TENANT))
        .set_consent(clients::SetConsentRequest {
            client_id: client.into(),
            consents: vec![consent],
            source: "form".into(),
            ..Default::default()
        })
        .await
        .expect("consent");
}

fn gateway(url: &str) -> pb::ChannelProvider {
    pb::ChannelProvider {
        channel: ContactChannel::Sms as i32,
        settings: Some(pb::channel_provider::Settings::SmsGateway(pb::HttpGatewaySettings {
            url: format!("{url}/v1/sms"),
            api_key: "k-123".into(),
            sender: "PARDUOTUVE".into(),
            ..Default::default()
        })),
        enabled: true,
        ..Default::default()
    }
}

fn sms(text: &str) -> pb::Content {
    pb::Content { channel: ContactChannel::Sms as i32, body: text.into(), ..Default::default() }
}

async fn contact_phone(app: &loyalty_testkit::TestApp, id: &str) -> String {
    let mut people = support::clients(app, &app.admin_token(TENANT));
    people.get_client(clients::GetClientRequest { client_id: id.into() }).await.expect("client").into_inner().phone
}

#[tokio::test]
async fn an_sms_campaign_posts_to_the_gateway_with_its_key_and_a_refusal_is_kept_with_its_reason() {
    let app = start().await;
    let gate = Recorder::start(|r| {
        if r.body.contains("Jonas") {
            (400, r#"{"error":"number not allowed"}"#.into())
        } else {
            (200, r#"{"message_id":"gw-1"}"#.into())
        }
    })
    .await;
    let mut api = admin(&app);
    api.set_channel_provider(pb::SetChannelProviderRequest { provider: Some(gateway(&gate.url)) })
        .await
        .expect("provider");
    let ona = client(&app, TENANT, "Ona", "ona@example.lt", Unknown, "").await;
    let jonas = client(&app, TENANT, "Jonas", "jonas@example.lt", Unknown, "").await;
    client(&app, TENANT, "Eglė", "egle@example.lt", Unknown, "").await;
    subscribe(&app, &ona, ContactChannel::Sms, "").await;
    subscribe(&app, &jonas, ContactChannel::Sms, "").await;
    settle(&app, TENANT, 3).await;
    segment_sees(&app, TENANT, 3).await;
    let mut c = campaign("SMS akcija", everyone());
    c.body = Some(pb::campaign::Body::Content(sms("{first_name}, šiandien -20 % kavai!")));
    let created =
        api.create_campaign(pb::CreateCampaignRequest { campaign: Some(c) }).await.expect("created").into_inner();
    api.start_campaign(pb::StartCampaignRequest { campaign_id: created.id.clone(), ..Default::default() })
        .await
        .expect("started");
    until_state(&mut api, &created.id, pb::CampaignState::Completed).await;
    let posted = gate.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(posted.len(), 2, "Ona and Jonas are subscribed to SMS, Eglė is not: {posted:#?}");
    let r = posted.iter().find(|r| r.body.contains("Ona")).expect("Ona's SMS");
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/v1/sms"));
    assert_eq!(r.header("authorization"), Some("Bearer k-123"));
    let body = r.json();
    assert_eq!(body["to"], contact_phone(&app, &ona).await.as_str());
    assert_eq!(
        (body["text"].as_str(), body["sender"].as_str()),
        (Some("Ona, šiandien -20 % kavai!"), Some("PARDUOTUVE"))
    );
    assert_eq!(r.header("idempotency-key"), body["message_id"].as_str(), "the gateway can tell a resend");
    let s = stats(&mut api, &created.id).await;
    assert_eq!((s.sent, s.failed, s.excluded.get("consent_unknown").copied()), (1, 1, Some(1)));
    let listed = api
        .list_deliveries(pb::ListDeliveriesRequest { campaign_id: created.id, ..Default::default() })
        .await
        .expect("list")
        .into_inner();
    let to_ona = listed.deliveries.iter().find(|d| d.client_id == ona).expect("Ona's delivery");
    assert_eq!(to_ona.provider_message_id, "gw-1", "the gateway's own id");
    // The gateway's status callback names its own id: that is how the receipt finds Ona's SMS.
    let receipt = |channel: ContactChannel| pb::RecordDeliveryReceiptRequest {
        provider_message_id: "gw-1".into(),
        channel: channel as i32,
        delivered: true,
        ..Default::default()
    };
    let elsewhere = api.record_delivery_receipt(receipt(ContactChannel::Email)).await.expect_err("no email has it");
    assert_eq!(elsewhere.code(), tonic::Code::NotFound);
    let delivered = api.record_delivery_receipt(receipt(ContactChannel::Unspecified)).await.expect("by its id");
    let delivered = delivered.into_inner();
    assert_eq!((delivered.id.as_str(), delivered.transport()), (to_ona.id.as_str(), pb::TransportState::Delivered));
    let unknown =
        pb::RecordDeliveryReceiptRequest { provider_message_id: "gw-404".into(), ..receipt(ContactChannel::Sms) };
    assert_eq!(api.record_delivery_receipt(unknown).await.expect_err("unknown").code(), tonic::Code::NotFound);
    let long =
        pb::RecordDeliveryReceiptRequest { provider_message_id: "9".repeat(501), ..receipt(ContactChannel::Sms) };
    let refused = api.record_delivery_receipt(long).await.expect_err("too long");
    assert!(refused.message().contains("provider_message_id"), "{}", refused.message());
    let to_jonas = listed.deliveries.iter().find(|d| d.client_id == jonas).expect("Jonas's delivery");
    assert_eq!(to_jonas.transport(), pb::TransportState::Failed);
    assert!(
        to_jonas.failure_reason.contains("http 400") && to_jonas.failure_reason.contains("number not allowed"),
        "{}",
        to_jonas.failure_reason
    );
}

#[tokio::test]
async fn a_transactional_notice_skips_consent_not_blocks_and_is_sent_once_per_key() {
    let app = start().await;
    let gate = Recorder::start(|_| (200, "{}".into())).await;
    let mut api = admin(&app);
    api.set_channel_provider(pb::SetChannelProviderRequest { provider: Some(gateway(&gate.url)) })
        .await
        .expect("provider");
    let ona = client(&app, TENANT, "Ona", "ona@example.lt", Unknown, "").await;
    let petras = client(&app, TENANT, "Petras", "petras@example.lt", Subscribed, "").await;
    let mut people = support::clients(&app, &app.admin_token(TENANT));
    people
        .block_client(clients::BlockClientRequest {
            client_id: petras.clone(),
            comment: "fraud".into(),
            ..Default::default()
        })
        .await
        .expect("blocked");
    settle(&app, TENANT, 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let notice = |client: &str, key: &str| pb::SendTransactionalRequest {
        context: with_key(key),
        client_id: client.into(),
        content: Some(sms("{first_name}, jūsų užsakymas paruoštas atsiimti.")),
    };
    let first = api.send_transactional(notice(&ona, "order-77")).await.expect("queued").into_inner();
    let again = api.send_transactional(notice(&ona, "order-77")).await.expect("a retry").into_inner();
    assert_eq!(first.id, again.id, "the same key is the same delivery");
    let posted = gate.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(posted.len(), 1);
    assert_eq!(
        posted[0].json()["text"],
        "Ona, jūsų užsakymas paruoštas atsiimti.",
        "consent unknown: a notice still goes"
    );
    let refused = api.send_transactional(notice(&petras, "order-78")).await.expect_err("blocked");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(refused.message().contains("blocked"), "{}", refused.message());
    let no_key = api
        .send_transactional(pb::SendTransactionalRequest { context: None, ..notice(&ona, "") })
        .await
        .expect_err("no key");
    assert_eq!(no_key.code(), tonic::Code::InvalidArgument);
    let other = support::messaging(&app, &app.admin_token(OTHER))
        .send_transactional(notice(&ona, "x-1"))
        .await
        .expect_err("other tenant");
    assert_eq!(other.code(), tonic::Code::NotFound);
    let listed = api
        .list_deliveries(pb::ListDeliveriesRequest { client_id: ona.clone(), ..Default::default() })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.deliveries.len(), 1);
    assert_eq!(listed.deliveries[0].transport(), pb::TransportState::Sent);
}

#[tokio::test]
async fn points_credited_with_an_sms_notice_reach_the_client_once() {
    let app = start().await;
    let gate = Recorder::start(|_| (200, "{}".into())).await;
    let mut api = admin(&app);
    api.set_channel_provider(pb::SetChannelProviderRequest { provider: Some(gateway(&gate.url)) })
        .await
        .expect("provider");
    let ona = client(&app, TENANT, "Ona", "ona@example.lt", Unknown, "").await;
    settle(&app, TENANT, 1).await;
    let adjust = ledger::AdjustPointsRequest {
        context: with_key("goodwill-1"),
        client_id: ona.clone(),
        points: 25,
        comment: "atsiprašome".into(),
        notify_by_sms: true,
        ..Default::default()
    };
    let mut points = support::ledger(&app, &app.admin_token(TENANT));
    points.adjust_points(adjust.clone()).await.expect("credited");
    points.adjust_points(adjust).await.expect("a retry is the same credit");
    let posted = gate.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(posted.len(), 1, "one notice: {posted:#?}");
    let text = posted[0].json()["text"].as_str().unwrap_or_default().to_string();
    assert!(text.contains("25"), "the notice names the points: {text}");
    assert_eq!(posted[0].json()["to"], contact_phone(&app, &ona).await.as_str());
}

#[tokio::test]
async fn telegram_messages_go_to_the_bot_api_and_a_user_who_blocked_the_bot_is_unsubscribed() {
    let app = start().await;
    let bot = Recorder::start(|r| {
        if r.body.contains("\"chat_id\":\"666\"") {
            (403, r#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#.into())
        } else {
            (200, r#"{"ok":true,"result":{"message_id":42}}"#.into())
        }
    })
    .await;
    let mut api = admin(&app);
    let provider = pb::ChannelProvider {
        channel: ContactChannel::Telegram as i32,
        settings: Some(pb::channel_provider::Settings::Telegram(pb::TelegramSettings {
            bot_token: "123:ABC".into(),
            base_url: bot.url.clone(),
            ..Default::default()
        })),
        enabled: true,
        ..Default::default()
    };
    api.set_channel_provider(pb::SetChannelProviderRequest { provider: Some(provider) }).await.expect("provider");
    let (_, jonas) = ona_and_jonas_on(&app, ContactChannel::Telegram, ("555", "666")).await;
    let created = sent_to_everyone(
        &mut api,
        "Telegram",
        pb::Content {
            channel: ContactChannel::Telegram as i32,
            body: "Labas, {first_name}!".into(),
            ..Default::default()
        },
    )
    .await;
    let posted = bot.wait_for(2, Duration::from_secs(20)).await;
    assert!(posted.iter().all(|r| r.path == "/bot123:ABC/sendMessage"), "{posted:#?}");
    let to_ona = posted.iter().find(|r| r.json()["chat_id"] == "555").expect("Ona's message");
    assert_eq!(to_ona.json()["text"], "Labas, Ona!");
    let s = stats(&mut api, &created.id).await;
    assert_eq!((s.sent, s.failed), (1, 1));
    let telegram = consent_once_unsubscribed(&app, &jonas, ContactChannel::Telegram).await;
    assert_eq!(
        telegram.status(),
        ConsentStatus::Unsubscribed,
        "Jonas blocked the bot: he is unsubscribed from Telegram"
    );
    assert_eq!(telegram.source, "telegram_blocked");
}

#[tokio::test]
async fn push_goes_to_fcm_http_v1_and_an_unregistered_device_is_unsubscribed() {
    let app = start().await;
    let fcm = Recorder::start(|r| {
        if r.body.contains("\"token\":\"stale-device\"") {
            let gone = r#"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}"#;
            (404, gone.into())
        } else {
            (200, r#"{"name":"projects/shop/messages/0:1500415314455276%31bd1c9631bd1c96"}"#.into())
        }
    })
    .await;
    let mut api = admin(&app);
    let provider = pb::ChannelProvider {
        channel: ContactChannel::Push as i32,
        settings: Some(pb::channel_provider::Settings::PushGateway(pb::HttpGatewaySettings {
            url: format!("{}/v1/projects/shop/messages:send", fcm.url),
            api_key: "ya29.access-token".into(),
            ..Default::default()
        })),
        enabled: true,
        ..Default::default()
    };
    let saved =
        api.set_channel_provider(pb::SetChannelProviderRequest { provider: Some(provider) }).await.expect("provider");
    let shown = saved.into_inner();
    assert!(
        matches!(&shown.settings, Some(pb::channel_provider::Settings::PushGateway(g)) if g.api_key.is_empty() && g.api_key_set)
    );
    let (_, jonas) = ona_and_jonas_on(&app, ContactChannel::Push, ("ona-phone", "stale-device")).await;
    let created = sent_to_everyone(
        &mut api,
        "Push",
        pb::Content {
            channel: ContactChannel::Push as i32,
            subject: "Akcija".into(),
            body: "{first_name}, šiandien -20 %!".into(),
            ..Default::default()
        },
    )
    .await;
    let posted = fcm.wait_for(2, Duration::from_secs(20)).await;
    assert!(posted.iter().all(|r| r.path == "/v1/projects/shop/messages:send"), "{posted:#?}");
    assert!(posted.iter().all(|r| r.header("authorization") == Some("Bearer ya29.access-token")), "{posted:#?}");
    let to_ona = posted.iter().find(|r| r.json()["message"]["token"] == "ona-phone").expect("Ona's push");
    assert_eq!(to_ona.json()["message"]["notification"]["title"], "Akcija");
    assert_eq!(to_ona.json()["message"]["notification"]["body"], "Ona, šiandien -20 %!");
    let s = stats(&mut api, &created.id).await;
    assert_eq!((s.sent, s.failed), (1, 1));
    let push = consent_once_unsubscribed(&app, &jonas, ContactChannel::Push).await;
    assert_eq!(push.status(), ConsentStatus::Unsubscribed, "FCM no longer knows Jonas's device: he is off push");
    assert_eq!(push.source, "push_blocked");
}

/// The client's consent on `channel` once it reads unsubscribed (or as it is after 5 s).
async fn consent_once_unsubscribed(
    app: &loyalty_testkit::TestApp,
    client: &str,
    channel: ContactChannel,
) -> clients::ChannelConsent {
    let mut people = support::clients(app, &app.admin_token(TENANT));
    let mut consent = clients::ChannelConsent::default();
    for _ in 0..100 {
        let c = people.get_client(clients::GetClientRequest { client_id: client.into() }).await.expect("client");
        consent = c.into_inner().consents.into_iter().find(|c| c.channel == channel as i32).unwrap_or_default();
        if consent.status() == ConsentStatus::Unsubscribed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    consent
}

/// Ona and Jonas, subscribed to `channel` at these addresses, seen by messaging and segment.
async fn ona_and_jonas_on(
    app: &loyalty_testkit::TestApp,
    channel: ContactChannel,
    (at_ona, at_jonas): (&str, &str),
) -> (String, String) {
    let ona = client(app, TENANT, "Ona", "ona@example.lt", Unknown, "").await;
    let jonas = client(app, TENANT, "Jonas", "jonas@example.lt", Unknown, "").await;
    subscribe(app, &ona, channel, at_ona).await;
    subscribe(app, &jonas, channel, at_jonas).await;
    settle(app, TENANT, 2).await;
    segment_sees(app, TENANT, 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    (ona, jonas)
}

/// A campaign of `content` to everyone, started and completed.
async fn sent_to_everyone(api: &mut support::Messaging, name: &str, content: pb::Content) -> pb::Campaign {
    let mut c = campaign(name, everyone());
    c.body = Some(pb::campaign::Body::Content(content));
    let created = started(api, c).await;
    until_state(api, &created.id, pb::CampaignState::Completed).await;
    created
}

/// A gateway that answers 503 while the flag it comes with is set, and accepts once it is not.
async fn flaky_gateway() -> (Recorder, Arc<AtomicBool>) {
    let down = Arc::new(AtomicBool::new(true));
    let is_down = down.clone();
    let gate = Recorder::start(move |_| {
        if is_down.load(Ordering::SeqCst) {
            (503, r#"{"error":"busy"}"#.into())
        } else {
            (200, r#"{"message_id":"gw-ok"}"#.into())
        }
    })
    .await;
    (gate, down)
}

/// `provider` set, `n` clients subscribed to SMS, and a draft SMS campaign to everyone: its id.
async fn to_subscribers(
    app: &loyalty_testkit::TestApp,
    api: &mut support::Messaging,
    provider: pb::ChannelProvider,
    n: i64,
) -> String {
    api.set_channel_provider(pb::SetChannelProviderRequest { provider: Some(provider) }).await.expect("provider");
    for i in 0..n {
        let id = client(app, TENANT, &format!("Klientas{i}"), &format!("k{i}@example.lt"), Unknown, "").await;
        subscribe(app, &id, ContactChannel::Sms, "").await;
    }
    settle(app, TENANT, n).await;
    segment_sees(app, TENANT, n).await;
    let mut c = campaign("Vakaro SMS", everyone());
    c.body = Some(pb::campaign::Body::Content(sms("Labas, {first_name}!")));
    api.create_campaign(pb::CreateCampaignRequest { campaign: Some(c) }).await.expect("created").into_inner().id
}

/// Each delivery of `campaign`: where it is and how often it was tried.
async fn attempts(api: &mut support::Messaging, campaign: &str) -> Vec<(pb::TransportState, i32)> {
    let listed = pb::ListDeliveriesRequest { campaign_id: campaign.into(), ..Default::default() };
    let listed = api.list_deliveries(listed).await.expect("list").into_inner().deliveries;
    listed.iter().map(|d| (d.transport(), d.attempts)).collect()
}

#[tokio::test]
async fn a_gateway_that_keeps_failing_pauses_the_campaign_and_the_resumed_run_retries_with_a_growing_back_off() {
    let clock = ManualClock::starting_at(time::OffsetDateTime::now_utc());
    let app = start_with_clock(Arc::new(clock.clone())).await;
    let (gate, down) = flaky_gateway().await;
    let mut api = admin(&app);
    // Twelve subscribed clients: more errors in a row than the suite's limit (10).
    let id = to_subscribers(&app, &mut api, gateway(&gate.url), 12).await;
    let start = || pb::StartCampaignRequest { campaign_id: id.clone(), ..Default::default() };
    api.start_campaign(start()).await.expect("started");

    let paused = until_state(&mut api, &id, pb::CampaignState::Paused).await;
    assert!(
        paused.pause_reason.contains("provider errors in a row") && paused.pause_reason.contains("503"),
        "the reason names the errors: {}",
        paused.pause_reason
    );
    assert_eq!(gate.requests().len(), 12, "each tried once");
    assert_eq!(attempts(&mut api, &id).await, vec![(pb::TransportState::Queued, 1); 12], "queued again, not failed");

    // Resumed with the gateway still down: nobody is tried again before the first wait (5 s).
    api.start_campaign(start()).await.expect("resumed");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(gate.requests().len(), 12, "the back-off holds them");
    clock.advance(time::Duration::seconds(6));
    gate.wait_for(24, Duration::from_secs(20)).await;
    // The errors in a row are counted afresh after a resume, and reach the limit again.
    until_state(&mut api, &id, pb::CampaignState::Paused).await;
    assert_eq!(attempts(&mut api, &id).await, vec![(pb::TransportState::Queued, 2); 12]);

    // The gateway is back. The second wait is twice the first: 10 s.
    down.store(false, Ordering::SeqCst);
    api.start_campaign(start()).await.expect("resumed");
    clock.advance(time::Duration::seconds(6));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(gate.requests().len(), 24, "6 s after the second attempt is too early");
    clock.advance(time::Duration::seconds(5));
    until_state(&mut api, &id, pb::CampaignState::Completed).await;
    let posted = gate.requests();
    assert_eq!(posted.len(), 36, "the third attempt of each, once");
    let mut to: Vec<String> = posted[24..].iter().map(|r| r.json()["to"].to_string()).collect();
    to.sort();
    to.dedup();
    assert_eq!(to.len(), 12, "each client's SMS accepted once");
    let s = stats(&mut api, &id).await;
    assert_eq!((s.sent, s.failed), (12, 0));
}

#[tokio::test]
async fn the_provider_s_rate_is_honoured_no_more_messages_in_any_second_than_it_allows() {
    let app = start().await;
    let gate = Recorder::start(|_| (200, r#"{"message_id":"gw-ok"}"#.into())).await;
    let mut api = admin(&app);
    let provider = pb::ChannelProvider { rate_per_second: 4, ..gateway(&gate.url) };
    let id = to_subscribers(&app, &mut api, provider, 10).await;
    api.start_campaign(pb::StartCampaignRequest { campaign_id: id.clone(), ..Default::default() })
        .await
        .expect("started");
    until_state(&mut api, &id, pb::CampaignState::Completed).await;
    let posted = gate.requests();
    assert_eq!(posted.len(), 10);
    // Four a second: any five requests span a second at least (a little less for the timer's
    // jitter); without the limit the ten arrive within milliseconds.
    for five in posted.windows(5) {
        let span = five[4].at.duration_since(five[0].at);
        assert!(span >= Duration::from_millis(900), "five requests within {span:?}");
    }
    assert_eq!(stats(&mut api, &id).await.sent, 10);
}

#[tokio::test]
async fn a_run_whose_stored_content_no_longer_checks_pauses_with_the_reason_and_others_still_send() {
    use prost::Message;
    let clock = ManualClock::starting_at(time::OffsetDateTime::now_utc());
    let app = start_with_clock(Arc::new(clock.clone())).await;
    let (gate, down) = flaky_gateway().await;
    let mut api = admin(&app);
    let id = to_subscribers(&app, &mut api, gateway(&gate.url), 10).await;
    let start = |id: &str| pb::StartCampaignRequest { campaign_id: id.into(), ..Default::default() };
    api.start_campaign(start(&id)).await.expect("started");
    let paused = until_state(&mut api, &id, pb::CampaignState::Paused).await;
    // Its stored content breaks a rule (a misspelt placeholder), as content kept from before a
    // rule was added would.
    let broken = sms("Labas, {frist_name}!").encode_to_vec();
    let db = support::sql(&app, "messaging").await;
    db.execute("UPDATE runs SET content = $1 WHERE run_id = $2::text::uuid", &[&broken, &paused.last_run_id])
        .await
        .expect("content rewritten");
    down.store(false, Ordering::SeqCst);
    api.start_campaign(start(&id)).await.expect("resumed");
    clock.advance(time::Duration::seconds(6));
    let again = until_state(&mut api, &id, pb::CampaignState::Paused).await;
    assert!(
        again.pause_reason.contains("content no longer checks") && again.pause_reason.contains("frist_name"),
        "{}",
        again.pause_reason
    );
    assert_eq!(gate.requests().len(), 10, "nothing sent with the broken content");
    // The sender goes on with the other campaigns.
    let mut other = campaign("Kitas SMS", everyone());
    other.body = Some(pb::campaign::Body::Content(sms("Sveiki, {first_name}!")));
    let other =
        api.create_campaign(pb::CreateCampaignRequest { campaign: Some(other) }).await.expect("created").into_inner();
    api.start_campaign(start(&other.id)).await.expect("started");
    until_state(&mut api, &other.id, pb::CampaignState::Completed).await;
    assert_eq!(stats(&mut api, &other.id).await.sent, 10);
}
