//! CA-1 .. CA-3: issuing, numbering, the POS lookup, replacing and retiring cards.
mod support;

use loyalty_api::card::v1 as pb;
use loyalty_api::card::v1::lookup_card_request::Key;
use std::collections::HashSet;
use support::*;
use tonic::Code;

fn luhn_ok(n: &str) -> bool {
    loyalty_card::domain::number::luhn_valid(n)
}

#[tokio::test]
async fn generated_numbers_are_unique_under_concurrent_issuers_and_carry_a_check_digit() {
    let app = start().await;
    let owner = client(&app, TENANT, "+37061200001").await;
    let rule = pb::NumberingRule { prefix: "77".into(), length: 12, luhn_check_digit: true };
    cards(&app, TENANT)
        .update_numbering_rule(pb::UpdateNumberingRuleRequest { rule: Some(rule), ..Default::default() })
        .await
        .expect("rule");
    let issuers = (0..16).map(|_| {
        let mut api = cards(&app, TENANT);
        let owner = owner.clone();
        async move {
            let mut numbers = Vec::new();
            for _ in 0..5 {
                numbers.push(api.issue_card(issue(&owner, "")).await.expect("issued").into_inner().number);
            }
            numbers
        }
    });
    let numbers: Vec<String> = futures::future::join_all(issuers).await.into_iter().flatten().collect();
    assert_eq!(numbers.len(), 80);
    assert_eq!(numbers.iter().collect::<HashSet<_>>().len(), 80, "no number given twice");
    assert!(numbers.iter().all(|n| n.len() == 12 && n.starts_with("77") && luhn_ok(n)), "{numbers:?}");
    let listed = cards(&app, TENANT)
        .list_client_cards(pb::ListClientCardsRequest { client_id: owner })
        .await
        .expect("list")
        .into_inner();
    assert_eq!((listed.total_count, listed.active_count), (80, 80));
}

#[tokio::test]
async fn supplied_numbers_are_checked_and_unique_per_tenant() {
    let app = start().await;
    let owner = client(&app, TENANT, "+37061200002").await;
    let mut api = cards(&app, TENANT);
    api.issue_card(issue(&owner, "79927398713")).await.expect("valid Luhn");
    let err = api.issue_card(issue(&owner, "79927398710")).await.expect_err("bad check digit");
    assert_eq!(fields(&err), vec!["card.number"]);
    let err = api.issue_card(issue(&owner, "79927398713")).await.expect_err("taken");
    assert_eq!(err.code(), Code::AlreadyExists);
    let err = api.issue_card(issue("00000000-0000-7000-8000-000000000000", "")).await.expect_err("no such client");
    assert_eq!(fields(&err), vec!["card.client_id"]);

    // Another tenant may hold the same number; it never sees this tenant's card.
    let other_owner = client(&app, "globex", "+37061200002").await;
    let mut other = cards(&app, "globex");
    other.issue_card(issue(&other_owner, "79927398713")).await.expect("other tenant");
    let theirs = lookup_number(&mut other, "79927398713").await.expect("own card");
    assert_eq!(theirs.client_id, other_owner);
    let err = other.issue_card(issue(&owner, "")).await.expect_err("a client of another tenant");
    assert_eq!(fields(&err), vec!["card.client_id"]);
    let ours = lookup_number(&mut api, "79927398713").await.expect("own card").card.expect("card");
    let hidden =
        other.get_card(pb::GetCardRequest { card_id: ours.id.clone() }).await.expect_err("another tenant's card");
    assert_eq!(hidden.code(), Code::NotFound);
    let block = pb::BlockCardRequest { card_id: ours.id.clone(), reason: "x".into(), ..Default::default() };
    assert_eq!(other.block_card(block).await.expect_err("another tenant's card").code(), Code::NotFound);
    let listed = other.list_client_cards(pb::ListClientCardsRequest { client_id: owner.clone() }).await;
    assert_eq!(
        listed.expect_err("another tenant's client").code(),
        Code::NotFound,
        "not an empty list: no such client"
    );
}

#[tokio::test]
async fn the_pos_finds_a_card_by_number_or_barcode() {
    let app = start().await;
    let owner = client(&app, TENANT, "+37061200003").await;
    let mut api = cards(&app, TENANT);
    // A chain whose cards carry EAN-13 barcodes, numbered without a Luhn digit.
    let rule = pb::NumberingRule { prefix: "4".into(), length: 12, luhn_check_digit: false };
    api.update_numbering_rule(pb::UpdateNumberingRuleRequest { rule: Some(rule), ..Default::default() })
        .await
        .expect("rule");
    let template = pb::CardTemplate {
        name: "Gold".into(),
        kind: pb::CardKind::Physical as i32,
        barcode_format: pb::BarcodeFormat::Ean13 as i32,
        ..Default::default()
    };
    let template = api
        .create_card_template(pb::CreateCardTemplateRequest { template: Some(template), ..Default::default() })
        .await
        .expect("template")
        .into_inner();
    let mut req = issue(&owner, "400638133393");
    if let Some(c) = req.card.as_mut() {
        c.template_id = template.id.clone();
    }
    let card = api.issue_card(req).await.expect("issued").into_inner();
    assert_eq!(card.barcode, "4006381333931", "an EAN-13 barcode is derived from the number");
    let by_number = lookup_number(&mut api, "400638133393").await.expect("by number");
    let by_barcode = api
        .lookup_card(pb::LookupCardRequest { key: Some(Key::Barcode("4006381333931".into())), ..Default::default() })
        .await
        .expect("by barcode")
        .into_inner();
    assert_eq!(by_number.client_id, owner);
    assert_eq!(by_barcode.card.map(|c| c.id), Some(card.id));
    assert_eq!(lookup_number(&mut api, "000").await.expect_err("unknown").code(), Code::NotFound);
    let err = api.lookup_card(pb::LookupCardRequest { key: None, ..Default::default() }).await.expect_err("no key");
    assert_eq!(fields(&err), vec!["key"]);
}

