//! The links in a message (ME-6): the open pixel, a click redirect only to the message's own links,
//! and one-click unsubscribe that changes the client's consent in the client service. Engagement
//! never moves transport: a clicked message is still "sent".
mod suite;

use loyalty_api::client::v1 as clients;
use loyalty_api::common::v1::ConsentStatus::Subscribed;
use loyalty_api::common::v1::{ConsentStatus, ContactChannel};
use loyalty_api::messaging::v1 as pb;
use loyalty_testkit::http;
use loyalty_testkit::smtp::SmtpServer;
use loyalty_testkit::support::{self, TENANT};
use std::time::Duration;
use suite::*;

/// The first `attribute="..."` value in `html` that contains `part`.
fn link(html: &str, attribute: &str, part: &str) -> String {
    html.split(&format!("{attribute}=\""))
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find(|v| v.contains(part))
        .unwrap_or_else(|| panic!("no {attribute} with {part} in {html}"))
        .to_string()
}

#[tokio::test]
async fn opens_clicks_and_one_click_unsubscribe_are_recorded_and_the_consent_changes() {
    let app = start().await;
    let smtp = SmtpServer::start();
    use_smtp(&app, TENANT, &smtp).await;
    let ona = client(&app, TENANT, "Ona", "ona@example.lt", Subscribed, "").await;
    settle(&app, TENANT, 1).await;
    segment_sees(&app, TENANT, 1).await;
    let mut api = admin(&app);
    let mut content = newsletter();
    content.body.push_str("<p><a href=\"https://shop.example/akcija?nuo=11&iki=12\">Akcija</a></p>");
    let mut c = campaign("Su nuorodomis", everyone());
    c.body = Some(pb::campaign::Body::Content(content));
    let created =
        api.create_campaign(pb::CreateCampaignRequest { campaign: Some(c) }).await.expect("created").into_inner();
    api.start_campaign(pb::StartCampaignRequest { campaign_id: created.id.clone(), ..Default::default() })
        .await
        .expect("started");
    let mail = smtp.wait_for(1, Duration::from_secs(20)).await.remove(0);

    let pixel = link(&mail.html, "src", "/o/");
    let opened = http::request("GET", &pixel, None).await;
    assert_eq!((opened.status, opened.header("content-type")), (200, Some("image/gif")));
    let click = link(&mail.html, "href", "/c/");
    assert!(click.ends_with("/0"), "{click}");
    let followed = http::request("GET", &click, None).await;
    assert_eq!(
        (followed.status, followed.header("location")),
        (302, Some("https://shop.example/akcija?nuo=11&iki=12"))
    );
    // Only the message's own links: another place, or a token altered by one letter, leads nowhere.
    let elsewhere = http::request("GET", &format!("{}/7", click.trim_end_matches("/0")), None).await;
    assert_eq!(elsewhere.status, 404);
    let mut forged = click.clone().into_bytes();
    let at = forged.len() - 10;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    assert_eq!(http::request("GET", &String::from_utf8(forged).expect("ascii"), None).await.status, 404);

    let s = stats(&mut api, &created.id).await;
    assert_eq!((s.sent, s.opened, s.clicked, s.unsubscribed), (1, 1, 1, 0));
    assert_eq!((s.open_rate_bp, s.click_rate_bp), (10_000, 10_000));

    // The body's unsubscribe link shows a page; the one-click POST (RFC 8058) unsubscribes.
    let unsubscribe = mail.header("List-Unsubscribe").expect("header").trim_matches(['<', '>']).to_string();
    let page = http::request("GET", &unsubscribe, None).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("method=\"post\""), "{}", page.text());
    let done = http::request("POST", &unsubscribe, Some("List-Unsubscribe=One-Click")).await;
    assert_eq!(done.status, 200, "{}", done.text());
    let again = http::request("POST", &unsubscribe, Some("List-Unsubscribe=One-Click")).await;
    assert_eq!(again.status, 200, "a second click is answered the same");

    let mut people = support::clients(&app, &app.admin_token(TENANT));
    let profile =
        people.get_client(clients::GetClientRequest { client_id: ona.clone() }).await.expect("client").into_inner();
    let email = profile.consents.iter().find(|c| c.channel == ContactChannel::Email as i32).expect("email consent");
    assert_eq!((email.status(), email.source.as_str()), (ConsentStatus::Unsubscribed, "unsubscribe_link"));

    let listed = api
        .list_deliveries(pb::ListDeliveriesRequest { campaign_id: created.id.clone(), ..Default::default() })
        .await
        .expect("list")
        .into_inner();
    let d = &listed.deliveries[0];
    assert_eq!(d.transport(), pb::TransportState::Sent, "engagement never moves transport");
    assert_eq!(d.status(), pb::DeliveryStatus::Unsubscribed);
    assert!(d.opened_at.is_some() && d.clicked_at.is_some() && d.unsubscribed_at.is_some());
    assert_eq!(stats(&mut api, &created.id).await.unsubscribed, 1);
    let by_status = |statuses: Vec<pb::DeliveryStatus>| pb::ListDeliveriesRequest {
        campaign_id: created.id.clone(),
        statuses: statuses.into_iter().map(|s| s as i32).collect(),
        ..Default::default()
    };
    let gone = api.list_deliveries(by_status(vec![pb::DeliveryStatus::Unsubscribed])).await.expect("list").into_inner();
    assert_eq!(gone.deliveries.len(), 1, "listed by the furthest step");
    let waiting = api.list_deliveries(by_status(vec![pb::DeliveryStatus::Queued, pb::DeliveryStatus::Sent])).await;
    assert!(waiting.expect("list").into_inner().deliveries.is_empty());
    let bad = api.list_deliveries(pb::ListDeliveriesRequest { statuses: vec![42], ..Default::default() }).await;
    assert_eq!(support::fields(&bad.expect_err("no such status")), vec!["statuses[0]".to_string()]);

    // The consent comes back on the client feed: the next campaign leaves her out.
    let db = support::sql(&app, "messaging").await;
    for _ in 0..200 {
        let row =
            db.query_one("SELECT email_consent FROM contacts WHERE tenant_id = $1", &[&TENANT]).await.expect("row");
        if row.get::<_, String>(0) == "unsubscribed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let next = api
        .create_campaign(pb::CreateCampaignRequest { campaign: Some(campaign("Kita", everyone())) })
        .await
        .expect("next")
        .into_inner();
    api.start_campaign(pb::StartCampaignRequest { campaign_id: next.id.clone(), ..Default::default() })
        .await
        .expect("started");
    until_state(&mut api, &next.id, pb::CampaignState::Completed).await;
    let s = stats(&mut api, &next.id).await;
    assert_eq!((s.sent, s.excluded.get("unsubscribed").copied()), (0, Some(1)));
    assert_eq!(smtp.mails().len(), 1);
}

