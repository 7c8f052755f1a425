//! The card service with the client service beside it, as in `loyalty dev up`.
#![allow(dead_code)]
use loyalty_api::card::v1 as pb;
use loyalty_api::client::v1 as cpb;
use loyalty_platform::server::Services;
use loyalty_testkit::TestApp;
#[allow(unused_imports)]
pub use loyalty_testkit::support::{Cards, Clients, TENANT, fields, with_key};

pub async fn start() -> TestApp {
    TestApp::start(|settings| async move {
        let mut services = Services::new();
        loyalty_client::register(&loyalty_client::Settings::with_platform(&settings), &mut services).await?;
        loyalty_card::register(&loyalty_card::Settings::with_platform(&settings), &mut services).await?;
        Ok(services)
    })
    .await
    .expect("the client and card services start against a real Postgres")
}

pub fn cards(app: &TestApp, tenant: &str) -> Cards {
    loyalty_testkit::support::cards(app, &app.admin_token(tenant))
}

pub fn clients(app: &TestApp, tenant: &str) -> Clients {
    loyalty_testkit::support::clients(app, &app.admin_token(tenant))
}

pub async fn client(app: &TestApp, tenant: &str, phone: &str) -> String {
    let c = cpb::Client {
        first_name: "Ona".into(),
        last_name: "Kortelė".into(),
        phone: phone.into(),
        ..Default::default()
    };
    clients(app, tenant)
        .create_client(cpb::CreateClientRequest { client: Some(c), ..Default::default() })
        .await
        .expect("client")
        .into_inner()
        .id
}

pub fn issue(client_id: &str, number: &str) -> pb::IssueCardRequest {
    pb::IssueCardRequest {
        card: Some(pb::Card { client_id: client_id.into(), number: number.into(), ..Default::default() }),
        ..Default::default()
    }
}

pub async fn lookup_number(api: &mut Cards, number: &str) -> Result<pb::LookupCardResponse, tonic::Status> {
    use pb::lookup_card_request::Key;
    api.lookup_card(pb::LookupCardRequest { key: Some(Key::Number(number.into())), ..Default::default() })
        .await
        .map(|r| r.into_inner())
}
