//! Money that adds up, through gRPC: returns never give back more than was bought, sums that would
//! overflow are bad input, the programme's currency and limits hold, unknown ids are NOT_FOUND,
//! month ends follow the tenant's time zone, and what Postgres cannot store is refused at the edge.
mod suite;
use futures::StreamExt;
use loyalty_api::client::v1 as clients;
use loyalty_api::common::v1::Money;
use loyalty_api::events::v1::{WatchEventsRequest, event::Payload};
use loyalty_api::ledger::v1 as pb;
use loyalty_api::ledger::v1::record_purchase_request::Buyer;
use loyalty_testkit::TestApp;
use loyalty_testkit::support::{self, Ledger, TENANT, eur, fields, with_key};
use tonic::Code;

use suite::start;

async fn client(app: &TestApp, phone: &str) -> String {
    let person = clients::Client {
        first_name: "Ona".into(),
        last_name: "Pirkėja".into(),
        phone: phone.into(),
        ..Default::default()
    };
    let mut api = support::clients(app, &app.admin_token(TENANT));
    api.create_client(clients::CreateClientRequest { client: Some(person), ..Default::default() })
        .await
        .expect("client")
        .into_inner()
        .id
}

fn line(no: i32, quantity_milli: i64, minor: i64) -> pb::PurchaseLine {
    pb::PurchaseLine { line_no: no, sku: format!("SKU-{no}"), quantity_milli, amount: eur(minor), ..Default::default() }
}

fn purchase(key: &str, client: &str, amount: Option<Money>, lines: Vec<pb::PurchaseLine>) -> pb::RecordPurchaseRequest {
    pb::RecordPurchaseRequest {
        context: with_key(key),
        buyer: Some(Buyer::ClientId(client.into())),
        check_id: key.into(),
        amount,
        lines,
        ..Default::default()
    }
}

async fn refused(ledger: &mut Ledger, request: pb::RecordPurchaseRequest) -> tonic::Status {
    ledger.record_purchase(request).await.expect_err("refused")
}

#[tokio::test]
async fn a_return_never_gives_back_more_than_was_bought() {
    let app = start().await;
    let client = client(&app, "+37061200201").await;
    let mut ledger = support::ledger(&app, &app.admin_token(TENANT));
    // Negative lines that add up are no check.
    let status = refused(
        &mut ledger,
        purchase("neg", &client, eur(1_000), vec![line(1, 1_000, 10_000), line(2, 1_000, -9_000)]),
    )
    .await;
    assert_eq!(fields(&status), vec!["lines[1].amount.minor_units"]);
    let bought = ledger
        .record_purchase(purchase("p", &client, eur(3_000), vec![line(1, 2_000, 2_000), line(2, 1_000, 1_000)]))
        .await
        .expect("bought")
        .into_inner();
    let id = bought.purchase.expect("purchase").id;
    let give = |key: &str, lines: Vec<(i32, i64)>| pb::ReturnPurchaseRequest {
        context: with_key(key),
        purchase_id: id.clone(),
        lines: lines.into_iter().map(|(line_no, quantity_milli)| pb::ReturnLine { line_no, quantity_milli }).collect(),
        ..Default::default()
    };
    let twice = ledger.return_purchase(give("r-twice", vec![(1, 2_000), (1, 2_000)])).await.expect_err("a line twice");
    assert_eq!(fields(&twice), vec!["lines"]);
    assert_eq!(twice.message(), "lines: line 1 is named more than once; give its whole quantity once");
    let negative = ledger.return_purchase(give("r-neg", vec![(2, -1_000)])).await.expect_err("a negative quantity");
    assert!(negative.message().contains("must be more than 0"), "{}", negative.message());
    let too_many = ledger.return_purchase(give("r-many", vec![(1, 3_000)])).await.expect_err("more than bought");
    assert_eq!(too_many.message(), "lines: line 1: only 2 left to return");
    let back = ledger.return_purchase(give("r-1", vec![(1, 2_000), (2, 1_000)])).await.expect("all of it").into_inner();
    assert_eq!(back.amount, eur(3_000), "the amount with its currency");
    assert_eq!(back.points_cancelled, bought.balance.expect("balance").available, "exactly what it earned");
    let again = ledger.return_purchase(give("r-2", vec![])).await.expect_err("nothing left");
    assert_eq!(again.message(), "lines: nothing of this purchase is left to return");
}