/// Starts a campaign to everyone with the newsletter and one link to the shop.
async fn with_a_link(api: &mut support::Messaging, name: &str) -> pb::Campaign {
    let mut content = newsletter();
    content.body.push_str("<p><a href=\"https://shop.example/akcija\">Akcija</a></p>");
    let mut c = campaign(name, everyone());
    c.body = Some(pb::campaign::Body::Content(content));
    started(api, c).await
}

/// How many clients the segment service counts for a filter written as text, once it settles on
/// `expected` (its read model follows the messaging feed).
async fn counted(app: &loyalty_testkit::TestApp, text: &str, expected: i64) -> i64 {
    use loyalty_api::segment::v1 as spb;
    let mut segments = support::segments(app, &app.admin_token(TENANT));
    let filter = segments
        .parse_filter(spb::ParseFilterRequest { filter_text: text.into() })
        .await
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .into_inner()
        .filter;
    let audience = loyalty_api::filter::v1::Audience {
        source: Some(loyalty_api::filter::v1::audience::Source::Filter(filter.unwrap_or_default())),
    };
    let mut seen = -1;
    for _ in 0..200 {
        let asked = segments.count_clients(spb::CountClientsRequest { audience: Some(audience.clone()) }).await;
        seen = asked.expect("counted").into_inner().count;
        if seen == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen
}

#[tokio::test]
async fn who_received_opened_and_clicked_a_mailing_reaches_the_segment_filters() {
    let app = start().await;
    let smtp = SmtpServer::start();
    use_smtp(&app, TENANT, &smtp).await;
    client(&app, TENANT, "Ona", "ona@example.lt", Subscribed, "").await;
    client(&app, TENANT, "Rūta", "ruta@example.lt", Subscribed, "").await;
    client(&app, TENANT, "Jonas", "jonas@example.lt", ConsentStatus::Unsubscribed, "").await;
    settle(&app, TENANT, 3).await;
    segment_sees(&app, TENANT, 3).await;
    let mut api = admin(&app);
    let created = with_a_link(&mut api, "Gruodis").await;
    let mails = smtp.wait_for(2, Duration::from_secs(20)).await;
    let ona = mails.iter().find(|m| m.to.contains("ona@")).expect("Ona's mail");
    let opened = http::request("GET", &link(&ona.html, "src", "/o/"), None).await;
    assert_eq!(opened.status, 200);
    let clicked = http::request("GET", &link(&ona.html, "href", "/c/"), None).await;
    assert_eq!(clicked.status, 302);
    // Twice is still one click.
    http::request("GET", &link(&ona.html, "href", "/c/"), None).await;

    let received = r#"deliveries.status = "delivered""#;
    assert_eq!(counted(&app, received, 2).await, 2, "Ona and Rūta received it; Jonas was left out");
    assert_eq!(counted(&app, r#"deliveries.status = "opened""#, 1).await, 1);
    assert_eq!(counted(&app, r#"deliveries.status = "clicked""#, 1).await, 1);
    let this_one = format!(r#"deliveries.campaign = "{}" and deliveries.status = "clicked""#, created.id);
    assert_eq!(counted(&app, &this_one, 1).await, 1, "clicked this campaign");
    assert_eq!(counted(&app, r#"deliveries.status = "clicked" and deliveries.channel = "sms""#, 0).await, 0);
}

#[tokio::test]
async fn an_edge_proxy_records_tracking_and_providers_send_receipts_over_grpc() {
    let app = start().await;
    let smtp = SmtpServer::start();
    use_smtp(&app, TENANT, &smtp).await;
    client(&app, TENANT, "Ona", "ona@example.lt", Subscribed, "").await;
    client(&app, TENANT, "Rūta", "ruta@example.lt", Subscribed, "").await;
    settle(&app, TENANT, 2).await;
    segment_sees(&app, TENANT, 2).await;
    let mut api = admin(&app);
    let created = with_a_link(&mut api, "Per gRPC").await;
    let mails = smtp.wait_for(2, Duration::from_secs(20)).await;
    let (ona, ruta) = match mails[0].to.contains("ona@") {
        true => (&mails[0], &mails[1]),
        false => (&mails[1], &mails[0]),
    };
    let token = |url: String| url.split('/').nth(4).unwrap_or_default().to_string();
    use pb::record_tracking_request::Kind;
    let track =
        |token: String, kind: Kind, url: &str| pb::RecordTrackingRequest { token, kind: kind as i32, url: url.into() };
    let click = token(link(&ona.html, "href", "/c/"));
    let answer = api
        .record_tracking(track(click.clone(), Kind::Click, "https://shop.example/akcija"))
        .await
        .expect("click")
        .into_inner();
    assert_eq!(answer.redirect_url, "https://shop.example/akcija");
    let elsewhere = api.record_tracking(track(click.clone(), Kind::Click, "https://evil.example/")).await;
    assert_eq!(elsewhere.expect_err("not its link").code(), tonic::Code::InvalidArgument);
    let wrong_kind = api.record_tracking(track(click, Kind::Open, "")).await.expect_err("a click token");
    assert!(wrong_kind.message().contains("token"), "{}", wrong_kind.message());
    let other_tenant = support::messaging(&app, &app.admin_token(OTHER))
        .record_tracking(track(token(link(&ona.html, "src", "/o/")), Kind::Open, ""))
        .await
        .expect_err("another tenant's token");
    assert_eq!(other_tenant.code(), tonic::Code::InvalidArgument);

    // Receipts: Ona's by our message id, Rūta's bounce by delivery id; a repeat changes nothing.
    let receipt =
        |message_id: &str, delivery_id: &str, delivered: bool, reason: &str| pb::RecordDeliveryReceiptRequest {
            delivery_id: delivery_id.into(),
            message_id: message_id.into(),
            delivered,
            failure_reason: reason.into(),
            ..Default::default()
        };
    let delivered = api.record_delivery_receipt(receipt(&ona.message_id, "", true, "")).await.expect("delivered");
    assert_eq!(delivered.into_inner().status(), pb::DeliveryStatus::Clicked, "engagement stays the furthest step");
    let ruta_id = ruta.message_id.trim_matches(['<', '>']).split('@').next().unwrap_or_default().to_string();
    let bounced = api
        .record_delivery_receipt(receipt("", &ruta_id, false, "550 mailbox unavailable"))
        .await
        .expect("bounced")
        .into_inner();
    assert_eq!(
        (bounced.status(), bounced.failure_reason.as_str()),
        (pb::DeliveryStatus::Failed, "550 mailbox unavailable")
    );
    let late = api.record_delivery_receipt(receipt("", &ruta_id, true, "")).await.expect("late").into_inner();
    assert_eq!(late.status(), pb::DeliveryStatus::Failed, "a late receipt does not undo the bounce");
    let s = stats(&mut api, &created.id).await;
    assert_eq!((s.sent, s.delivered, s.failed, s.clicked), (1, 1, 1, 1));

    for (bad, field) in [
        (receipt("", "", true, ""), "delivery_id"),
        (receipt("", "nope", true, ""), "delivery_id"),
        (receipt(&ona.message_id, &ruta_id, true, ""), "one way only"),
        (receipt("<x@globex.loyalty>", "", true, ""), "message_id"),
        (receipt("", &ruta_id, false, ""), "failure_reason"),
        (receipt("", &ruta_id, false, "bad\0"), "failure_reason"),
    ] {
        let e = api.record_delivery_receipt(bad).await.expect_err("refused");
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{field}: {e:?}");
        assert!(e.message().contains(field), "{field}: {}", e.message());
    }
    // Provider callbacks are the chain's: a store's token is refused.
    let store = app.store_token(TENANT, &["campaigns.track"], &["VLN-01"]);
    let scoped = support::messaging(&app, &store).record_delivery_receipt(receipt(&ona.message_id, "", true, "")).await;
    assert_eq!(scoped.expect_err("scoped").code(), tonic::Code::PermissionDenied);
}
