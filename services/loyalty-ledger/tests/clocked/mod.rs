//! The ledger alone through gRPC with a clock the test moves, and the requests the tests send.
#![allow(dead_code)]
use loyalty_api::common::v1::{Money, RequestContext};
use loyalty_api::ledger::v1 as pb;
use loyalty_api::ledger::v1::ledger_service_client::LedgerServiceClient;
use loyalty_api::ledger::v1::record_purchase_request::Buyer;
use loyalty_platform::auth::BearerToken;
use loyalty_platform::clock::ManualClock;
use loyalty_platform::server::Services;
use loyalty_testkit::TestApp;
use std::sync::Arc;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use uuid::Uuid;

pub const TENANT: &str = "acme";

pub type Ledger = LedgerServiceClient<InterceptedService<Channel, BearerToken>>;

pub async fn start(clock: ManualClock) -> (TestApp, Ledger) {
    let app = TestApp::start(move |settings| {
        let clock = clock.clone();
        async move {
            let mut services = Services::new();
            loyalty_ledger::register_with_clock(
                &loyalty_ledger::Settings::with_platform(&settings),
                &mut services,
                Arc::new(clock),
            )
            .await?;
            Ok(services)
        }
    })
    .await
    .expect("the ledger starts against a real Postgres");
    let ledger = LedgerServiceClient::new(app.authed(&app.admin_token(TENANT)));
    (app, ledger)
}

pub fn key() -> Option<RequestContext> {
    Some(RequestContext { idempotency_key: Uuid::now_v7().to_string(), ..Default::default() })
}

pub fn eur(minor: i64) -> Option<Money> {
    Some(Money { minor_units: minor, currency: "EUR".into() })
}

pub async fn accrue(ledger: &mut Ledger, client: &str, points: i64) -> pb::Balance {
    let req = pb::AdjustPointsRequest {
        context: key(),
        client_id: client.into(),
        points,
        comment: "opening balance".into(),
        ..Default::default()
    };
    ledger.adjust_points(req).await.expect("accrual").into_inner().balance.expect("balance")
}

/// A check of two lines: two units at `unit`, and one more item making up the rest of `amount`.
pub fn paying_with_points(client: &str, amount: i64, points: i64) -> pb::RecordPurchaseRequest {
    let unit = amount / 4;
    let line = |line_no: i32, quantity_milli: i64, minor: i64| pb::PurchaseLine {
        line_no,
        sku: format!("SKU-{line_no}"),
        quantity_milli,
        amount: eur(minor),
        ..Default::default()
    };
    pb::RecordPurchaseRequest {
        context: key(),
        buyer: Some(Buyer::ClientId(client.into())),
        check_id: Uuid::now_v7().to_string(),
        store_id: "VLN-01".into(),
        amount: eur(amount),
        lines: vec![line(1, 2_000, 2 * unit), line(2, 1_000, amount - 2 * unit)],
        points_to_spend: points,
        ..Default::default()
    }
}

pub async fn publish(ledger: &mut Ledger, programme: pb::Programme) {
    let req = pb::UpdateProgrammeRequest { context: key(), programme: Some(programme) };
    ledger.update_programme(req).await.expect("programme");
}

/// Polls the balance until `done` holds (the sweep runs every half second on the test's clock).
pub async fn settle(ledger: &mut Ledger, client: &str, done: impl Fn(&pb::Balance) -> bool) -> pb::Balance {
    let mut balance = pb::Balance::default();
    for _ in 0..100 {
        balance = ledger
            .get_balance(pb::GetBalanceRequest { client_id: client.into(), ..Default::default() })
            .await
            .expect("b")
            .into_inner();
        if done(&balance) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    balance
}

pub fn states(b: &pb::Balance) -> (i64, i64, i64, i64) {
    (b.available, b.pending, b.used, b.expired)
}

/// A client the ledger knows, as the client feed tells it of a new client (the ledger runs alone).
pub async fn member(app: &TestApp) -> String {
    let id = Uuid::now_v7();
    let db = loyalty_testkit::support::sql(app, "ledger").await;
    db.execute(
        "INSERT INTO clients (tenant_id, client_id, registration_store_id) VALUES ($1, $2, 'VLN-01')",
        &[&TENANT, &id],
    )
    .await
    .expect("a known client");
    id.to_string()
}
