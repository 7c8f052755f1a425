//! The ledger beside the client and card services, as `loyalty dev up` runs them.
#![allow(dead_code)]
use loyalty_platform::server::Services;
use loyalty_testkit::TestApp;

pub async fn start() -> TestApp {
    TestApp::start(|settings| async move {
        let mut services = Services::new();
        loyalty_client::register(&loyalty_client::Settings::with_platform(&settings), &mut services).await?;
        loyalty_card::register(&loyalty_card::Settings::with_platform(&settings), &mut services).await?;
        loyalty_ledger::register(&loyalty_ledger::Settings::with_platform(&settings), &mut services).await?;
        Ok(services)
    })
    .await
    .expect("client, card and ledger start against a real Postgres")
}

/// A member of `TENANT` with a card: (client id, card).
pub async fn member(app: &TestApp, phone: &str) -> (String, loyalty_api::card::v1::Card) {
    use loyalty_api::{card::v1 as cards, client::v1 as clients};
    let admin = app.admin_token(loyalty_testkit::support::TENANT);
    let person = clients::Client {
        first_name: "Ona".into(),
        last_name: "Pirkėja".into(),
        phone: phone.into(),
        ..Default::default()
    };
    let client = loyalty_testkit::support::clients(app, &admin)
        .create_client(clients::CreateClientRequest { client: Some(person), ..Default::default() })
        .await
        .expect("client")
        .into_inner();
    let card = cards::Card { client_id: client.id.clone(), ..Default::default() };
    let card = loyalty_testkit::support::cards(app, &admin)
        .issue_card(cards::IssueCardRequest { card: Some(card), ..Default::default() })
        .await
        .expect("card")
        .into_inner();
    (client.id, card)
}
