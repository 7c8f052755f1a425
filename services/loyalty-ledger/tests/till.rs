//! Trust at the till, through gRPC with the client, card and ledger services side by side: a
//! cashier of one store serves any member by card without learning who they are, acts only in its
//! own stores, cannot lift a ledger block, and a card that is not active is refused.
mod suite;
use futures::StreamExt;
use loyalty_api::card::v1 as cards;
use loyalty_api::client::v1 as clients;
use loyalty_api::events::v1::{WatchEventsRequest, event::Payload};
use loyalty_api::ledger::v1 as pb;
use loyalty_api::ledger::v1::record_purchase_request::Buyer;
use loyalty_testkit::TestApp;
use loyalty_testkit::support::{self, TENANT, at_store, eur, with_key};
use tonic::Code;

use suite::start;

const CASHIER_RIGHTS: &[&str] =
    &["clients.read", "clients.write", "cards.read", "cards.write", "purchases.write", "ledger.read", "events.read"];

/// Stores VLN-01 and KNS-01, and a member registered in VLN-01 with a card: (client id, card).
async fn member_of_vilnius(app: &TestApp, phone: &str) -> (String, cards::Card) {
    let admin = app.admin_token(TENANT);
    let mut c = support::clients(app, &admin);
    for id in ["VLN-01", "KNS-01"] {
        let store = clients::Store { id: id.into(), name: id.into(), ..Default::default() };
        let _ = c.create_store(clients::CreateStoreRequest { store: Some(store) }).await;
    }
    let person = clients::Client {
        first_name: "Ona".into(),
        last_name: "Vilnietė".into(),
        phone: phone.into(),
        registration_store_id: "VLN-01".into(),
        ..Default::default()
    };
    let client = c
        .create_client(clients::CreateClientRequest { client: Some(person), ..Default::default() })
        .await
        .expect("client");
    let id = client.into_inner().id;
    let card = cards::Card { client_id: id.clone(), ..Default::default() };
    let issued = support::cards(app, &admin)
        .issue_card(cards::IssueCardRequest { card: Some(card), ..Default::default() })
        .await;
    (id, issued.expect("card").into_inner())
}

