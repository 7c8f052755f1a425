//! Channel providers (ME-1): secrets sealed and write-only, bad settings named field by field,
//! a test send through the real SMTP server, settings only for the whole chain.
mod suite;

use loyalty_api::common::v1::ContactChannel;
use loyalty_api::messaging::v1 as pb;
use loyalty_testkit::smtp::SmtpServer;
use loyalty_testkit::support::{self, TENANT};
use std::time::Duration;
use suite::*;

fn smtp_of(p: &pb::ChannelProvider) -> &pb::SmtpSettings {
    match &p.settings {
        Some(pb::channel_provider::Settings::Smtp(s)) => s,
        other => panic!("not SMTP: {other:?}"),
    }
}

#[tokio::test]
async fn a_password_is_sealed_never_returned_and_kept_when_an_update_omits_it() {
    let app = start().await;
    let smtp = SmtpServer::start();
    let mut api = admin(&app);
    let mut provider = smtp_provider(&smtp);
    if let Some(pb::channel_provider::Settings::Smtp(s)) = &mut provider.settings {
        s.username = "mailer".into();
        s.password = "Slaptas-123".into();
    }
    let saved = api
        .set_channel_provider(pb::SetChannelProviderRequest { provider: Some(provider.clone()) })
        .await
        .expect("saved")
        .into_inner();
    assert_eq!((smtp_of(&saved).password.as_str(), smtp_of(&saved).password_set), ("", true));
    let db = support::sql(&app, "messaging").await;
    let (settings, sealed) = stored(&db).await;
    for bytes in [&settings, &sealed] {
        assert!(!bytes.windows(11).any(|w| w == b"Slaptas-123"), "the password is nowhere in clear");
    }
    // Renamed sender, no password given: the sealed one stays.
    if let Some(pb::channel_provider::Settings::Smtp(s)) = &mut provider.settings {
        s.password.clear();
        s.from_name = "Naujienos".into();
    }
    api.set_channel_provider(pb::SetChannelProviderRequest { provider: Some(provider) }).await.expect("updated");
    let listed = api.list_channel_providers(pb::ListChannelProvidersRequest {}).await.expect("list").into_inner();
    assert_eq!(listed.providers.len(), 1);
    let shown = smtp_of(&listed.providers[0]);
    assert_eq!((shown.from_name.as_str(), shown.password.as_str(), shown.password_set), ("Naujienos", "", true));
    assert_eq!(stored(&db).await.1, sealed, "the secret was kept as it was");
}

/// The provider row's encoded settings and sealed secret.
async fn stored(db: &tokio_postgres::Client) -> (Vec<u8>, Vec<u8>) {
    let row = db.query_one("SELECT settings, sealed_secret FROM providers", &[]).await.expect("row");
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn bad_settings_are_named_and_change_nothing_and_only_the_chain_may_set_them() {
    let app = start().await;
    let smtp = SmtpServer::start();
    use_smtp(&app, TENANT, &smtp).await;
    let mut api = admin(&app);
    let bad = pb::ChannelProvider {
        channel: ContactChannel::Email as i32,
        rate_per_second: -1,
        settings: Some(pb::channel_provider::Settings::Smtp(pb::SmtpSettings {
            host: " ".into(),
            port: 70_000,
            from_address: "ne paštas".into(),
            ..Default::default()
        })),
        ..Default::default()
    };
    let refused =
        api.set_channel_provider(pb::SetChannelProviderRequest { provider: Some(bad) }).await.expect_err("bad");
    let fields = support::fields(&refused);
    for field in ["provider.rate_per_second", "provider.smtp.host", "provider.smtp.port", "provider.smtp.from_address"]
    {
        assert!(fields.iter().any(|f| f == field), "{field} in {fields:?}");
    }
    let mut wrong = smtp_provider(&smtp);
    wrong.channel = ContactChannel::Sms as i32;
    let refused = api
        .set_channel_provider(pb::SetChannelProviderRequest { provider: Some(wrong) })
        .await
        .expect_err("SMTP for SMS");
    assert_eq!(support::fields(&refused), vec!["provider.smtp".to_string()]);
    let listed = api.list_channel_providers(pb::ListChannelProvidersRequest {}).await.expect("list").into_inner();
    assert_eq!(smtp_of(&listed.providers[0]).port, i32::from(smtp.port), "the good settings stand");

    let reader = app.token(TENANT, &["campaigns.read"]);
    let denied = support::messaging(&app, &reader)
        .set_channel_provider(pb::SetChannelProviderRequest { provider: Some(smtp_provider(&smtp)) })
        .await
        .expect_err("no right");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    let other = support::messaging(&app, &app.admin_token(OTHER))
        .list_channel_providers(pb::ListChannelProvidersRequest {})
        .await
        .expect("list")
        .into_inner();
    assert!(other.providers.is_empty(), "another tenant sees none of them");
}

#[tokio::test]
async fn a_test_send_reaches_the_address_and_a_dead_server_is_reported_in_its_words() {
    let app = start().await;
    let smtp = SmtpServer::start();
    use_smtp(&app, TENANT, &smtp).await;
    let mut api = admin(&app);
    let sent = api
        .send_test_message(pb::SendTestMessageRequest {
            content: Some(newsletter()),
            address: "tester@shop.example".into(),
        })
        .await
        .expect("test send")
        .into_inner();
    assert!(sent.accepted, "{}", sent.refusal);
    let mail = smtp.wait_for(1, Duration::from_secs(10)).await.remove(0);
    assert_eq!((mail.to.as_str(), mail.subject.as_str()), ("tester@shop.example", "Sveiki, Ona!"));
    assert_eq!(format!("<{}>", mail.message_id), sent.provider_message_id);

    let dead = {
        let server = SmtpServer::start();
        smtp_provider(&server)
    };
    api.set_channel_provider(pb::SetChannelProviderRequest { provider: Some(dead) }).await.expect("saved");
    let refused = api
        .send_test_message(pb::SendTestMessageRequest {
            content: Some(newsletter()),
            address: "tester@shop.example".into(),
        })
        .await
        .expect("answered")
        .into_inner();
    assert!(!refused.accepted && refused.refusal.contains("smtp"), "{refused:?}");
    let nobody =
        api.send_test_message(pb::SendTestMessageRequest { content: Some(newsletter()), address: " ".into() }).await;
    assert_eq!(support::fields(&nobody.expect_err("no address")), vec!["address".to_string()]);
}
