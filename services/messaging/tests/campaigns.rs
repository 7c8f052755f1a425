//! Email campaigns end to end (ME-1, ME-2, ME-6): a real SMTP server receives what the service
//! sends; consent and blocks decide who gets it; a retried start sends nothing twice.
mod suite;

use loyalty_api::client::v1 as clients;
use loyalty_api::common::v1::ConsentStatus::{Subscribed, Unknown, Unsubscribed};
use loyalty_api::messaging::v1 as pb;
use loyalty_testkit::smtp::SmtpServer;
use loyalty_testkit::support::{self, TENANT};
use std::time::Duration;
use suite::*;

#[tokio::test]
async fn an_email_campaign_reaches_each_subscribed_client_once_with_one_click_unsubscribe() {
    let app = start().await;
    let smtp = SmtpServer::start();
    use_smtp(&app, TENANT, &smtp).await;
    let ona = client(&app, TENANT, "Ona", "ona@example.lt", Subscribed, "").await;
    client(&app, TENANT, "Jonas", "jonas@example.lt", Unsubscribed, "").await;
    client(&app, TENANT, "Eglė", "egle@example.lt", Unknown, "").await;
    let petras = client(&app, TENANT, "Petras", "petras@example.lt", Subscribed, "").await;
    client(&app, TENANT, "Rūta", "", Unknown, "").await;
    let mut people = support::clients(&app, &app.admin_token(TENANT));
    let block =
        clients::BlockClientRequest { client_id: petras.clone(), comment: "fraud".into(), ..Default::default() };
    people.block_client(block).await.expect("blocked");
    settle(&app, TENANT, 5).await;
    segment_sees(&app, TENANT, 5).await;

    let mut api = admin(&app);
    let created = api
        .create_campaign(pb::CreateCampaignRequest { campaign: Some(campaign("Lapkričio naujienos", everyone())) })
        .await
        .expect("created")
        .into_inner();
    assert_eq!(created.state(), pb::CampaignState::Draft);
    let start = || pb::StartCampaignRequest { campaign_id: created.id.clone(), ..Default::default() };
    api.start_campaign(start()).await.expect("started");
    let done = until_state(&mut api, &created.id, pb::CampaignState::Completed).await;
    assert!(done.completed_at.is_some() && !done.last_run_id.is_empty());

    let mails = smtp.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(mails.len(), 1, "only Ona is subscribed, reachable and not blocked: {mails:#?}");
    let mail = &mails[0];
    assert_eq!(mail.to, "ona@example.lt");
    assert_eq!(mail.from, "news@shop.example");
    assert_eq!(mail.subject, "Sveiki, Ona!");
    assert!(mail.html.contains("Jūsų taškai: 0."), "{}", mail.html);
    assert!(mail.text.contains("Jūsų taškai: 0."), "a plain-text part beside the HTML: {:?}", mail.text);
    let unsubscribe = mail.header("List-Unsubscribe").expect("List-Unsubscribe");
    assert!(unsubscribe.starts_with("<http://127.0.0.1:") && unsubscribe.contains("/u/"), "{unsubscribe}");
    assert_eq!(mail.header("List-Unsubscribe-Post"), Some("List-Unsubscribe=One-Click"));
    let link = unsubscribe.trim_matches(['<', '>']);
    assert!(mail.html.contains(link), "the body's link is the header's");

    let s = stats(&mut api, &created.id).await;
    assert_eq!((s.audience, s.sent, s.failed, s.queued), (5, 1, 0, 0));
    let excluded: Vec<(String, i64)> = {
        let mut e: Vec<_> = s.excluded.into_iter().collect();
        e.sort();
        e
    };
    let expected = [("blocked", 1), ("consent_unknown", 1), ("no_address", 1), ("unsubscribed", 1)];
    assert_eq!(excluded, expected.map(|(r, n)| (r.to_string(), n)).to_vec());

    let listed = api
        .list_deliveries(pb::ListDeliveriesRequest { campaign_id: created.id.clone(), ..Default::default() })
        .await
        .expect("deliveries")
        .into_inner();
    assert_eq!(listed.deliveries.len(), 1);
    let d = &listed.deliveries[0];
    assert_eq!(
        (d.client_id.as_str(), d.transport(), d.status()),
        (ona.as_str(), pb::TransportState::Sent, pb::DeliveryStatus::Sent)
    );
    assert_eq!(d.provider_message_id, format!("<{}>", mail.message_id), "matched by the provider's message id");
    assert_eq!((d.address.as_str(), d.attempts), ("ona@example.lt", 1));

    // Started again: it already ran, nobody gets a second copy.
    let again = api.start_campaign(start()).await.expect("a retried start answers").into_inner();
    assert_eq!(again.state(), pb::CampaignState::Completed);
    assert_eq!(smtp.wait_for(1, Duration::from_secs(5)).await.len(), 1);
    assert_eq!(stats(&mut api, &created.id).await.sent, 1);
}

