//! The segment service beside the client, card and ledger services whose feeds it follows, as
//! `loyalty dev up` runs them.
#![allow(dead_code)]
use loyalty_api::client::v1 as clients;
use loyalty_api::filter::v1::{AllClients, Audience, audience::Source};
use loyalty_api::segment::v1 as pb;
use loyalty_platform::server::Services;
use loyalty_testkit::TestApp;
use loyalty_testkit::support::{self, Segments, TENANT};

pub async fn start() -> TestApp {
    TestApp::start(|settings| async move {
        let mut services = Services::new();
        loyalty_client::register(&loyalty_client::Settings::with_platform(&settings), &mut services).await?;
        loyalty_card::register(&loyalty_card::Settings::with_platform(&settings), &mut services).await?;
        loyalty_ledger::register(&loyalty_ledger::Settings::with_platform(&settings), &mut services).await?;
        let mut segment = loyalty_segment::Settings::with_platform(&settings);
        segment.segments.follow_every_ms = 20;
        loyalty_segment::register(&segment, &mut services).await?;
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
