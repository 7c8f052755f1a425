//! The ledger beside the client and card services, as `loyalty dev up` runs them.
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
