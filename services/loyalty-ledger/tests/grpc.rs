//! The ledger through gRPC beside the client and card services, as POS systems use it: purchases by
//! card, retries, blocking, reservations, manual adjustments with their notice, history export.
mod suite;
use futures::StreamExt;
use loyalty_api::card::v1 as cards;
use loyalty_api::client::v1 as clients;
use loyalty_api::common::v1::{Money, RequestContext};
use loyalty_api::events::v1::{WatchEventsRequest, event::Payload};
use loyalty_api::ledger::v1 as pb;
use loyalty_api::ledger::v1::ledger_service_client::LedgerServiceClient;
use loyalty_api::ledger::v1::record_purchase_request::Buyer;
use loyalty_testkit::TestApp;
use tonic::Code;

const TENANT: &str = "acme";

use suite::start;

fn key(k: &str) -> Option<RequestContext> {
    Some(RequestContext { idempotency_key: k.into(), ..Default::default() })
}

fn eur(minor: i64) -> Option<Money> {
    Some(Money { minor_units: minor, currency: "EUR".into() })
}

/// A client with a card; returns (client id, card number).
async fn member(app: &TestApp, phone: &str) -> (String, String) {
    let token = app.admin_token(TENANT);
    let mut c = clients::client_service_client::ClientServiceClient::new(app.authed(&token));
    let person = clients::Client {
        first_name: "Ona".into(),
        last_name: "Pirkėja".into(),
        phone: phone.into(),
        ..Default::default()
    };
    let client = c
        .create_client(clients::CreateClientRequest { client: Some(person), ..Default::default() })
        .await
        .expect("client")
        .into_inner();
    let mut k = cards::card_service_client::CardServiceClient::new(app.authed(&token));
    let card = cards::Card { client_id: client.id.clone(), ..Default::default() };
    let card = k
        .issue_card(cards::IssueCardRequest { card: Some(card), ..Default::default() })
        .await
        .expect("card")
        .into_inner();
    (client.id, card.number)
}

