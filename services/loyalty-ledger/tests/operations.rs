//! ListOperations (IE-5): many clients' operations in one call, as an export of an audience reads
//! them — by client then sequence, paged, in a period, within the caller's tenant and stores.
mod suite;
use loyalty_api::client::v1 as clients;
use loyalty_api::common::v1::{PageRequest, TimeRange};
use loyalty_api::ledger::v1 as pb;
use loyalty_api::ledger::v1::record_purchase_request::Buyer;
use loyalty_testkit::TestApp;
use loyalty_testkit::support::{TENANT, eur, fields, ledger, with_key};
use tonic::Code;

/// A client registered in `store` (empty: none) with `points` adjusted onto their account.
async fn client_with_points(
    app: &TestApp,
    tenant: &str,
    (store, email, phone): (&str, &str, &str),
    points: i64,
) -> String {
    let admin = app.admin_token(tenant);
    let mut directory = loyalty_testkit::support::clients(app, &admin);
    if !store.is_empty() {
        let shop = clients::Store { id: store.into(), name: format!("Store {store}"), ..Default::default() };
        directory.create_store(clients::CreateStoreRequest { store: Some(shop) }).await.expect("store");
    }
    let person = clients::Client {
        first_name: "Ona".into(),
        email: email.into(),
        phone: phone.into(),
        registration_store_id: store.into(),
        ..Default::default()
    };
    let created = directory
        .create_client(clients::CreateClientRequest { client: Some(person), ..Default::default() })
        .await
        .expect("client")
        .into_inner();
    let adjust = pb::AdjustPointsRequest {
        context: with_key(&format!("gift-{email}")),
        client_id: created.id.clone(),
        points,
        comment: "welcome gift".into(),
        ..Default::default()
    };
    ledger(app, &admin).adjust_points(adjust).await.expect("gift");
    created.id
}

fn ask(ids: &[&String], page: (i32, &str)) -> pb::ListOperationsRequest {
    pb::ListOperationsRequest {
        client_ids: ids.iter().map(|s| s.to_string()).collect(),
        page: Some(PageRequest { page_size: page.0, page_token: page.1.into() }),
        ..Default::default()
    }
}

/// Every page of an answer, in order.
async fn all_pages(l: &mut loyalty_testkit::support::Ledger, first: pb::ListOperationsRequest) -> Vec<pb::Entry> {
    let (mut out, mut token) = (Vec::new(), String::new());
    loop {
        let page = PageRequest { page_token: token, ..first.page.clone().unwrap_or_default() };
        let answer = l
            .list_operations(pb::ListOperationsRequest { page: Some(page), ..first.clone() })
            .await
            .expect("page")
            .into_inner();
        out.extend(answer.entries);
        token = answer.next_page_token;
        if token.is_empty() {
            return out;
        }
    }
}

