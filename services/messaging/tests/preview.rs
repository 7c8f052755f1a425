//! Previews (ME-3): a message as one client would get it, SMS parts counted before sending, within
//! the caller's tenant and stores; and a GDPR erase scrubbing what messaging holds.
mod suite;

use loyalty_api::client::v1 as clients;
use loyalty_api::common::v1::ConsentStatus::Subscribed;
use loyalty_api::common::v1::ContactChannel;
use loyalty_api::messaging::v1 as pb;
use loyalty_api::messaging::v1::preview_message_request::Source;
use loyalty_testkit::smtp::SmtpServer;
use loyalty_testkit::support::{self, TENANT};
use std::time::Duration;
use suite::*;

fn sms(text: &str) -> Option<Source> {
    Some(Source::Content(pb::Content { channel: ContactChannel::Sms as i32, body: text.into(), ..Default::default() }))
}

#[tokio::test]
async fn an_sms_preview_counts_its_parts_and_fills_the_client() {
    let app = start().await;
    let ona = client(&app, TENANT, "Ona", "ona@example.lt", Subscribed, "VLN-01").await;
    let zita = client(&app, OTHER, "Zita", "zita@example.lt", Subscribed, "").await;
    settle(&app, TENANT, 1).await;
    let mut api = admin(&app);
    let ask = |source: Option<Source>, client: &str| pb::PreviewMessageRequest { source, client_id: client.into() };
    let p = api
        .preview_message(ask(sms("Ačiū, {first_name|drauge}! Turite {points_balance} taškų."), &ona))
        .await
        .expect("preview")
        .into_inner();
    assert_eq!((p.body.as_str(), p.sms_encoding.as_str(), p.sms_segments), ("Ačiū, Ona! Turite 0 taškų.", "ucs2", 1));
    let long = api.preview_message(ask(sms(&"Labas vakaras ".repeat(12)), "")).await.expect("preview").into_inner();
    assert_eq!((long.sms_encoding.as_str(), long.sms_segments, long.characters), ("gsm7", 2, 168));
    let sample =
        api.preview_message(ask(sms("{first_name}, {favourite_category}"), "")).await.expect("sample").into_inner();
    assert_eq!(sample.body, "Ona, Kava", "sample data when no client is named");

    let bad = api.preview_message(ask(sms("Labas {vardas}"), "")).await.expect_err("unknown placeholder");
    assert_eq!(support::fields(&bad), vec!["content.body".to_string()]);
    assert!(bad.message().contains("{vardas} at character 7"), "{}", bad.message());
    let stranger = api.preview_message(ask(sms("x"), &zita)).await.expect_err("another tenant's client");
    assert_eq!(stranger.code(), tonic::Code::NotFound);
    let kaunas = app.store_token(TENANT, &["campaigns.read"], &["KNS-01"]);
    let hidden =
        support::messaging(&app, &kaunas).preview_message(ask(sms("x"), &ona)).await.expect_err("not their store");
    assert_eq!(hidden.code(), tonic::Code::NotFound);
}

#[tokio::test]
async fn an_erased_client_leaves_no_address_in_messaging_and_the_counts_stay() {
    let app = start().await;
    let smtp = SmtpServer::start();
    use_smtp(&app, TENANT, &smtp).await;
    let ona = client(&app, TENANT, "Ona", "ona@example.lt", Subscribed, "").await;
    settle(&app, TENANT, 1).await;
    segment_sees(&app, TENANT, 1).await;
    let mut api = admin(&app);
    let c = api
        .create_campaign(pb::CreateCampaignRequest { campaign: Some(campaign("Prieš ištrynimą", everyone())) })
        .await
        .expect("c")
        .into_inner();
    api.start_campaign(pb::StartCampaignRequest { campaign_id: c.id.clone(), ..Default::default() })
        .await
        .expect("started");
    until_state(&mut api, &c.id, pb::CampaignState::Completed).await;
    smtp.wait_for(1, Duration::from_secs(10)).await;

    let mut people = support::clients(&app, &app.admin_token(TENANT));
    people
        .erase_client(clients::EraseClientRequest {
            client_id: ona.clone(),
            reason: "GDPR-17".into(),
            ..Default::default()
        })
        .await
        .expect("erased");
    let db = support::sql(&app, "messaging").await;
    let mut scrubbed = false;
    for _ in 0..200 {
        let row = db
            .query_one("SELECT erased, email, first_name FROM contacts WHERE client_id = $1", &[&uuid(&ona)])
            .await
            .expect("row");
        if row.get::<_, bool>(0) {
            assert_eq!((row.get::<_, String>(1), row.get::<_, String>(2)), (String::new(), String::new()));
            scrubbed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(scrubbed, "the erase reached messaging");
    let listed = api
        .list_deliveries(pb::ListDeliveriesRequest { campaign_id: c.id.clone(), ..Default::default() })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.deliveries[0].address, "", "the address is gone from the delivery");
    assert_eq!(stats(&mut api, &c.id).await.sent, 1, "the campaign's figures stay");
    let preview =
        api.preview_message(pb::PreviewMessageRequest { source: sms("x"), client_id: ona }).await.expect_err("erased");
    assert_eq!(preview.code(), tonic::Code::NotFound);
}

fn uuid(id: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(id).expect("a client id")
}