fn purchase(k: &str, card: &str, check: &str, amount: i64, spend: i64) -> pb::RecordPurchaseRequest {
    pb::RecordPurchaseRequest {
        context: key(k),
        buyer: Some(Buyer::CardNumber(card.into())),
        check_id: check.into(),
        store_id: "VLN-01".into(),
        amount: eur(amount),
        payment_method: pb::PaymentMethod::Card as i32,
        points_to_spend: spend,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_purchase_by_card_earns_and_fifty_retries_apply_once() {
    let app = start().await;
    let (client, card) = member(&app, "+37061200001").await;
    let mut ledger = LedgerServiceClient::new(app.authed(&app.admin_token(TENANT)));
    let retries = (0..50).map(|_| {
        let mut l = ledger.clone();
        let req = purchase("pos-1-check-77", &card, "77", 12_345, 0);
        async move { l.record_purchase(req).await.expect("same answer").into_inner() }
    });
    let answers = futures::future::join_all(retries).await;
    assert_eq!(answers.iter().filter(|a| !a.replayed).count(), 1, "one applied, the rest replayed");
    let first = answers.iter().find(|a| !a.replayed).expect("applied").clone();
    assert!(
        answers.iter().all(|a| a.purchase == first.purchase && a.balance == first.balance),
        "every retry gets the first answer"
    );
    assert_eq!(first.purchase.as_ref().map(|p| p.points_earned), Some(123));
    let listed = ledger
        .list_purchases(pb::ListPurchasesRequest { client_id: client.clone(), ..Default::default() })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.purchases.len(), 1);
    let balance = ledger
        .get_balance(pb::GetBalanceRequest { client_id: client.clone(), ..Default::default() })
        .await
        .expect("balance")
        .into_inner();
    assert_eq!(balance.available, 123);

    let different =
        ledger.record_purchase(purchase("pos-1-check-77", &card, "78", 100, 0)).await.expect_err("key reused");
    assert_eq!(different.code(), Code::AlreadyExists);
    let no_key = ledger.record_purchase(purchase("", &card, "79", 100, 0)).await.expect_err("no key");
    assert_eq!(no_key.code(), Code::InvalidArgument);
    let over = ledger.record_purchase(purchase("k-over", &card, "80", 1_000, 600)).await.expect_err("over the share");
    assert_eq!(over.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn blocking_a_client_stops_the_ledger_before_block_returns() {
    let app = start().await;
    let (client, card) = member(&app, "+37061200002").await;
    let token = app.admin_token(TENANT);
    let mut ledger = LedgerServiceClient::new(app.authed(&token));
    ledger.record_purchase(purchase("b-1", &card, "1", 10_000, 0)).await.expect("earn");
    let mut c = clients::client_service_client::ClientServiceClient::new(app.authed(&token));
    c.block_client(clients::BlockClientRequest {
        client_id: client.clone(),
        comment: "fraud".into(),
        ..Default::default()
    })
    .await
    .expect("blocked");
    let refused = ledger.record_purchase(purchase("b-2", &card, "2", 1_000, 10)).await.expect_err("blocked");
    assert_eq!(refused.code(), Code::FailedPrecondition, "refused immediately after BlockClient returned");
    let balance = ledger
        .get_balance(pb::GetBalanceRequest { client_id: client.clone(), ..Default::default() })
        .await
        .expect("balance")
        .into_inner();
    assert!(balance.blocked && balance.available == 100, "nothing changed: {balance:?}");
    c.unblock_client(clients::UnblockClientRequest {
        client_id: client.clone(),
        comment: "cleared".into(),
        ..Default::default()
    })
    .await
    .expect("unblocked");
    ledger.record_purchase(purchase("b-3", &card, "3", 1_000, 10)).await.expect("earning and spending again");
}

#[tokio::test]
async fn reservations_adjustments_notices_history_and_verification() {
    let app = start().await;
    let (client, _) = member(&app, "+37061200003").await;
    let mut ledger = LedgerServiceClient::new(app.authed(&app.admin_token(TENANT)));
    let adjust = |k: &str, points: i64, notify: bool| pb::AdjustPointsRequest {
        context: key(k),
        client_id: client.clone(),
        points,
        comment: "welcome gift".into(),
        notify_by_sms: notify,
        ..Default::default()
    };
    let credited = ledger.adjust_points(adjust("adj-1", 500, true)).await.expect("accrual").into_inner();
    assert_eq!(credited.balance.as_ref().map(|b| b.available), Some(500));
    let no_comment = pb::AdjustPointsRequest { comment: String::new(), ..adjust("adj-2", 5, false) };
    assert_eq!(ledger.adjust_points(no_comment).await.expect_err("comment").code(), Code::InvalidArgument);

    let held = ledger
        .reserve_points(pb::ReservePointsRequest {
            context: key("res-1"),
            client_id: client.clone(),
            points: 200,
            order_ref: "web-9".into(),
            ttl_seconds: 600,
            ..Default::default()
        })
        .await
        .expect("reserved")
        .into_inner();
    assert_eq!(held.balance.as_ref().map(|b| (b.available, b.reserved)), Some((300, 200)));
    let committed = ledger
        .commit_reservation(pb::CommitReservationRequest {
            context: key("res-2"),
            reservation_id: held.id.clone(),
            points: 150,
        })
        .await
        .expect("committed")
        .into_inner();
    assert_eq!(committed.balance.as_ref().map(|b| (b.available, b.reserved, b.used)), Some((350, 0, 150)));
    let again = ledger
        .cancel_reservation(pb::CancelReservationRequest { context: key("res-3"), reservation_id: held.id.clone() })
        .await;
    assert_eq!(again.expect_err("closed").code(), Code::FailedPrecondition);

    let csv: Vec<u8> = ledger
        .export_entries(pb::ExportEntriesRequest { client_id: client.clone(), ..Default::default() })
        .await
        .expect("export")
        .into_inner()
        .map(|c| c.expect("chunk").data)
        .concat()
        .await;
    let csv = String::from_utf8(csv).expect("utf-8");
    assert!(csv.starts_with("time,kind,points,source,actor,comment"), "{csv}");
    assert!(
        csv.contains(",earned,500,manual,") && csv.contains(",spent,-150,") && csv.contains("welcome gift"),
        "{csv}"
    );
    let listed = ledger
        .list_entries(pb::ListEntriesRequest { client_id: client.clone(), ..Default::default() })
        .await
        .expect("entries")
        .into_inner();
    assert_eq!(listed.page.map(|p| p.total_size), Some(4), "earned, reserved, spent, released");
    let verified = ledger
        .verify_account(pb::VerifyAccountRequest { client_id: client.clone() })
        .await
        .expect("verify")
        .into_inner();
    assert!(verified.consistent, "{verified:?}");

    let events: Vec<_> = ledger
        .watch_events(WatchEventsRequest {
            after_sequence: 0,
            kinds: vec!["points_notification_requested".into()],
            replay_only: true,
        })
        .await
        .expect("feed")
        .into_inner()
        .collect()
        .await;
    let texts: Vec<String> = events
        .into_iter()
        .filter_map(|e| match e.expect("event").payload {
            Some(Payload::PointsNotificationRequested(n)) => Some(n.text),
            _ => None,
        })
        .collect();
    assert_eq!(texts, vec!["Ona, you have been credited 500 points (balance 500). Have a nice day!".to_string()]);
}

#[tokio::test]
async fn a_client_merge_moves_points_and_purchases_to_the_survivor() {
    let app = start().await;
    let (survivor, survivor_card) = member(&app, "+37061200011").await;
    let (duplicate, duplicate_card) = member(&app, "+37061200012").await;
    let token = app.admin_token(TENANT);
    let mut ledger = LedgerServiceClient::new(app.authed(&token));
    ledger.record_purchase(purchase("m-1", &survivor_card, "1", 10_000, 0)).await.expect("survivor earns 100");
    ledger.record_purchase(purchase("m-2", &duplicate_card, "2", 5_000, 0)).await.expect("duplicate earns 50");
    let paid = ledger.record_purchase(purchase("m-2b", &duplicate_card, "2b", 1_000, 20)).await.expect("pays 20");
    assert_eq!(paid.get_ref().balance.as_ref().map(|b| (b.available, b.used)), Some((39, 20)), "50 - 20 + 9");
    let mut c = clients::client_service_client::ClientServiceClient::new(app.authed(&token));
    c.merge_clients(clients::MergeClientsRequest {
        survivor_client_id: survivor.clone(),
        merged_client_ids: vec![duplicate.clone()],
        ..Default::default()
    })
    .await
    .expect("merged");
    let mut balance = pb::Balance::default();
    for _ in 0..100 {
        balance = ledger
            .get_balance(pb::GetBalanceRequest { client_id: survivor.clone(), ..Default::default() })
            .await
            .expect("balance")
            .into_inner();
        if balance.available == 139 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(balance.available, 139, "the duplicate's points moved to the survivor through the client feed");
    assert_eq!(balance.used, 20, "with the points it had spent");
    // The merged id answers with its survivor, as the client service does.
    let gone = ledger
        .get_balance(pb::GetBalanceRequest { client_id: duplicate.clone(), ..Default::default() })
        .await
        .expect("balance")
        .into_inner();
    assert_eq!((gone.client_id.as_str(), gone.available), (survivor.as_str(), 139));
    let purchases = ledger
        .list_purchases(pb::ListPurchasesRequest { client_id: survivor.clone(), ..Default::default() })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(purchases.purchases.len(), 3, "purchases follow the points");
    // A return of the moved purchase cancels from the survivor's lots.
    let moved = purchases.purchases.iter().find(|p| p.check_id == "2").expect("moved purchase");
    let back = ledger
        .return_purchase(pb::ReturnPurchaseRequest {
            context: key("m-3"),
            purchase_id: moved.id.clone(),
            ..Default::default()
        })
        .await
        .expect("returned")
        .into_inner();
    assert_eq!((back.points_cancelled, back.balance.map(|b| b.available)), (50, Some(89)));
    for client in [&survivor, &duplicate] {
        let check = ledger
            .verify_account(pb::VerifyAccountRequest { client_id: client.clone() })
            .await
            .expect("verify")
            .into_inner();
        assert!(check.consistent, "both accounts still verify against their own entries: {check:?}");
    }
}

#[tokio::test]
async fn a_cashier_also_sees_the_clients_who_bought_in_their_store() {
    let app = start().await;
    let (client, card) = member(&app, "+37061200021").await;
    let cashier = app.store_token(TENANT, &["clients.read"], &["KNS-01"]);
    let mut cashier = clients::client_service_client::ClientServiceClient::new(app.authed(&cashier));
    let get = || clients::GetClientRequest { client_id: client.clone() };
    let search = || clients::ListClientsRequest { query: "+37061200021".into(), ..Default::default() };
    assert_eq!(cashier.get_client(get()).await.expect_err("not yet").code(), Code::NotFound);
    assert_eq!(cashier.list_clients(search()).await.expect("search").into_inner().clients.len(), 0);

    let mut ledger = LedgerServiceClient::new(app.authed(&app.admin_token(TENANT)));
    let elsewhere = purchase("s-1", &card, "1", 1_000, 0);
    ledger.record_purchase(elsewhere).await.expect("bought in Vilnius");
    let in_kaunas = pb::RecordPurchaseRequest { store_id: "KNS-01".into(), ..purchase("s-2", &card, "2", 2_000, 0) };
    ledger.record_purchase(in_kaunas).await.expect("bought in Kaunas");
    let mut seen = None;
    for _ in 0..100 {
        if let Ok(found) = cashier.get_client(get()).await {
            seen = Some(found.into_inner());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(seen.map(|c| c.id), Some(client.clone()), "visible once the ledger's feed told where they bought");
    let found = cashier.list_clients(search()).await.expect("search").into_inner();
    assert_eq!(found.clients.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), [client.as_str()]);
    let riga = app.store_token(TENANT, &["clients.read"], &["RIX-01"]);
    let mut riga = clients::client_service_client::ClientServiceClient::new(app.authed(&riga));
    assert_eq!(riga.get_client(get()).await.expect_err("never bought there").code(), Code::NotFound);

    // The stores are the person's data: in their export, gone with their erase.
    let mut admin = clients::client_service_client::ClientServiceClient::new(app.authed(&app.admin_token(TENANT)));
    let export = || clients::ExportClientDataRequest { client_id: client.clone() };
    let stores =
        |json: &str| serde_json::from_str::<serde_json::Value>(json).expect("json")["stores_bought_in"].clone();
    let before = admin.export_client_data(export()).await.expect("export").into_inner().json;
    assert_eq!(stores(&before), serde_json::json!(["KNS-01", "VLN-01"]));
    let erase =
        clients::EraseClientRequest { client_id: client.clone(), reason: "GDPR-1".into(), ..Default::default() };
    admin.erase_client(erase).await.expect("erased");
    let after = admin.export_client_data(export()).await.expect("export").into_inner().json;
    assert_eq!(stores(&after), serde_json::json!([]));
}

#[tokio::test]
async fn an_opening_balance_is_credited_once_beyond_the_adjustment_limit_with_its_expiry() {
    let app = start().await;
    let (client, _) = member(&app, "+37061200009").await;
    let mut ledger = LedgerServiceClient::new(app.authed(&app.admin_token(TENANT)));
    let expires = time::OffsetDateTime::now_utc() + time::Duration::days(90);
    let opening = |k: &str, points: i64| pb::AdjustPointsRequest {
        context: key(k),
        client_id: client.clone(),
        points,
        comment: "opening balance from senoji-sistema.csv".into(),
        expires_at: Some(loyalty_platform::convert::to_timestamp(expires)),
        opening_balance: true,
        ..Default::default()
    };
    let plain = pb::AdjustPointsRequest { opening_balance: false, ..opening("over-the-limit", 5_000_000) };
    let refused = ledger.adjust_points(plain).await.expect_err("a plain adjustment keeps its limit");
    assert_eq!(refused.code(), Code::InvalidArgument);
    let credited = ledger.adjust_points(opening("open-1", 5_000_000)).await.expect("opening").into_inner();
    assert_eq!(credited.balance.as_ref().map(|b| b.available), Some(5_000_000));

    let again = ledger.adjust_points(opening("open-2", 100)).await.expect_err("one opening balance a client");
    assert_eq!(again.code(), Code::AlreadyExists, "{again:?}");
    assert!(again.message().contains(&credited.entry_id), "names the first: {again:?}");
    let negative = ledger.adjust_points(opening("open-3", -5)).await.expect_err("an opening balance accrues");
    assert_eq!(negative.code(), Code::InvalidArgument);
    assert!(negative.message().contains("points"), "{negative:?}");
    let replayed = ledger.adjust_points(opening("open-1", 5_000_000)).await.expect("a retry").into_inner();
    assert!(replayed.replayed && replayed.entry_id == credited.entry_id, "a retried call is answered, not refused");

    let page = Some(loyalty_api::common::v1::PageRequest { page_size: 10, page_token: String::new() });
    let listed = ledger.list_entries(pb::ListEntriesRequest { client_id: client.clone(), page, ..Default::default() });
    let entries = listed.await.expect("entries").into_inner().entries;
    let sources: Vec<&str> = entries.iter().map(|e| e.source.as_str()).collect();
    assert_eq!(sources, ["opening"], "{entries:?}");
    let asked = pb::GetBalanceRequest { client_id: client.clone(), ..Default::default() };
    let balance = ledger.get_balance(asked).await.expect("balance").into_inner();
    let next = (balance.next_expiry_at.map(|t| t.seconds), balance.next_expiry_points);
    assert_eq!(next, (Some(expires.unix_timestamp()), 5_000_000), "the points expire when they did in the old system");
}

#[tokio::test]
async fn purchase_history_is_recorded_with_its_time_earning_nothing_and_once_per_check() {
    let app = start().await;
    let (client, card) = member(&app, "+37061200010").await;
    let mut ledger = LedgerServiceClient::new(app.authed(&app.admin_token(TENANT)));
    let bought = time::OffsetDateTime::now_utc() - time::Duration::days(400);
    let old = |k: &str, check: &str| pb::RecordPurchaseRequest {
        purchased_at: Some(loyalty_platform::convert::to_timestamp(bought)),
        history: true,
        ..purchase(k, &card, check, 12_000, 0)
    };
    let recorded = ledger.add_manual_purchase(old("h-1", "OLD-1")).await.expect("history").into_inner();
    let p = recorded.purchase.expect("the purchase");
    assert_eq!(
        (p.points_earned, p.points_spent, p.client_id.as_str()),
        (0, 0, client.as_str()),
        "no points for history"
    );
    assert_eq!(p.purchased_at.map(|t| t.seconds), Some(bought.unix_timestamp()));
    assert_eq!(recorded.balance.map(|b| (b.available, b.pending)), Some((0, 0)));

    let twice = ledger.add_manual_purchase(old("h-2", "OLD-1")).await.expect_err("the same check again");
    assert_eq!(twice.code(), Code::AlreadyExists, "{twice:?}");
    let live = ledger.record_purchase(old("h-3", "OLD-2")).await.expect_err("history is not a till's purchase");
    assert_eq!(loyalty_testkit::support::fields(&live), ["history"]);
    let unnamed = ledger.add_manual_purchase(old("h-4", "")).await.expect_err("a check id keeps it once");
    assert_eq!(loyalty_testkit::support::fields(&unnamed), ["check_id"]);
    let spending = pb::RecordPurchaseRequest { points_to_spend: 5, ..old("h-5", "OLD-3") };
    let spending = ledger.add_manual_purchase(spending).await.expect_err("history spends nothing");
    assert_eq!(loyalty_testkit::support::fields(&spending), ["points_to_spend"]);

    // A real purchase afterwards earns as the programme says.
    let now = ledger.record_purchase(purchase("h-6", &card, "NEW-1", 1_000, 0)).await.expect("a purchase").into_inner();
    assert!(now.purchase.is_some_and(|p| p.points_earned > 0));
}