#[tokio::test]
async fn many_clients_operations_come_in_one_paged_call_within_the_tenant_and_stores() {
    let app = suite::start().await;
    let kaunas = client_with_points(&app, TENANT, ("KNS-01", "kaunas@example.lt", "+37061200401"), 100).await;
    let buyer = client_with_points(&app, TENANT, ("", "buyer@example.lt", "+37061200402"), 5).await;
    let other = client_with_points(&app, TENANT, ("", "other@example.lt", "+37061200403"), 7).await;
    let stranger = client_with_points(&app, "globex", ("", "stranger@example.lt", "+37061200404"), 9).await;
    let admin = app.admin_token(TENANT);
    let mut l = ledger(&app, &admin);
    let bought = pb::RecordPurchaseRequest {
        context: with_key("vln-check-1"),
        buyer: Some(Buyer::ClientId(buyer.clone())),
        check_id: "1".into(),
        store_id: "VLN-01".into(),
        amount: eur(10_000),
        payment_method: pb::PaymentMethod::Card as i32,
        ..Default::default()
    };
    l.record_purchase(bought).await.expect("bought in Vilnius");

    // Two named clients: only their entries, each client's in sequence, the same over pages of one.
    let named = all_pages(&mut l, ask(&[&kaunas, &buyer], (1, ""))).await;
    let whole = l.list_operations(ask(&[&kaunas, &buyer], (0, ""))).await.expect("one page").into_inner();
    assert!(whole.next_page_token.is_empty());
    let ids = |es: &[pb::Entry]| es.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&named), ids(&whole.entries), "pages of one give the same entries in the same order");
    let owners: Vec<&str> = named.iter().map(|e| e.client_id.as_str()).collect();
    assert!(owners.iter().all(|o| *o == kaunas || *o == buyer), "{owners:?}");
    let mut grouped = owners.clone();
    grouped.dedup();
    assert_eq!(grouped.len(), 2, "by client, then sequence: {owners:?}");
    let points = |es: &[pb::Entry], who: &str| es.iter().filter(|e| e.client_id == who).map(|e| e.points).sum::<i64>();
    assert_eq!(points(&named, &kaunas), 100);
    assert!(named.iter().any(|e| e.client_id == buyer && e.purchase_id.len() == 36), "the purchase's entry");

    // None named: every client of the tenant, none of another tenant.
    let tenant_wide = all_pages(&mut l, ask(&[], (2, ""))).await;
    for who in [&kaunas, &buyer, &other] {
        assert!(tenant_wide.iter().any(|e| &e.client_id == who), "{who} is in the tenant-wide list");
    }
    assert!(!tenant_wide.iter().any(|e| e.client_id == stranger), "another tenant's client never shows");

    // A store's token: the clients registered there or who bought there, named or not.
    let in_store = |store: &str| app.store_token(TENANT, &["ledger.read"], &[store]);
    let mut kns = ledger(&app, &in_store("KNS-01"));
    let kns_seen = all_pages(&mut kns, ask(&[], (0, ""))).await;
    assert!(kns_seen.iter().all(|e| e.client_id == kaunas) && !kns_seen.is_empty(), "Kaunas sees its own client");
    let mut vln = ledger(&app, &in_store("VLN-01"));
    let vln_named = all_pages(&mut vln, ask(&[&kaunas, &buyer, &other], (0, ""))).await;
    assert!(vln_named.iter().all(|e| e.client_id == buyer) && !vln_named.is_empty(), "Vilnius sees its buyer");

    // A period before any operation holds none.
    let long_ago = TimeRange { start: None, end: Some(prost_types::Timestamp { seconds: 1_000_000, nanos: 0 }) };
    let early = pb::ListOperationsRequest { period: Some(long_ago), ..ask(&[], (0, "")) };
    assert!(l.list_operations(early).await.expect("period").into_inner().entries.is_empty());
}

#[tokio::test]
async fn bad_operation_lists_name_the_field_and_need_the_right() {
    let app = suite::start().await;
    let mut l = ledger(&app, &app.admin_token(TENANT));
    let someone = "7b0c7a36-3a4f-4c59-9d55-1a8f1f0a8a51".to_string();
    let bad_id = "not-an-id".to_string();
    let refused = l.list_operations(ask(&[&someone, &bad_id], (0, ""))).await.expect_err("bad id");
    assert_eq!(fields(&refused), ["client_ids[1]"]);
    let many: Vec<String> = (0..1001).map(|_| someone.clone()).collect();
    let too_many = pb::ListOperationsRequest { client_ids: many, ..Default::default() };
    assert_eq!(fields(&l.list_operations(too_many).await.expect_err("too many")), ["client_ids"]);
    let forged = l.list_operations(ask(&[], (10, "x:\u{0}"))).await.expect_err("forged token");
    assert_eq!(fields(&forged), ["page.page_token"]);
    let negative = l.list_operations(ask(&[], (-1, ""))).await.expect_err("negative size");
    assert_eq!(fields(&negative), ["page.page_size"]);
    let kinds = pb::ListOperationsRequest { kinds: vec![99], ..Default::default() };
    assert_eq!(fields(&l.list_operations(kinds).await.expect_err("kind")), ["kinds"]);
    let reader = app.token(TENANT, &["clients.read"]);
    let denied = ledger(&app, &reader).list_operations(ask(&[], (0, ""))).await.expect_err("no ledger.read");
    assert_eq!(denied.code(), Code::PermissionDenied);
}
