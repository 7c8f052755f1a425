//! The segment service beside the client, card and ledger services whose feeds it follows, as
//! `loyalty dev up` runs them.
#![allow(dead_code)]
use loyalty_api::client::v1 as clients;
use loyalty_api::filter::v1::{AllClients, Audience, audience::Source};
use loyalty_api::ledger::v1 as ledger;
use loyalty_api::segment::v1 as pb;
use loyalty_platform::server::Services;
use loyalty_testkit::TestApp;
use loyalty_testkit::support::{self, Segments, TENANT, eur, with_key};

pub async fn start() -> TestApp {
    start_with_clock(std::sync::Arc::new(loyalty_platform::clock::SystemClock)).await
}

/// The suite with the segment service's "now" on `clock` (its days, its midnight).
pub async fn start_with_clock(clock: loyalty_platform::clock::SharedClock) -> TestApp {
    TestApp::start(move |settings| async move {
        let mut services = Services::new();
        loyalty_client::register(&loyalty_client::Settings::with_platform(&settings), &mut services).await?;
        loyalty_card::register(&loyalty_card::Settings::with_platform(&settings), &mut services).await?;
        loyalty_ledger::register(&loyalty_ledger::Settings::with_platform(&settings), &mut services).await?;
        let mut segment = loyalty_segment::Settings::with_platform(&settings);
        segment.segments.follow_every_ms = 20;
        segment.segments.automatic_every_s = 0;
        loyalty_segment::register_with_clock(&segment, &mut services, clock).await?;
        Ok(services)
    })
    .await
    .expect("client, card, ledger and segment start against a real Postgres")
}

pub fn everyone() -> Option<Audience> {
    Some(Audience { source: Some(Source::AllClients(AllClients {})) })
}

/// A filter in its text form, as the audience of a call.
pub async fn filter(api: &mut Segments, text: &str) -> Option<Audience> {
    let parsed = api.parse_filter(pb::ParseFilterRequest { filter_text: text.into() }).await.expect("parses");
    let filter = parsed.into_inner().filter;
    Some(Audience { source: filter.map(Source::Filter) })
}

/// How many clients `audience` selects for `api`'s caller.
pub async fn count(api: &mut Segments, audience: Option<Audience>) -> Result<i64, tonic::Status> {
    api.count_clients(pb::CountClientsRequest { audience }).await.map(|r| r.into_inner().count)
}

/// Waits until the segment service has applied what its feeds carry: `expected` clients for the
/// admin of `tenant`.
pub async fn settle(app: &TestApp, tenant: &str, expected: i64) {
    let mut api = support::segments(app, &app.admin_token(tenant));
    let mut seen = -1;
    for _ in 0..200 {
        seen = count(&mut api, everyone()).await.unwrap_or(-1);
        if seen == expected {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the segment service saw {seen} clients of {tenant}, expected {expected}");
}

/// A client of `tenant` registered in `store`.
pub async fn client(app: &TestApp, tenant: &str, person: clients::Client) -> String {
    let mut api = support::clients(app, &app.admin_token(tenant));
    if !person.registration_store_id.is_empty() {
        let store =
            clients::Store { id: person.registration_store_id.clone(), name: "Store".into(), ..Default::default() };
        let _ = api.create_store(clients::CreateStoreRequest { store: Some(store) }).await;
    }
    api.create_client(clients::CreateClientRequest { client: Some(person), ..Default::default() })
        .await
        .expect("client")
        .into_inner()
        .id
}

pub const ADMIN: &str = TENANT;

pub const OTHER: &str = "globex";

pub fn person(first: &str, gender: clients::Gender, city: &str, store: &str, phone: &str) -> clients::Client {
    clients::Client {
        first_name: first.into(),
        last_name: "Testaitė".into(),
        gender: gender as i32,
        city: city.into(),
        registration_store_id: store.into(),
        phone: phone.into(),
        email: format!("{}@example.lt", first.to_lowercase()),
        ..Default::default()
    }
}

pub async fn buy(app: &TestApp, client: &str, store: &str, minor: i64, key: &str) {
    let request = ledger::RecordPurchaseRequest {
        context: with_key(key),
        buyer: Some(ledger::record_purchase_request::Buyer::ClientId(client.into())),
        check_id: key.into(),
        store_id: store.into(),
        amount: eur(minor),
        payment_method: ledger::PaymentMethod::Card as i32,
        ..Default::default()
    };
    support::ledger(app, &app.admin_token(TENANT)).record_purchase(request).await.expect("purchase");
}

pub struct Town {
    pub app: TestApp,
    pub ona: String,
    pub jonas: String,
    pub egle: String,
}

/// Ona (Vilnius, VLN-01, bought 100.00 there), Jonas (Kaunas, KNS-01, bought 50.00 in VLN-01),
/// Eglė (Kaunas, KNS-01, never bought); another tenant's Zita.
pub async fn town() -> Town {
    let app = start().await;
    use clients::Gender::{Female, Male};
    let ona = client(&app, TENANT, person("Ona", Female, "Vilnius", "VLN-01", "+37061200501")).await;
    let jonas = client(&app, TENANT, person("Jonas", Male, "Kaunas", "KNS-01", "+37061200502")).await;
    let egle = client(&app, TENANT, person("Eglė", Female, "Kaunas", "KNS-01", "+37061200503")).await;
    client(&app, OTHER, person("Zita", Female, "Vilnius", "", "+37061200504")).await;
    buy(&app, &ona, "VLN-01", 10_000, "f-1").await;
    buy(&app, &jonas, "VLN-01", 5_000, "f-2").await;
    settle(&app, TENANT, 3).await;
    settle(&app, OTHER, 1).await;
    // The purchases arrive on the ledger's feed: wait for them too.
    let mut api = admin(&app);
    for _ in 0..200 {
        let bought = filter(&mut api, "purchases.count >= 1").await;
        if count(&mut api, bought).await.unwrap_or(0) == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Town { app, ona, jonas, egle }
}

pub fn admin(app: &TestApp) -> Segments {
    support::segments(app, &app.admin_token(TENANT))
}
