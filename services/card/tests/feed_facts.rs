//! The card feed is a complete source of card facts: a read model replayed from sequence 0 holds
//! every card as `GetCard` answers it (number, barcode, holder, status, template, store, tags,
//! wallet link) after issuing, blocking, replacing, a client merge that moves cards and an erase
//! that clears wallet links.
mod support;
use futures::StreamExt;
use loyalty_api::card::v1 as pb;
use loyalty_api::client::v1 as cpb;
use loyalty_api::events::v1::{self as ev, WatchEventsRequest, event::Payload};
use std::collections::HashMap;
use support::*;

async fn replay(api: &mut Cards) -> HashMap<String, ev::CardChanged> {
    let feed = api
        .watch_events(WatchEventsRequest { replay_only: true, ..Default::default() })
        .await
        .expect("the card feed")
        .into_inner();
    let events: Vec<ev::Event> = feed.map(|e| e.expect("event")).collect().await;
    let mut cards = HashMap::new();
    for event in events {
        if let Some(Payload::CardChanged(c)) = event.payload {
            cards.insert(c.card_id.clone(), c);
        }
    }
    cards
}

fn status_word(status: i32) -> String {
    let name = pb::CardStatus::try_from(status).expect("status").as_str_name();
    name.trim_start_matches("CARD_STATUS_").to_lowercase()
}

#[tokio::test]
async fn a_read_model_replayed_from_the_feed_holds_every_card_as_the_card_service_answers() {
    let app = start().await;
    let mut api = cards(&app, TENANT);
    let ona = client(&app, TENANT, "+37061200401").await;
    let dup = client(&app, TENANT, "+37061200402").await;
    let gone = client(&app, TENANT, "+37061200403").await;
    let wallet = |holder: &str, link: &str| pb::IssueCardRequest {
        card: Some(pb::Card {
            client_id: holder.into(),
            kind: pb::CardKind::Wallet as i32,
            wallet_link: format!("https://wallet.example/{link}"),
            tags: vec!["summer".into()],
            ..Default::default()
        }),
        ..Default::default()
    };
    let first = api.issue_card(wallet(&ona, "ona")).await.expect("ona's card").into_inner();
    let blocked = api.issue_card(issue(&dup, "")).await.expect("dup's card").into_inner();
    let erased = api.issue_card(wallet(&gone, "gone")).await.expect("gone's card").into_inner();
    let block = pb::BlockCardRequest { card_id: blocked.id.clone(), reason: "lost".into(), ..Default::default() };
    api.block_card(block).await.expect("blocked");
    let new_card = pb::Card { wallet_link: "https://wallet.example/ona-2".into(), ..Default::default() };
    let replace = pb::ReplaceCardRequest {
        card_id: first.id.clone(),
        reason: "damaged".into(),
        new_card: Some(new_card),
        ..Default::default()
    };
    let successor = api.replace_card(replace).await.expect("replaced").into_inner();

    let mut people = clients(&app, TENANT);
    let merge = cpb::MergeClientsRequest {
        survivor_client_id: ona.clone(),
        merged_client_ids: vec![dup.clone()],
        ..Default::default()
    };
    people.merge_clients(merge).await.expect("merged");
    let erase = cpb::EraseClientRequest { client_id: gone.clone(), reason: "GDPR-2".into(), ..Default::default() };
    people.erase_client(erase).await.expect("erased");
    // The card service follows the client feed: wait until it moved the duplicate's card.
    let mut held = Vec::new();
    for _ in 0..100 {
        held = api
            .list_client_cards(pb::ListClientCardsRequest { client_id: ona.clone() })
            .await
            .expect("list")
            .into_inner()
            .cards;
        if held.len() == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(held.len(), 3, "Ona's old card, its successor and the duplicate's card");
    for _ in 0..100 {
        let card = api.get_card(pb::GetCardRequest { card_id: erased.id.clone() }).await.expect("card").into_inner();
        if card.wallet_link.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let feed = replay(&mut api).await;
    let successor_id = successor.new_card.as_ref().map(|c| c.id.clone()).expect("successor");
    for id in [&first.id, &blocked.id, &erased.id, &successor_id] {
        let now = api.get_card(pb::GetCardRequest { card_id: id.clone() }).await.expect("card").into_inner();
        let seen = feed.get(id).expect("every card is on the feed");
        assert_eq!(
            (&seen.number, &seen.barcode, &seen.client_id, &seen.store_id, &seen.template_id, &seen.wallet_link),
            (&now.number, &now.barcode, &now.client_id, &now.store_id, &now.template_id, &now.wallet_link),
            "card {}",
            now.number
        );
        assert_eq!(seen.status, status_word(now.status), "the status of card {}", now.number);
        assert_eq!(seen.tags, now.tags, "the tags of card {}", now.number);
    }
    assert_eq!(feed[&blocked.id].client_id, ona, "the merge moved the duplicate's card to the survivor");
    assert_eq!(feed[&first.id].status, "replaced");
    assert_eq!(feed[&erased.id].wallet_link, "", "the erase cleared the wallet link");
}
