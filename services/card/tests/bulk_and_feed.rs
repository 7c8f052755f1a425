//! CA-4, CA-5 and the client feed: bulk changes, merged cards, and cards following client merges
//! and erasures.
mod support;

use loyalty_api::card::v1 as pb;
use loyalty_api::card::v1::bulk_change_cards_request::Selection;
use loyalty_api::client::v1 as cpb;
use std::time::Duration;
use support::*;
use tonic::Code;

async fn template(api: &mut Cards, name: &str) -> pb::CardTemplate {
    let t = pb::CardTemplate { name: name.into(), kind: pb::CardKind::Physical as i32, ..Default::default() };
    api.create_card_template(pb::CreateCardTemplateRequest { template: Some(t), ..Default::default() })
        .await
        .expect("template")
        .into_inner()
}

#[tokio::test]
async fn a_dry_run_reports_exactly_what_the_real_run_then_changes_all_or_nothing() {
    let app = start().await;
    let owner = client(&app, TENANT, "+37061200011").await;
    let mut api = cards(&app, TENANT);
    let silver = template(&mut api, "Silver").await;
    let gold = template(&mut api, "Gold").await;
    let mut numbers = Vec::new();
    for i in 0..6 {
        let mut req = issue(&owner, "");
        if let Some(c) = req.card.as_mut() {
            c.template_id = if i < 4 { silver.id.clone() } else { gold.id.clone() };
        }
        numbers.push(api.issue_card(req).await.expect("issued").into_inner().number);
    }
    let change =
        pb::CardChange { template_id: gold.id.clone(), add_tags: vec!["2026-promo".into()], ..Default::default() };
    let filter = pb::CardFilter { template_ids: vec![silver.id.clone()], ..Default::default() };
    let request = |dry_run| pb::BulkChangeCardsRequest {
        selection: Some(Selection::Filter(filter.clone())),
        change: Some(change.clone()),
        dry_run,
        ..Default::default()
    };
    let dry = api.bulk_change_cards(request(true)).await.expect("dry run").into_inner();
    assert_eq!((dry.matched, dry.changed, dry.dry_run), (4, 4, true));
    let still_silver = api
        .list_cards(pb::ListCardsRequest { filter: Some(filter.clone()), ..Default::default() })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(still_silver.cards.len(), 4, "a dry run changes nothing");
    let real = api.bulk_change_cards(request(false)).await.expect("real run").into_inner();
    assert_eq!(
        (real.matched, real.changed, real.changed_by_field.clone()),
        (dry.matched, dry.changed, dry.changed_by_field.clone())
    );
    assert_eq!(real.changed_by_field.get("template_id"), Some(&4));
    let now_gold = pb::CardFilter { template_ids: vec![gold.id.clone()], ..Default::default() };
    assert_eq!(
        api.list_cards(pb::ListCardsRequest { filter: Some(now_gold), ..Default::default() })
            .await
            .expect("list")
            .into_inner()
            .cards
            .len(),
        6
    );

    // A list with an unknown number changes nothing at all.
    let mut with_unknown = numbers[..2].to_vec();
    with_unknown.push("999".into());
    let block = pb::CardChange { status: pb::CardStatus::Blocked as i32, ..Default::default() };
    let r = api
        .bulk_change_cards(pb::BulkChangeCardsRequest {
            selection: Some(Selection::Numbers(pb::CardNumberList { numbers: with_unknown })),
            change: Some(block),
            ..Default::default()
        })
        .await
        .expect("report")
        .into_inner();
    assert_eq!((r.changed, r.unknown_numbers.clone()), (0, vec!["999".to_string()]));
    let listed =
        api.list_client_cards(pb::ListClientCardsRequest { client_id: owner }).await.expect("list").into_inner();
    assert_eq!(listed.active_count, 6, "nothing was blocked");
}

#[tokio::test]
async fn merging_cards_keeps_one_and_marks_the_others() {
    let app = start().await;
    let owner = client(&app, TENANT, "+37061200012").await;
    let stranger = client(&app, TENANT, "+37061200013").await;
    let mut api = cards(&app, TENANT);
    let keep = api.issue_card(issue(&owner, "")).await.expect("keep").into_inner();
    let mut tagged = issue(&owner, "");
    if let Some(c) = tagged.card.as_mut() {
        c.tags = vec!["vip".into()];
    }
    let old = api.issue_card(tagged).await.expect("old").into_inner();
    let theirs = api.issue_card(issue(&stranger, "")).await.expect("theirs").into_inner();
    let err = api
        .merge_cards(pb::MergeCardsRequest {
            target_card_id: keep.id.clone(),
            merged_card_ids: vec![theirs.id.clone()],
            ..Default::default()
        })
        .await
        .expect_err("another client's card");
    assert_eq!(err.code(), Code::FailedPrecondition);
    let merged = api
        .merge_cards(pb::MergeCardsRequest {
            target_card_id: keep.id.clone(),
            merged_card_ids: vec![old.id.clone()],
            ..Default::default()
        })
        .await
        .expect("merged")
        .into_inner();
    assert_eq!(merged.tags, vec!["vip".to_string()]);
    let old = api.get_card(pb::GetCardRequest { card_id: old.id }).await.expect("get").into_inner();
    assert_eq!((old.status, old.successor_card_id), (pb::CardStatus::Merged as i32, keep.id));
}

async fn cards_of(api: &mut Cards, client_id: &str) -> Vec<pb::Card> {
    api.list_client_cards(pb::ListClientCardsRequest { client_id: client_id.into() })
        .await
        .expect("list")
        .into_inner()
        .cards
}

#[tokio::test]
async fn cards_follow_a_client_merge_and_lose_wallet_links_on_erase_through_the_feed() {
    let app = start().await;
    let survivor = client(&app, TENANT, "+37061200021").await;
    let duplicate = client(&app, TENANT, "+37061200022").await;
    let mut api = cards(&app, TENANT);
    let mut wallet = issue(&duplicate, "");
    if let Some(c) = wallet.card.as_mut() {
        c.kind = pb::CardKind::Wallet as i32;
        c.wallet_link = "https://wallet.example/pass/123".into();
    }
    let card = api.issue_card(wallet).await.expect("wallet card").into_inner();
    let mut clients_api = clients(&app, TENANT);
    clients_api
        .merge_clients(cpb::MergeClientsRequest {
            survivor_client_id: survivor.clone(),
            merged_client_ids: vec![duplicate.clone()],
            ..Default::default()
        })
        .await
        .expect("clients merged");
    let mut moved = Vec::new();
    for _ in 0..100 {
        moved = cards_of(&mut api, &survivor).await;
        if !moved.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        moved.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        vec![card.id.as_str()],
        "the card moved to the survivor"
    );
    assert!(cards_of(&mut api, &duplicate).await.is_empty());

    clients_api
        .erase_client(cpb::EraseClientRequest {
            client_id: survivor.clone(),
            reason: "GDPR-1".into(),
            ..Default::default()
        })
        .await
        .expect("erased");
    let mut link = String::from("unchanged");
    for _ in 0..100 {
        link =
            api.get_card(pb::GetCardRequest { card_id: card.id.clone() }).await.expect("card").into_inner().wallet_link;
        if link.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(link.is_empty(), "the wallet link of an erased client is cleared");
}