fn purchase(key: &str, buyer: Buyer, store: &str, amount: i64) -> pb::RecordPurchaseRequest {
    pb::RecordPurchaseRequest {
        context: with_key(key),
        buyer: Some(buyer),
        check_id: key.into(),
        store_id: store.into(),
        amount: eur(amount),
        payment_method: pb::PaymentMethod::Card as i32,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_cashier_of_one_store_serves_any_member_by_card_but_learns_no_identity() {
    let app = start().await;
    let (client, card) = member_of_vilnius(&app, "+37061200101").await;
    let cashier = app.store_token(TENANT, CASHIER_RIGHTS, &["KNS-01"]);
    let (mut cards_api, mut ledger, mut clients_api) =
        (support::cards(&app, &cashier), support::ledger(&app, &cashier), support::clients(&app, &cashier));

    // The till: the card and the points, no holder.
    let key = Some(cards::lookup_card_request::Key::Number(card.number.clone()));
    let found = cards_api.lookup_card(cards::LookupCardRequest { key, ..Default::default() }).await.expect("lookup");
    let found = found.into_inner();
    assert_eq!(found.client_id, "", "the holder's identity stays hidden");
    assert_eq!(found.card.as_ref().map(|c| c.client_id.as_str()), Some(""));
    assert_eq!(found.card.as_ref().map(|c| c.number.as_str()), Some(card.number.as_str()));
    // Nothing else of the person is reachable by id.
    let get = cards_api.get_card(cards::GetCardRequest { card_id: card.id.clone() }).await;
    assert_eq!(get.expect_err("the card by id").code(), Code::NotFound);
    let listed = cards_api.list_client_cards(cards::ListClientCardsRequest { client_id: client.clone() }).await;
    assert_eq!(listed.expect_err("the client's cards").code(), Code::NotFound);
    let profile = clients_api.get_client(clients::GetClientRequest { client_id: client.clone() }).await;
    assert_eq!(profile.expect_err("the profile").code(), Code::NotFound);
    let by_id = ledger.get_balance(pb::GetBalanceRequest { client_id: client.clone(), ..Default::default() }).await;
    assert_eq!(by_id.expect_err("the balance by client id").code(), Code::NotFound);
    let by_card = pb::GetBalanceRequest { card_number: card.number.clone(), ..Default::default() };
    assert_eq!(ledger.get_balance(by_card).await.expect("the balance by card").into_inner().client_id, "");
    let by_client = ledger.record_purchase(purchase("p-by-id", Buyer::ClientId(client.clone()), "KNS-01", 1_000)).await;
    assert_eq!(by_client.expect_err("a purchase for a client id it cannot see").code(), Code::NotFound);

    // A purchase by card in its own store works, and says whose points, not who.
    let bought =
        ledger.record_purchase(purchase("p-1", Buyer::CardNumber(card.number.clone()), "KNS-01", 10_000)).await;
    let bought = bought.expect("a purchase by card in its store").into_inner();
    assert_eq!(bought.purchase.as_ref().map(|p| (p.client_id.as_str(), p.points_earned)), Some(("", 100)));
    assert_eq!(bought.balance.as_ref().map(|b| (b.client_id.as_str(), b.available)), Some(("", 100)));
    // Another store's till is not its to act for: in the body or in the context.
    let elsewhere =
        ledger.record_purchase(purchase("p-2", Buyer::CardNumber(card.number.clone()), "VLN-01", 1_000)).await;
    assert_eq!(elsewhere.expect_err("another store in the body").code(), Code::PermissionDenied);
    let mut in_context = purchase("p-3", Buyer::CardNumber(card.number.clone()), "", 1_000);
    in_context.context = at_store("p-3", "VLN-01");
    assert_eq!(
        ledger.record_purchase(in_context).await.expect_err("another store's till").code(),
        Code::PermissionDenied
    );
    let issue = cards::Card { client_id: client.clone(), store_id: "VLN-01".into(), ..Default::default() };
    let issued = cards_api.issue_card(cards::IssueCardRequest { card: Some(issue), ..Default::default() }).await;
    assert!(matches!(
        issued.expect_err("issuing for an unseen client").code(),
        Code::InvalidArgument | Code::PermissionDenied
    ));

    // No feed of the tenant's personal data, and nothing that spans the chain.
    let watch = WatchEventsRequest { replay_only: true, ..Default::default() };
    assert_eq!(ledger.watch_events(watch.clone()).await.expect_err("ledger feed").code(), Code::PermissionDenied);
    assert_eq!(clients_api.watch_events(watch.clone()).await.expect_err("client feed").code(), Code::PermissionDenied);
    assert_eq!(cards_api.watch_events(watch).await.expect_err("card feed").code(), Code::PermissionDenied);
    let all = cards_api.list_cards(cards::ListCardsRequest::default()).await;
    assert_eq!(all.expect_err("the chain's cards").code(), Code::PermissionDenied);
}

#[tokio::test]
async fn only_the_client_service_changes_a_ledger_block_and_the_change_is_recorded() {
    let app = start().await;
    let (client, card) = member_of_vilnius(&app, "+37061200102").await;
    let admin = app.admin_token(TENANT);
    let mut ledger = support::ledger(&app, &admin);
    let unblock = pb::SetAccountBlockedRequest { client_id: client.clone(), blocked: false, comment: String::new() };
    let refused = ledger.set_account_blocked(unblock.clone()).await.expect_err("a tenant admin");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let cashier = app.store_token(TENANT, CASHIER_RIGHTS, &["VLN-01"]);
    let refused = support::ledger(&app, &cashier).set_account_blocked(unblock).await.expect_err("a cashier");
    assert_eq!(refused.code(), Code::PermissionDenied);

    let mut c = support::clients(&app, &admin);
    let block = clients::BlockClientRequest {
        client_id: client.clone(),
        comment: "card fraud".into(),
        context: with_key("b-1"),
    };
    c.block_client(block.clone()).await.expect("blocked");
    // A retry of the block (after a timeout, say) answers as the first call did.
    c.block_client(block).await.expect("the same block again is a replay, not a conflict");
    let balance = ledger.get_balance(pb::GetBalanceRequest { client_id: client.clone(), ..Default::default() }).await;
    assert!(balance.expect("balance").into_inner().blocked, "blocked before BlockClient returned");
    let till =
        ledger.record_purchase(purchase("p-blocked", Buyer::CardNumber(card.number.clone()), "VLN-01", 1_000)).await;
    assert_eq!(till.expect_err("a blocked client at the till").code(), Code::FailedPrecondition);
    let entries = ledger.list_entries(pb::ListEntriesRequest { client_id: client.clone(), ..Default::default() }).await;
    let kinds: Vec<i32> = entries.expect("entries").into_inner().entries.iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&(pb::EntryKind::Blocked as i32)), "the block is on the account's chain: {kinds:?}");
    let mut feed = ledger
        .watch_events(WatchEventsRequest {
            replay_only: true,
            kinds: vec!["account_block_changed".into()],
            ..Default::default()
        })
        .await
        .expect("feed")
        .into_inner();
    let mut published = Vec::new();
    while let Some(e) = feed.next().await {
        if let Some(Payload::AccountBlockChanged(b)) = e.expect("event").payload {
            published.push((b.client_id, b.blocked, b.comment));
        }
    }
    assert_eq!(published, vec![(client.clone(), true, "card fraud".to_string())], "published once");
    let verified = ledger.verify_account(pb::VerifyAccountRequest { client_id: client }).await.expect("verify");
    assert!(verified.into_inner().consistent);
}

