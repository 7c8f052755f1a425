//! The frequency cap (ME-2): with "at most one marketing email a week", the second campaign of the
//! week leaves out whoever got the first, and says so; transactional notices are not capped.
mod suite;

use loyalty_api::common::v1::ConsentStatus::Subscribed;
use loyalty_api::messaging::v1 as pb;
use loyalty_testkit::smtp::SmtpServer;
use loyalty_testkit::support::{self, TENANT, with_key};
use std::time::Duration;
use suite::*;

fn rules(messages: i32, days: i32) -> pb::SetSendingRulesRequest {
    pb::SetSendingRulesRequest {
        rules: Some(pb::SendingRules {
            frequency_cap_messages: messages,
            frequency_cap_days: days,
            ..Default::default()
        }),
    }
}

async fn send(api: &mut support::Messaging, name: &str, audience: Option<loyalty_api::filter::v1::Audience>) -> String {
    let created = started(api, campaign(name, audience)).await;
    until_state(api, &created.id, pb::CampaignState::Completed).await;
    created.id
}

#[tokio::test]
async fn a_weekly_cap_leaves_out_who_already_got_a_campaign_and_says_why() {
    let app = start().await;
    let smtp = SmtpServer::start();
    use_smtp(&app, TENANT, &smtp).await;
    let ona = client(&app, TENANT, "Ona", "ona@example.lt", Subscribed, "").await;
    client(&app, TENANT, "Rūta", "ruta@example.lt", Subscribed, "").await;
    settle(&app, TENANT, 2).await;
    segment_sees(&app, TENANT, 2).await;
    let mut api = admin(&app);
    let set = api.set_sending_rules(rules(1, 7)).await.expect("cap").into_inner();
    assert_eq!((set.frequency_cap_messages, set.frequency_cap_days), (1, 7));
    assert!(set.updated_at.is_some());

    let only_ona = Some(loyalty_api::filter::v1::Audience {
        source: Some(loyalty_api::filter::v1::audience::Source::ClientIds(loyalty_api::filter::v1::ClientIds {
            client_ids: vec![ona.clone()],
        })),
    });
    send(&mut api, "Pirmadienis", only_ona).await;
    let second = send(&mut api, "Trečiadienis", everyone()).await;
    smtp.wait_for(2, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let to: Vec<String> = smtp.mails().iter().map(|m| m.to.clone()).collect();
    assert_eq!(to.len(), 2, "{to:?}");
    assert_eq!(to.iter().filter(|t| t.contains("ona@")).count(), 1, "Ona got Monday's only: {to:?}");
    let s = stats(&mut api, &second).await;
    assert_eq!((s.sent, s.excluded.get("frequency_cap").copied()), (1, Some(1)));

    // A transactional notice is not marketing: the cap does not hold it back.
    let notice = pb::SendTransactionalRequest {
        context: with_key("receipt-1"),
        client_id: ona.clone(),
        content: Some(pb::Content {
            channel: loyalty_api::common::v1::ContactChannel::Email as i32,
            subject: "Jūsų kvitas".into(),
            body: "<p>Ačiū!</p>".into(),
            ..Default::default()
        }),
    };
    api.send_transactional(notice).await.expect("queued");
    assert_eq!(smtp.wait_for(3, Duration::from_secs(20)).await.len(), 3);

    // No cap again: the next campaign reaches everyone.
    api.set_sending_rules(rules(0, 0)).await.expect("no cap");
    send(&mut api, "Penktadienis", everyone()).await;
    assert_eq!(smtp.wait_for(5, Duration::from_secs(20)).await.len(), 5);
}

#[tokio::test]
async fn bad_sending_rules_are_named_and_only_the_chain_may_set_them() {
    let app = start().await;
    let mut api = admin(&app);
    for (bad, field) in [
        (rules(-1, 7), "frequency_cap_messages"),
        (rules(101, 7), "frequency_cap_messages"),
        (rules(2, 0), "frequency_cap_days"),
        (rules(2, 91), "frequency_cap_days"),
    ] {
        let e = api.set_sending_rules(bad).await.expect_err("refused");
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{field}: {e:?}");
        assert!(e.message().contains(field), "{field}: {}", e.message());
    }
    let unchanged = api.get_sending_rules(pb::GetSendingRulesRequest {}).await.expect("rules").into_inner();
    assert_eq!(unchanged.frequency_cap_messages, 0, "nothing was written");
    let store = app.store_token(TENANT, &["settings.write", "campaigns.read"], &["VLN-01"]);
    let scoped = support::messaging(&app, &store).set_sending_rules(rules(1, 7)).await.expect_err("scoped");
    assert_eq!(scoped.code(), tonic::Code::PermissionDenied);
    let reader = app.token(TENANT, &["campaigns.read"]);
    let denied = support::messaging(&app, &reader).set_sending_rules(rules(1, 7)).await.expect_err("no right");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
}
