//! Starting the client service for a test and talking to it as users do.
#![allow(dead_code)]
use loyalty_api::client::v1 as pb;
use loyalty_platform::server::Services;
use loyalty_testkit::TestApp;
#[allow(unused_imports)]
pub use loyalty_testkit::support::{TENANT, fields, with_key};

pub type Client = loyalty_testkit::support::Clients;

pub async fn start() -> TestApp {
    TestApp::start(|settings| async move {
        let mut services = Services::new();
        loyalty_client::register(&loyalty_client::Settings::with_platform(&settings), &mut services).await?;
        // Card numbers identify clients (CL-2, CL-7): the suite always has the card service.
        loyalty_card::register(&loyalty_card::Settings::with_platform(&settings), &mut services).await?;
        Ok(services)
    })
    .await
    .expect("the client service starts against a real Postgres")
}

pub fn client(app: &TestApp, token: &str) -> Client {
    loyalty_testkit::support::clients(app, token)
}

/// A client of `TENANT` with every right.
pub fn admin(app: &TestApp) -> Client {
    client(app, &app.admin_token(TENANT))
}

pub fn person(first: &str, last: &str, phone: &str) -> pb::Client {
    pb::Client { first_name: first.into(), last_name: last.into(), phone: phone.into(), ..Default::default() }
}

pub fn create(client: pb::Client) -> pb::CreateClientRequest {
    pb::CreateClientRequest { client: Some(client), ..Default::default() }
}

pub async fn add(api: &mut Client, first: &str, last: &str, phone: &str) -> pb::Client {
    api.create_client(create(person(first, last, phone))).await.expect("created").into_inner()
}

pub async fn add_store(api: &mut Client, id: &str) {
    let store = pb::Store { id: id.into(), name: format!("Store {id}"), city: "Vilnius".into(), ..Default::default() };
    api.create_store(pb::CreateStoreRequest { store: Some(store) }).await.expect("store created");
}

pub async fn search(api: &mut Client, query: &str) -> pb::ListClientsResponse {
    api.list_clients(pb::ListClientsRequest { query: query.into(), ..Default::default() })
        .await
        .expect("list")
        .into_inner()
}

pub async fn total(api: &mut Client) -> i64 {
    search(api, "").await.page.expect("page info").total_size
}

pub fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask { paths: paths.iter().map(|p| p.to_string()).collect() })
}

/// A plain SQL connection to the test database, in the client schema.
pub async fn sql(app: &TestApp) -> tokio_postgres::Client {
    loyalty_testkit::support::sql(app, "client").await
}
