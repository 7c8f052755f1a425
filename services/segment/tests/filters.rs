//! Filters over the read model through gRPC, as a marketer's filter builder and a campaign use
//! them: counts and pages that follow the client and ledger feeds, the caller's right, tenant and
//! store scope, ids from the body checked, bad input refused by field, an erase forgotten.
mod suite;
use futures::StreamExt;
use loyalty_api::client::v1 as clients;
use loyalty_api::filter::v1::{Audience, ClientIds, audience::Source};
use loyalty_api::segment::v1 as pb;
use loyalty_testkit::support::{self, TENANT, fields};
use suite::{OTHER, admin, count, everyone, filter, settle, town};
use tonic::Code;

#[tokio::test]
async fn counts_follow_the_client_and_ledger_feeds() {
    let t = town().await;
    let mut api = admin(&t.app);
    for (text, expected) in [
        (r#"client.gender = "female""#, 2),
        ("purchases.sum >= 60.00", 1),
        (r#"purchases.stores any of ("VLN-01")"#, 2),
        (r#"client.city = "kaunas" and purchases.count = 0"#, 1),
        (r#"client.phone = "8 612 00501""#, 1),
        (r#"client.city = "Vilnius" or client.gender = "male""#, 2),
    ] {
        let audience = filter(&mut api, text).await;
        assert_eq!(count(&mut api, audience).await.expect(text), expected, "{text}");
    }
    let answer = api.count_clients(pb::CountClientsRequest { audience: everyone() }).await.expect("count").into_inner();
    assert!(answer.facts_as_of.is_some(), "the answer says how fresh it is");

    let ids: Vec<String> = api
        .stream_client_ids(pb::StreamClientIdsRequest { audience: everyone() })
        .await
        .expect("ids")
        .into_inner()
        .flat_map(|b| futures::stream::iter(b.expect("batch").client_ids))
        .collect()
        .await;
    let mut expected = vec![t.ona.clone(), t.jonas.clone(), t.egle.clone()];
    expected.sort();
    let mut ids = ids;
    ids.sort();
    assert_eq!(ids, expected, "every matching id");
}

#[tokio::test]
async fn the_right_the_tenant_and_the_store_scope_hold_and_ids_from_the_body_are_checked() {
    let t = town().await;
    let no_right = t.app.token(TENANT, &["clients.read"]);
    let mut denied = support::segments(&t.app, &no_right);
    assert_eq!(count(&mut denied, everyone()).await.expect_err("no right").code(), Code::PermissionDenied);

    // Another tenant sees its own clients only, even when it names ours.
    let mut other = support::segments(&t.app, &t.app.admin_token(OTHER));
    assert_eq!(count(&mut other, everyone()).await.expect("count"), 1);
    let ours = Some(Audience { source: Some(Source::ClientIds(ClientIds { client_ids: vec![t.ona.clone()] })) });
    assert_eq!(count(&mut other, ours.clone()).await.expect("count"), 0, "another tenant's id counts nobody");
    assert_eq!(count(&mut admin(&t.app), ours).await.expect("count"), 1);

    // A cashier of VLN-01 sees those registered there and those who bought there.
    let vilnius = t.app.store_token(TENANT, &["segments.read"], &["VLN-01"]);
    let mut cashier = support::segments(&t.app, &vilnius);
    assert_eq!(count(&mut cashier, everyone()).await.expect("count"), 2, "Ona registered there, Jonas bought there");
    let females = filter(&mut cashier, r#"client.gender = "female""#).await;
    assert_eq!(count(&mut cashier, females).await.expect("count"), 1, "Eglė is another store's");
    let egle = cashier.get_client_facts(pb::GetClientFactsRequest { client_id: t.egle.clone() }).await;
    assert_eq!(egle.expect_err("another store's client").code(), Code::NotFound);
    let ona = cashier.get_client_facts(pb::GetClientFactsRequest { client_id: t.ona.clone() }).await.expect("facts");
    let facts = ona.into_inner().facts;
    assert_eq!(facts.get("purchases.sum").map(String::as_str), Some("100.00"));
    assert!(!facts.contains_key("client.email"), "no personal data without clients.read: {facts:?}");
    let kaunas = t.app.store_token(TENANT, &["segments.read"], &["KNS-01"]);
    assert_eq!(count(&mut support::segments(&t.app, &kaunas), everyone()).await.expect("count"), 2);

    // A page may be narrowed to some stores (a job run for a scoped person), never widened.
    let within = |stores: &[&str]| pb::ListMatchingClientsRequest {
        audience: everyone(),
        within_stores: stores.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let total = |r: pb::ListMatchingClientsResponse| r.page.map(|p| p.total_size).unwrap_or_default();
    let narrowed = admin(&t.app).list_matching_clients(within(&["VLN-01"])).await.expect("narrowed").into_inner();
    assert_eq!(total(narrowed), 2, "as the Vilnius cashier sees them");
    let wider = cashier.list_matching_clients(within(&["VLN-01", "KNS-01"])).await.expect("not wider").into_inner();
    assert_eq!(total(wider), 2, "naming more stores never widens a scoped caller's view");
    let other_store = cashier.list_matching_clients(within(&["KNS-01"])).await.expect("elsewhere").into_inner();
    assert_eq!(total(other_store), 0, "a scoped caller narrowed to another store sees nobody");
}

#[tokio::test]
async fn pages_show_the_chosen_facts_and_personal_data_only_with_clients_read() {
    let t = town().await;
    let mut api = admin(&t.app);
    let page = |size: i32, token: &str| {
        Some(loyalty_api::common::v1::PageRequest { page_size: size, page_token: token.into() })
    };
    let request = |size: i32, token: &str| pb::ListMatchingClientsRequest {
        audience: everyone(),
        page: page(size, token),
        facts: vec!["client.city".into(), "purchases.sum".into()],
        order_by: "purchases.sum desc".into(),
        within_stores: vec![],
        period: None,
        as_rows: false,
    };
    let first = api.list_matching_clients(request(2, "")).await.expect("page").into_inner();
    let info = first.page.clone().expect("page info");
    assert_eq!(info.total_size, 3);
    assert_eq!(first.clients[0].client_id, t.ona, "the biggest spender first");
    assert_eq!(first.clients[0].facts.get("purchases.sum").map(String::as_str), Some("100.00"));
    assert_eq!(first.clients[1].client_id, t.jonas);
    let city = first.clients[0].facts.get("client.city").map(String::as_str);
    assert_eq!(city, Some("Vilnius"), "texts shown as written, matched folded");
    let second = api.list_matching_clients(request(2, &info.next_page_token)).await.expect("page").into_inner();
    assert_eq!(second.clients.iter().map(|c| c.client_id.clone()).collect::<Vec<_>>(), vec![t.egle.clone()]);
    assert_eq!(second.page.map(|p| p.next_page_token), Some(String::new()), "the last page");

    // As rows: the same values in the order asked, "" where a client has none, no names repeated.
    let facts = vec!["purchases.sum".to_string(), "client.birth_date".into(), "client.city".into()];
    let as_map = pb::ListMatchingClientsRequest { facts: facts.clone(), ..request(10, "") };
    let as_map = api.list_matching_clients(as_map).await.expect("map").into_inner().clients;
    let as_rows = pb::ListMatchingClientsRequest { facts: facts.clone(), as_rows: true, ..request(10, "") };
    let as_rows = api.list_matching_clients(as_rows).await.expect("rows").into_inner().clients;
    assert_eq!(as_rows.len(), 3);
    for (m, r) in as_map.iter().zip(&as_rows) {
        assert_eq!(m.client_id, r.client_id);
        assert!(r.facts.is_empty(), "no names beside the values");
        let expected: Vec<String> = facts.iter().map(|f| m.facts.get(f).cloned().unwrap_or_default()).collect();
        assert_eq!(r.values, expected);
    }
    assert!(as_rows.iter().any(|r| r.values[1].is_empty()), "a client without a birth date has an empty cell");
    let unnamed = pb::ListMatchingClientsRequest { facts: vec![], as_rows: true, ..request(10, "") };
    let unnamed = api.list_matching_clients(unnamed).await.expect_err("as rows without facts");
    assert_eq!(fields(&unnamed), ["facts"]);

    let forged = api.list_matching_clients(request(2, "not-a-token")).await.expect_err("forged");
    assert_eq!(fields(&forged), ["page.page_token"]);
    let analyst = t.app.token(TENANT, &["segments.read"]);
    let mut analyst = support::segments(&t.app, &analyst);
    let personal = pb::ListMatchingClientsRequest {
        audience: everyone(),
        facts: vec!["client.email".into()],
        ..Default::default()
    };
    assert_eq!(analyst.list_matching_clients(personal).await.expect_err("personal").code(), Code::PermissionDenied);
    let defaults = pb::ListMatchingClientsRequest { audience: everyone(), ..Default::default() };
    let shown = analyst.list_matching_clients(defaults).await.expect("page").into_inner();
    assert!(shown.clients.iter().all(|c| !c.facts.contains_key("client.full_name")), "names only with clients.read");
}

#[tokio::test]
async fn bad_filters_are_refused_by_field_and_change_nothing() {
    let t = town().await;
    let mut api = admin(&t.app);
    let unknown = filter(&mut api, r#"client.shoe_size = "42""#).await;
    assert_eq!(
        fields(&count(&mut api, unknown).await.expect_err("unknown fact")),
        ["audience.filter.conditions[0].fact"]
    );
    let bad_text = api.parse_filter(pb::ParseFilterRequest { filter_text: "client.city = ".into() }).await;
    let bad_text = bad_text.expect_err("unfinished");
    assert_eq!(fields(&bad_text), ["filter_text"]);
    assert!(bad_text.message().contains("at character 15"), "{}", bad_text.message());
    let nul = api.parse_filter(pb::ParseFilterRequest { filter_text: "client.city = \"a\0\"".into() }).await;
    assert_eq!(fields(&nul.expect_err("NUL")), ["filter_text"]);
    let huge = api.parse_filter(pb::ParseFilterRequest { filter_text: "x".repeat(20_000) }).await;
    assert_eq!(fields(&huge.expect_err("too long")), ["filter_text"]);
    let garbage = Some(Audience { source: Some(Source::ClientIds(ClientIds { client_ids: vec!["nope".into()] })) });
    assert_eq!(fields(&count(&mut api, garbage).await.expect_err("bad id")), ["audience.client_ids.client_ids[0]"]);
    assert_eq!(fields(&count(&mut api, None).await.expect_err("no audience")), ["audience"]);
    assert_eq!(count(&mut api, everyone()).await.expect("still there"), 3, "nothing changed");
}

#[tokio::test]
async fn an_erased_client_is_forgotten_by_the_read_model_and_its_table() {
    let t = town().await;
    let mut people = support::clients(&t.app, &t.app.admin_token(TENANT));
    let erase =
        clients::EraseClientRequest { client_id: t.egle.clone(), reason: "GDPR-7".into(), ..Default::default() };
    people.erase_client(erase).await.expect("erased");
    settle(&t.app, TENANT, 2).await;
    let db = support::sql(&t.app, "segment").await;
    let egle: uuid::Uuid = t.egle.parse().expect("id");
    let kept: Vec<String> = db
        .query("SELECT key FROM facts WHERE client_id = $1", &[&egle])
        .await
        .expect("facts")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(kept, [format!("gone:{}", t.egle)], "only the tombstone is left");
    let tombstone: Vec<u8> =
        db.query_one("SELECT payload FROM facts WHERE client_id = $1", &[&egle]).await.expect("row").get(0);
    assert!(!String::from_utf8_lossy(&tombstone).contains("Eglė"), "no personal data in the tombstone");
}

#[tokio::test]
async fn a_period_sums_purchases_of_its_days_and_pages_in_row_order_follow_their_token() {
    use loyalty_api::ledger::v1 as ledger;
    let t = town().await;
    let now = time::OffsetDateTime::now_utc();
    let earlier = ledger::RecordPurchaseRequest {
        context: loyalty_testkit::support::with_key("f-old"),
        buyer: Some(ledger::record_purchase_request::Buyer::ClientId(t.ona.clone())),
        check_id: "f-old".into(),
        store_id: "VLN-01".into(),
        amount: loyalty_testkit::support::eur(4_000),
        purchased_at: Some(loyalty_platform::convert::to_timestamp(now - time::Duration::days(45))),
        ..Default::default()
    };
    let mut till = loyalty_testkit::support::ledger(&t.app, &t.app.admin_token(TENANT));
    till.add_manual_purchase(earlier).await.expect("a purchase 45 days ago");
    let mut api = admin(&t.app);
    for _ in 0..200 {
        let twice = filter(&mut api, "purchases.count >= 2").await;
        if count(&mut api, twice).await.unwrap_or(0) == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let at = |days: i64| Some(loyalty_platform::convert::to_timestamp(now - time::Duration::days(days)));
    let ona = |period: Option<loyalty_api::common::v1::TimeRange>| pb::ListMatchingClientsRequest {
        audience: Some(Audience { source: Some(Source::ClientIds(ClientIds { client_ids: vec![t.ona.clone()] })) }),
        facts: vec!["purchases.count".into(), "purchases.sum".into(), "client.city".into()],
        period,
        ..Default::default()
    };
    let totals = |answer: pb::ListMatchingClientsResponse| {
        let facts = answer.clients.first().map(|c| c.facts.clone()).unwrap_or_default();
        let get = |k: &str| facts.get(k).cloned().unwrap_or_default();
        (get("purchases.count"), get("purchases.sum"), get("client.city"))
    };
    let all_time = api.list_matching_clients(ona(None)).await.expect("all time").into_inner();
    assert_eq!(totals(all_time), ("2".into(), "140.00".into(), "Vilnius".into()));
    let last_month = loyalty_api::common::v1::TimeRange { start: at(29), end: at(0) };
    let answer = api.list_matching_clients(ona(Some(last_month))).await.expect("a month").into_inner();
    assert_eq!(totals(answer), ("1".into(), "100.00".into(), "Vilnius".into()), "only today's; the city as it is");
    let before = loyalty_api::common::v1::TimeRange { start: at(60), end: at(30) };
    let answer = api.list_matching_clients(ona(Some(before))).await.expect("before").into_inner();
    assert_eq!(totals(answer).0, "1");
    let open_start = loyalty_api::common::v1::TimeRange { start: None, end: at(1) };
    let answer = api.list_matching_clients(ona(Some(open_start))).await.expect("until yesterday").into_inner();
    assert_eq!(totals(answer).1, "40.00");
    let backwards = loyalty_api::common::v1::TimeRange { start: at(1), end: at(10) };
    let refused = api.list_matching_clients(ona(Some(backwards))).await.expect_err("an end before the start");
    assert_eq!(fields(&refused), ["period.end"]);

    // In row order, each page starts after its token's client.
    let page = |token: &str| pb::ListMatchingClientsRequest {
        audience: everyone(),
        page: Some(loyalty_api::common::v1::PageRequest { page_size: 2, page_token: token.into() }),
        ..Default::default()
    };
    let first = api.list_matching_clients(page("")).await.expect("first").into_inner();
    let info = first.page.expect("page");
    assert_eq!((first.clients.len(), info.total_size), (2, 3));
    let second = api.list_matching_clients(page(&info.next_page_token)).await.expect("second").into_inner();
    let mut seen: Vec<String> = first.clients.iter().chain(&second.clients).map(|c| c.client_id.clone()).collect();
    assert_eq!(second.page.map(|p| p.next_page_token), Some(String::new()));
    seen.sort();
    let mut everyone_there = vec![t.ona.clone(), t.jonas.clone(), t.egle.clone()];
    everyone_there.sort();
    assert_eq!(seen, everyone_there, "every client once");
}