#[tokio::test]
async fn sums_that_would_overflow_and_checks_beyond_the_limits_are_bad_input() {
    let app = start().await;
    let client = client(&app, "+37061200202").await;
    let mut ledger = support::ledger(&app, &app.admin_token(TENANT));
    let huge = refused(&mut ledger, purchase("max", &client, eur(i64::MAX), vec![])).await;
    assert_eq!(fields(&huge), vec!["amount.minor_units"]);
    let overflow = pb::PurchaseLine {
        line_no: 1,
        quantity_milli: 1_000_000_000,
        unit_price: eur(100_000_000_000_000),
        ..Default::default()
    };
    let status = refused(&mut ledger, purchase("qty", &client, eur(1_000), vec![overflow])).await;
    assert_eq!(fields(&status), vec!["lines[0].amount", "lines"], "never silently taken as 0: {status:?}");
    let sum = refused(
        &mut ledger,
        purchase(
            "sum",
            &client,
            eur(2),
            vec![line(1, 1_000, 100_000_000_000_000), line(2, 1_000, 100_000_000_000_000)],
        ),
    )
    .await;
    assert!(fields(&sum).contains(&"lines".to_string()));
    let over_limit = refused(&mut ledger, purchase("limit", &client, eur(200_000_000), vec![])).await;
    assert_eq!(fields(&over_limit), vec!["amount.minor_units"]);
    assert!(over_limit.message().contains("1000000.00 EUR"), "{}", over_limit.message());
    let pln = refused(
        &mut ledger,
        purchase("pln", &client, Some(Money { minor_units: 1_000, currency: "PLN".into() }), vec![]),
    )
    .await;
    assert_eq!(pln.message(), "amount.currency: must be the programme's currency EUR");
    let none = refused(
        &mut ledger,
        purchase("none", &client, Some(Money { minor_units: 1_000, currency: String::new() }), vec![]),
    )
    .await;
    assert_eq!(fields(&none), vec!["amount.currency"]);
    for points in [i64::MAX, i64::MIN, 2_000_000] {
        let adjust = pb::AdjustPointsRequest {
            context: with_key(&format!("a{points}")),
            client_id: client.clone(),
            points,
            comment: "x".into(),
            ..Default::default()
        };
        let status = ledger.adjust_points(adjust).await.expect_err("out of bounds");
        assert_eq!(fields(&status), vec!["points"], "{points}: {status:?}");
    }
    let comment = "x".repeat(1 << 20);
    let adjust = pb::AdjustPointsRequest {
        context: with_key("big"),
        client_id: client.clone(),
        points: 5,
        comment,
        ..Default::default()
    };
    assert_eq!(fields(&ledger.adjust_points(adjust).await.expect_err("a 1 MiB comment")), vec!["comment"]);
    let balance = ledger
        .get_balance(pb::GetBalanceRequest { client_id: client, ..Default::default() })
        .await
        .expect("b")
        .into_inner();
    assert_eq!((balance.available, balance.used), (0, 0), "nothing was applied");
}