#[tokio::test]
async fn a_card_that_is_not_active_is_refused_at_the_till_naming_its_status() {
    let app = start().await;
    let (_, card) = member_of_vilnius(&app, "+37061200103").await;
    let admin = app.admin_token(TENANT);
    let (mut cards_api, mut ledger) = (support::cards(&app, &admin), support::ledger(&app, &admin));
    cards_api
        .block_card(cards::BlockCardRequest { card_id: card.id.clone(), reason: "lost".into(), ..Default::default() })
        .await
        .expect("blocked");
    let refused =
        ledger.record_purchase(purchase("b-1", Buyer::CardNumber(card.number.clone()), "VLN-01", 1_000)).await;
    let refused = refused.expect_err("a blocked card");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("the card is blocked"), "{}", refused.message());
    let hold = pb::ReservePointsRequest {
        context: with_key("h-1"),
        card_number: card.number.clone(),
        points: 1,
        ..Default::default()
    };
    assert_eq!(
        ledger.reserve_points(hold).await.expect_err("reserving by a blocked card").code(),
        Code::FailedPrecondition
    );

    cards_api
        .unblock_card(cards::UnblockCardRequest { card_id: card.id.clone(), ..Default::default() })
        .await
        .expect("unblocked");
    let replaced = cards_api
        .replace_card(cards::ReplaceCardRequest {
            card_id: card.id.clone(),
            reason: "lost".into(),
            ..Default::default()
        })
        .await
        .expect("replaced")
        .into_inner();
    let successor = replaced.new_card.expect("new card").number;
    let old = ledger.record_purchase(purchase("b-2", Buyer::CardNumber(card.number.clone()), "VLN-01", 1_000)).await;
    let old = old.expect_err("a replaced card");
    assert_eq!(old.message(), format!("the card was replaced by card {successor}; use that card"));
    ledger
        .record_purchase(purchase("b-3", Buyer::CardNumber(successor), "VLN-01", 1_000))
        .await
        .expect("the new card works");
    // Bulk change keeps the lifecycle: the replaced card stays replaced.
    let change = cards::CardChange { status: cards::CardStatus::Active as i32, ..Default::default() };
    let numbers = cards::CardNumberList { numbers: vec![card.number.clone()] };
    let bulk = cards::BulkChangeCardsRequest {
        change: Some(change),
        selection: Some(cards::bulk_change_cards_request::Selection::Numbers(numbers)),
        ..Default::default()
    };
    let report = cards_api.bulk_change_cards(bulk).await.expect("bulk").into_inner();
    assert_eq!((report.changed, report.refused_by_status.get("replaced").copied()), (0, Some(1)));
}
