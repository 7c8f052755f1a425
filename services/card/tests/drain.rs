//! A stopping replica ends its live feeds at once instead of waiting out the drain timeout: its
//! followers are told to watch again (UNAVAILABLE) and resume elsewhere from their last sequence, so
//! a rollout neither stalls for the whole drain nor loses an event.
mod support;

use futures::StreamExt;
use loyalty_api::events::v1::WatchEventsRequest;
use loyalty_platform::server::Services;
use loyalty_testkit::{TestApp, test_settings};
use std::time::Duration;

#[tokio::test]
async fn stopping_ends_live_feeds_with_unavailable_instead_of_waiting_out_the_drain() {
    let mut settings = test_settings().await.expect("a PostgreSQL for tests");
    // Far longer than the guard below: stopping must not depend on it.
    settings.server.drain_timeout_ms = 600_000;
    let app = TestApp::start_with(settings, |settings| async move {
        let mut services = Services::new();
        loyalty_client::register(&loyalty_client::Settings::with_platform(&settings), &mut services).await?;
        loyalty_card::register(&loyalty_card::Settings::with_platform(&settings), &mut services).await?;
        Ok(services)
    })
    .await
    .expect("the client and card services start");
    let mut cards = support::cards(&app, support::TENANT);
    let mut live = cards.watch_events(WatchEventsRequest::default()).await.expect("a live feed").into_inner();

    let stopped = tokio::time::timeout(Duration::from_secs(60), app.stop()).await;
    stopped.expect("the server stops without waiting out its ten-minute drain").expect("stop");
    let end = tokio::time::timeout(Duration::from_secs(10), live.next()).await.expect("the feed ends");
    match end {
        Some(Err(status)) => {
            assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
            assert!(status.message().contains("watch again"), "{status:?}");
        }
        other => panic!("the live feed should end with UNAVAILABLE, got {other:?}"),
    }
}