#[tokio::test]
async fn unknown_ids_and_text_postgres_cannot_store_are_refused_by_name() {
    let app = start().await;
    let known = client(&app, "+37061200203").await;
    let mut ledger = support::ledger(&app, &app.admin_token(TENANT));
    let nobody = uuid::Uuid::now_v7().to_string();
    let b = ledger.get_balance(pb::GetBalanceRequest { client_id: nobody.clone(), ..Default::default() }).await;
    assert_eq!(b.expect_err("no such client").code(), Code::NotFound);
    let adjust = pb::AdjustPointsRequest {
        context: with_key("n"),
        client_id: nobody.clone(),
        points: 5,
        comment: "x".into(),
        ..Default::default()
    };
    assert_eq!(ledger.adjust_points(adjust).await.expect_err("no such client").code(), Code::NotFound);
    assert_eq!(refused(&mut ledger, purchase("n", &nobody, eur(1_000), vec![])).await.code(), Code::NotFound);
    // Another tenant's client is no client of this one.
    let mut other = support::ledger(&app, &app.admin_token("globex"));
    let b = other.get_balance(pb::GetBalanceRequest { client_id: known.clone(), ..Default::default() }).await;
    assert_eq!(b.expect_err("another tenant's client").code(), Code::NotFound);
    let mut cards = support::cards(&app, &app.admin_token(TENANT));
    let listed = cards.list_client_cards(loyalty_api::card::v1::ListClientCardsRequest { client_id: nobody }).await;
    assert_eq!(listed.expect_err("no such client").code(), Code::NotFound);

    let mut nul = purchase("k", &known, eur(1_000), vec![]);
    nul.check_id = "A-1\0".into();
    nul.store_id = "VLN\0".into();
    let status = refused(&mut ledger, nul).await;
    assert_eq!(fields(&status), vec!["check_id", "store_id"]);
    assert!(status.message().contains("NUL"), "{}", status.message());
    let key = purchase("k\0", &known, eur(1_000), vec![]);
    assert_eq!(fields(&refused(&mut ledger, key).await), vec!["context.idempotency_key", "check_id"]);
    let by_card = pb::RecordPurchaseRequest {
        buyer: Some(Buyer::CardNumber("2000\u{0}".into())),
        ..purchase("c", &known, eur(1_000), vec![])
    };
    assert_eq!(fields(&refused(&mut ledger, by_card).await), vec!["card_number"]);
    let mut clients_api = support::clients(&app, &app.admin_token(TENANT));
    let search =
        clients_api.list_clients(clients::ListClientsRequest { query: "Ona\0".into(), ..Default::default() }).await;
    assert_eq!(fields(&search.expect_err("a NUL in a query")), vec!["query"]);
}

#[tokio::test]
async fn the_tenant_s_time_zone_is_one_of_the_iana_database_and_reaches_the_ledger() {
    let app = start().await;
    let admin = app.admin_token(TENANT);
    let mut clients_api = support::clients(&app, &admin);
    let settings = |zone: &str| clients::UpdateTenantSettingsRequest {
        settings: Some(clients::TenantSettings { time_zone: zone.into(), ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["time_zone".into()] }),
    };
    let bad = clients_api.update_tenant_settings(settings("Europe/Atlantis")).await.expect_err("no such zone");
    assert_eq!(fields(&bad), vec!["settings.time_zone"]);
    clients_api.update_tenant_settings(settings("Europe/Vilnius")).await.expect("Vilnius");
    let db = support::sql(&app, "ledger").await;
    let mut zone = String::new();
    for _ in 0..100 {
        let row =
            db.query_opt("SELECT time_zone FROM tenant_settings WHERE tenant_id = $1", &[&TENANT]).await.expect("zone");
        zone = row.map(|r| r.get(0)).unwrap_or_default();
        if zone == "Europe/Vilnius" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(zone, "Europe/Vilnius", "the ledger follows the tenant's settings from the client feed");
}

#[tokio::test]
async fn an_erased_client_s_name_leaves_the_ledger_s_notices() {
    let app = start().await;
    let client = client(&app, "+37061200205").await;
    let admin = app.admin_token(TENANT);
    let mut ledger = support::ledger(&app, &admin);
    let adjust = pb::AdjustPointsRequest {
        context: with_key("n"),
        client_id: client.clone(),
        points: 5,
        comment: "gift".into(),
        notify_by_sms: true,
        ..Default::default()
    };
    ledger.adjust_points(adjust).await.expect("credited with a notice");
    let notices = |ledger: &mut Ledger| {
        let mut ledger = ledger.clone();
        async move {
            let watch = WatchEventsRequest {
                replay_only: true,
                kinds: vec!["points_notification_requested".into()],
                ..Default::default()
            };
            let mut feed = ledger.watch_events(watch).await.expect("feed").into_inner();
            let mut texts = Vec::new();
            while let Some(e) = feed.next().await {
                if let Some(Payload::PointsNotificationRequested(n)) = e.expect("event").payload {
                    texts.push(n.text);
                }
            }
            texts
        }
    };
    assert!(notices(&mut ledger).await[0].starts_with("Ona,"), "the notice names the client");
    let mut c = support::clients(&app, &admin);
    c.erase_client(clients::EraseClientRequest {
        client_id: client.clone(),
        reason: "GDPR-1".into(),
        ..Default::default()
    })
    .await
    .expect("erased");
    let mut texts = notices(&mut ledger).await;
    for _ in 0..100 {
        if texts.iter().all(String::is_empty) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        texts = notices(&mut ledger).await;
    }
    assert_eq!(texts, vec![String::new()], "the name is scrubbed from the ledger's feed");
}
