//! CL-3, CL-4, CL-5, CL-9: blocking, consents and the history they leave.
mod support;

use loyalty_api::client::v1 as pb;
use loyalty_api::client::v1::check_marketing_permission_response::Reason;
use loyalty_api::common::v1::{ConsentStatus, ContactChannel};
use loyalty_api::events::v1::ClientStatus;
use support::*;
use tonic::Code;

async fn history(api: &mut Client, id: &str) -> Vec<pb::HistoryRecord> {
    api.list_client_history(pb::ListClientHistoryRequest { client_id: id.into(), ..Default::default() })
        .await
        .expect("history")
        .into_inner()
        .records
}

#[tokio::test]
async fn block_needs_a_comment_restores_the_previous_status_and_is_in_history() {
    let app = start().await;
    let mut api = admin(&app);
    let created = api
        .create_client(pb::CreateClientRequest {
            client: Some(person("Darius", "Paulauskas", "+37061200001")),
            status: ClientStatus::Subscriber as i32,
            ..Default::default()
        })
        .await
        .expect("created")
        .into_inner();
    assert_eq!(created.status, ClientStatus::Subscriber as i32);
    let block = |comment: &str| pb::BlockClientRequest {
        client_id: created.id.clone(),
        comment: comment.into(),
        ..Default::default()
    };
    assert_eq!(fields(&api.block_client(block("  ")).await.expect_err("no comment")), vec!["comment"]);

    let blocked = api.block_client(block("fraud at VLN-01")).await.expect("blocked").into_inner();
    assert_eq!(blocked.status, ClientStatus::Blocked as i32);
    assert_eq!(blocked.block.as_ref().map(|b| b.comment.as_str()), Some("fraud at VLN-01"));
    assert_eq!(api.block_client(block("again")).await.expect_err("twice").code(), Code::FailedPrecondition);

    let unblock =
        pb::UnblockClientRequest { client_id: created.id.clone(), comment: "cleared".into(), ..Default::default() };
    let unblocked = api.unblock_client(unblock).await.expect("unblocked").into_inner();
    assert_eq!(unblocked.status, ClientStatus::Subscriber as i32, "the status before blocking comes back");
    assert!(unblocked.block.is_none());

    let kinds: Vec<(String, String)> =
        history(&mut api, &created.id).await.into_iter().map(|h| (h.kind, h.comment)).collect();
    assert_eq!(
        kinds,
        vec![
            ("unblocked".to_string(), "cleared".to_string()),
            ("blocked".to_string(), "fraud at VLN-01".to_string()),
            ("created".to_string(), String::new())
        ]
    );
    let h = history(&mut api, &created.id).await;
    assert_eq!(h[1].actor.as_ref().map(|a| a.id.as_str()), Some("dev"), "the actor comes from the token");
}

fn consent(channel: ContactChannel, status: ConsentStatus) -> pb::ChannelConsent {
    pb::ChannelConsent { channel: channel as i32, status: status as i32, ..Default::default() }
}

async fn may(api: &mut Client, id: &str, channel: ContactChannel) -> (bool, Reason) {
    let r = api
        .check_marketing_permission(pb::CheckMarketingPermissionRequest {
            client_id: id.into(),
            channel: channel as i32,
        })
        .await
        .expect("answer")
        .into_inner();
    (r.allowed, Reason::try_from(r.reason).expect("reason"))
}

#[tokio::test]
async fn marketing_is_allowed_only_with_consent_an_address_and_no_block() {
    let app = start().await;
    let mut api = admin(&app);
    let c = add(&mut api, "Eglė", "Jankauskienė", "+37061200002").await;
    assert_eq!(may(&mut api, &c.id, ContactChannel::Sms).await, (false, Reason::ConsentUnknown));

    let set = |consents: Vec<pb::ChannelConsent>| pb::SetConsentRequest {
        client_id: c.id.clone(),
        consents,
        source: "pos".into(),
        ..Default::default()
    };
    let after = api
        .set_consent(set(vec![
            consent(ContactChannel::Sms, ConsentStatus::Subscribed),
            consent(ContactChannel::Email, ConsentStatus::Subscribed),
        ]))
        .await
        .expect("set")
        .into_inner();
    assert_eq!(after.consents.len(), 2);
    assert!(after.consents.iter().all(|c| c.source == "pos" && c.changed_at.is_some()));
    assert_eq!(may(&mut api, &c.id, ContactChannel::Sms).await, (true, Reason::Subscribed));
    assert_eq!(
        may(&mut api, &c.id, ContactChannel::Email).await,
        (false, Reason::NoAddress),
        "subscribed but no email"
    );

    api.set_consent(set(vec![consent(ContactChannel::Sms, ConsentStatus::Unsubscribed)])).await.expect("unsubscribe");
    assert_eq!(may(&mut api, &c.id, ContactChannel::Sms).await, (false, Reason::Unsubscribed));

    api.set_consent(set(vec![consent(ContactChannel::Sms, ConsentStatus::Subscribed)])).await.expect("resubscribe");
    let block = pb::BlockClientRequest { client_id: c.id.clone(), comment: "abuse".into(), ..Default::default() };
    api.block_client(block).await.expect("block");
    assert_eq!(may(&mut api, &c.id, ContactChannel::Sms).await, (false, Reason::Blocked));

    let bad = api
        .set_consent(set(vec![consent(ContactChannel::Unspecified, ConsentStatus::Subscribed)]))
        .await
        .expect_err("bad");
    assert_eq!(fields(&bad), vec!["consents[0].channel"]);
    let consent_history = history(&mut api, &c.id).await.into_iter().filter(|h| h.kind == "consent").count();
    assert_eq!(consent_history, 3);
}

#[tokio::test]
async fn history_pages_newest_first() {
    let app = start().await;
    let mut api = admin(&app);
    let c = add(&mut api, "Linas", "Butkus", "+37061200003").await;
    for i in 0..5 {
        let update = pb::UpdateClientRequest {
            client: Some(pb::Client { id: c.id.clone(), notes: format!("note {i}"), ..Default::default() }),
            update_mask: mask(&["notes"]),
            ..Default::default()
        };
        api.update_client(update).await.expect("update");
    }
    let page = |token: String| pb::ListClientHistoryRequest {
        client_id: c.id.clone(),
        page: Some(loyalty_api::common::v1::PageRequest { page_size: 4, page_token: token }),
        ..Default::default()
    };
    let first = api.list_client_history(page(String::new())).await.expect("first").into_inner();
    assert_eq!(first.page.as_ref().map(|p| p.total_size), Some(6));
    assert!(first.records[0].after_json.contains("note 4") && first.records[0].before_json.contains("note 3"));
    let second =
        api.list_client_history(page(first.page.expect("page").next_page_token)).await.expect("second").into_inner();
    assert_eq!(second.records.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(), vec!["updated", "created"]);
    assert!(second.page.expect("page").next_page_token.is_empty());
}