#[tokio::test]
async fn a_replaced_card_points_to_its_successor_and_retired_cards_stay_out_of_the_counts() {
    let app = start().await;
    let owner = client(&app, TENANT, "+37061200004").await;
    let mut api = cards(&app, TENANT);
    let lost = api.issue_card(issue(&owner, "")).await.expect("issued").into_inner();
    let replaced = api
        .replace_card(pb::ReplaceCardRequest { card_id: lost.id.clone(), reason: "lost".into(), ..Default::default() })
        .await
        .expect("replaced")
        .into_inner();
    let (old, new) = (replaced.old_card.expect("old"), replaced.new_card.expect("new"));
    assert_eq!(old.status, pb::CardStatus::Replaced as i32);
    assert_eq!(old.successor_card_id, new.id);
    assert_eq!(new.client_id, owner, "the balance stays with the client, who keeps the new card");
    // At the till the old card is refused, naming the card that replaced it.
    let refused = lookup_number(&mut api, &old.number).await.expect_err("a replaced card at the till");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(refused.message(), format!("the card was replaced by card {}; use that card", new.number));
    // The back office still sees it, with its successor.
    let key = Some(pb::lookup_card_request::Key::Number(old.number.clone()));
    let found = api
        .lookup_card(pb::LookupCardRequest { key, any_status: true, ..Default::default() })
        .await
        .expect("any status");
    assert_eq!(found.into_inner().card.map(|c| c.successor_card_id), Some(new.id.clone()));
    let again = api.replace_card(pb::ReplaceCardRequest { card_id: lost.id.clone(), ..Default::default() }).await;
    assert_eq!(again.expect_err("already replaced").code(), Code::FailedPrecondition);

    api.block_card(pb::BlockCardRequest { card_id: new.id.clone(), reason: "suspicious".into(), ..Default::default() })
        .await
        .expect("block");
    api.unblock_card(pb::UnblockCardRequest { card_id: new.id.clone(), ..Default::default() }).await.expect("unblock");
    let err = api
        .delete_card(pb::DeleteCardRequest { card_id: new.id.clone(), ..Default::default() })
        .await
        .expect_err("reason");
    assert_eq!(fields(&err), vec!["reason"]);
    api.delete_card(pb::DeleteCardRequest { card_id: new.id.clone(), reason: "closed".into(), ..Default::default() })
        .await
        .expect("delete");
    let listed =
        api.list_client_cards(pb::ListClientCardsRequest { client_id: owner }).await.expect("list").into_inner();
    assert_eq!((listed.total_count, listed.active_count), (2, 0));
}

#[tokio::test]
async fn template_issue_form_and_numbering_changes_are_on_the_feed() {
    use futures::StreamExt;
    use loyalty_api::events::v1::{WatchEventsRequest, event::Payload};
    let app = start().await;
    let mut api = cards(&app, TENANT);
    let template = pb::CardTemplate { name: "Silver".into(), kind: pb::CardKind::Virtual as i32, ..Default::default() };
    let template = api
        .create_card_template(pb::CreateCardTemplateRequest { template: Some(template), ..Default::default() })
        .await
        .expect("t");
    let mut renamed = template.into_inner();
    renamed.name = "Silver 2027".into();
    let mask = Some(prost_types::FieldMask { paths: vec!["name".into()] });
    let update =
        pb::UpdateCardTemplateRequest { template: Some(renamed.clone()), update_mask: mask, ..Default::default() };
    api.update_card_template(update).await.expect("renamed");
    let form = pb::IssueForm { name: "Web shop".into(), ..Default::default() };
    api.create_issue_form(pb::CreateIssueFormRequest { issue_form: Some(form), ..Default::default() })
        .await
        .expect("form");
    let rule = pb::NumberingRule { prefix: "29".into(), length: 13, luhn_check_digit: true };
    api.update_numbering_rule(pb::UpdateNumberingRuleRequest { rule: Some(rule), ..Default::default() })
        .await
        .expect("rule");
    api.delete_card_template(pb::DeleteCardTemplateRequest { template_id: renamed.id.clone(), ..Default::default() })
        .await
        .expect("gone");

    let replay =
        WatchEventsRequest { after_sequence: 0, kinds: vec!["card_settings_changed".into()], replay_only: true };
    let events: Vec<_> = api.watch_events(replay).await.expect("feed").into_inner().collect().await;
    let seen: Vec<String> = events
        .into_iter()
        .filter_map(|e| match e.expect("event").payload {
            Some(Payload::CardSettingsChanged(c)) => Some(format!("{} {} {} {}", c.setting, c.change, c.name, c.kind)),
            _ => None,
        })
        .collect();
    assert_eq!(
        seen,
        [
            "template created Silver virtual",
            "template updated Silver 2027 virtual",
            "issue_form created Web shop ",
            "numbering_rule updated 29/13/luhn ",
            "template deleted Silver 2027 virtual",
        ]
    );
}