#[tokio::test]
async fn without_a_provider_a_campaign_does_not_start_and_says_why() {
    let app = start().await;
    client(&app, TENANT, "Ona", "ona@example.lt", Subscribed, "").await;
    let mut api = admin(&app);
    let created = api
        .create_campaign(pb::CreateCampaignRequest { campaign: Some(campaign("Be tiekėjo", everyone())) })
        .await
        .expect("a draft needs no provider")
        .into_inner();
    let refused = api
        .start_campaign(pb::StartCampaignRequest { campaign_id: created.id.clone(), ..Default::default() })
        .await
        .expect_err("no provider");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains("email channel has no provider"), "{}", refused.message());
    let still = api.get_campaign(pb::GetCampaignRequest { campaign_id: created.id }).await.expect("get").into_inner();
    assert_eq!(still.state(), pb::CampaignState::Draft, "nothing changed");
}

#[tokio::test]
async fn bad_campaigns_are_refused_field_by_field_and_nothing_is_written() {
    let app = start().await;
    let mut api = admin(&app);
    let mut bad = campaign("", None);
    bad.conversion_window_days = 1000;
    if let Some(pb::campaign::Body::Content(c)) = &mut bad.body {
        c.body = "<p>{frist_name}</p>".into();
    }
    let refused = api.create_campaign(pb::CreateCampaignRequest { campaign: Some(bad) }).await.expect_err("bad");
    let fields = support::fields(&refused);
    for field in ["campaign.name", "campaign.audience", "campaign.conversion_window_days", "campaign.content.body"] {
        assert!(fields.iter().any(|f| f == field), "{field} in {fields:?}");
    }
    let mut no_link = campaign("Be nuorodos", everyone());
    if let Some(pb::campaign::Body::Content(c)) = &mut no_link.body {
        c.body = "<p>Akcija!</p>".into();
    }
    let refused =
        api.create_campaign(pb::CreateCampaignRequest { campaign: Some(no_link) }).await.expect_err("no link");
    assert!(refused.message().contains("{unsubscribe_url}"), "{}", refused.message());
    let mut nul = campaign("NUL", everyone());
    if let Some(pb::campaign::Body::Content(c)) = &mut nul.body {
        c.subject = "a\u{0}b".into();
    }
    let refused = api.create_campaign(pb::CreateCampaignRequest { campaign: Some(nul) }).await.expect_err("NUL");
    assert_eq!(support::fields(&refused), vec!["campaign.content.subject".to_string()]);
    let huge = campaign(&"x".repeat(100_000), everyone());
    let refused = api.create_campaign(pb::CreateCampaignRequest { campaign: Some(huge) }).await.expect_err("huge");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let listed = api.list_campaigns(pb::ListCampaignsRequest::default()).await.expect("list").into_inner();
    assert!(listed.campaigns.is_empty(), "nothing was written");
}

#[tokio::test]
async fn rights_tenants_and_store_scope_hold_for_campaigns() {
    let app = start().await;
    let smtp = SmtpServer::start();
    use_smtp(&app, TENANT, &smtp).await;
    client(&app, TENANT, "Ona", "ona@example.lt", Subscribed, "VLN-01").await;
    client(&app, TENANT, "Jonas", "jonas@example.lt", Subscribed, "KNS-01").await;
    settle(&app, TENANT, 2).await;
    segment_sees(&app, TENANT, 2).await;

    // A reader cannot write or send; a writer cannot send.
    let reader = app.token(TENANT, &["campaigns.read", "segments.read"]);
    let denied = support::messaging(&app, &reader)
        .create_campaign(pb::CreateCampaignRequest { campaign: Some(campaign("x", everyone())) })
        .await
        .expect_err("no right");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    let mut api = admin(&app);
    let created = api
        .create_campaign(pb::CreateCampaignRequest { campaign: Some(campaign("Vilniui", everyone())) })
        .await
        .expect("created")
        .into_inner();
    let writer = app.token(TENANT, &["campaigns.write", "campaigns.read", "segments.read"]);
    let start = || pb::StartCampaignRequest { campaign_id: created.id.clone(), ..Default::default() };
    let denied = support::messaging(&app, &writer).start_campaign(start()).await.expect_err("cannot send");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);

    // Another tenant sees nothing of it.
    let mut other = support::messaging(&app, &app.admin_token(OTHER));
    let hidden =
        other.get_campaign(pb::GetCampaignRequest { campaign_id: created.id.clone() }).await.expect_err("other tenant");
    assert_eq!(hidden.code(), tonic::Code::NotFound);

    // A token of store VLN-01 reaches only the clients that store sees, and cannot touch providers.
    let vilnius =
        app.store_token(TENANT, &["campaigns.send", "campaigns.read", "segments.read", "settings.write"], &["VLN-01"]);
    let mut scoped = support::messaging(&app, &vilnius);
    let denied = scoped
        .set_channel_provider(pb::SetChannelProviderRequest { provider: Some(pb::ChannelProvider::default()) })
        .await
        .expect_err("providers are chain-wide");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    scoped.start_campaign(start()).await.expect("started in Vilnius");
    until_state(&mut api, &created.id, pb::CampaignState::Completed).await;
    let mails = smtp.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(mails.iter().map(|m| m.to.as_str()).collect::<Vec<_>>(), vec!["ona@example.lt"]);
    assert_eq!(stats(&mut api, &created.id).await.audience, 1, "Jonas of Kaunas was never in the audience");
    let seen = scoped.list_deliveries(pb::ListDeliveriesRequest::default()).await.expect("list").into_inner();
    assert_eq!(seen.deliveries.len(), 1);
}
