//! Scheduled and recurring campaigns (ME-4) on the messaging service's clock: a Monday-morning
//! campaign in Vilnius runs at 10:00 local time, once, and again the next Monday as a new run.
mod suite;

use loyalty_api::common::v1::ConsentStatus::Subscribed;
use loyalty_api::messaging::v1 as pb;
use loyalty_platform::clock::ManualClock;
use loyalty_platform::convert::{from_timestamp, to_timestamp};
use loyalty_testkit::smtp::SmtpServer;
use loyalty_testkit::support::{self, TENANT};
use std::time::Duration;
use suite::*;
use time::macros::datetime;

fn scheduled(name: &str, when: pb::schedule::When) -> pb::Campaign {
    pb::Campaign { schedule: Some(pb::Schedule { when: Some(when) }), ..campaign(name, everyone()) }
}

#[tokio::test]
async fn a_monday_campaign_runs_at_ten_vilnius_time_and_again_next_week() {
    // Monday 7 December 2026, 09:59 in Vilnius (07:59 UTC).
    let clock = ManualClock::starting_at(datetime!(2026-12-07 07:59 UTC));
    let app = start_with_clock(std::sync::Arc::new(clock.clone())).await;
    let smtp = SmtpServer::start();
    use_smtp(&app, TENANT, &smtp).await;
    client(&app, TENANT, "Ona", "ona@example.lt", Subscribed, "").await;
    settle(&app, TENANT, 1).await;
    segment_sees(&app, TENANT, 1).await;
    let mut api = admin(&app);
    let weekly = scheduled("Pirmadienio rytas", pb::schedule::When::Cron("0 10 * * MON".into()));
    let c =
        api.create_campaign(pb::CreateCampaignRequest { campaign: Some(weekly) }).await.expect("created").into_inner();
    let started = api
        .start_campaign(pb::StartCampaignRequest { campaign_id: c.id.clone(), ..Default::default() })
        .await
        .expect("scheduled");
    let started = started.into_inner();
    assert_eq!(started.state(), pb::CampaignState::Scheduled);
    assert_eq!(started.next_run_at.as_ref().and_then(from_timestamp), Some(datetime!(2026-12-07 08:00 UTC)));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(smtp.mails().is_empty(), "nothing before ten");

    clock.set(datetime!(2026-12-07 08:00:30 UTC));
    assert_eq!(smtp.wait_for(1, Duration::from_secs(20)).await.len(), 1);
    let back = until_state(&mut api, &c.id, pb::CampaignState::Scheduled).await;
    assert_eq!(
        back.next_run_at.as_ref().and_then(from_timestamp),
        Some(datetime!(2026-12-14 08:00 UTC)),
        "next Monday"
    );
    let first_run = back.last_run_id.clone();

    clock.set(datetime!(2026-12-14 08:00:10 UTC));
    let mails = smtp.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(mails.len(), 2, "a new run is a new occurrence: Ona gets next Monday's message too");
    let again = until_state(&mut api, &c.id, pb::CampaignState::Scheduled).await;
    assert_ne!(again.last_run_id, first_run);
    assert_eq!(stats(&mut api, &c.id).await.sent, 2);
    // Cancelled, it runs no more.
    api.cancel_campaign(pb::CancelCampaignRequest { campaign_id: c.id.clone() }).await.expect("cancelled");
    clock.set(datetime!(2026-12-21 08:00:10 UTC));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.mails().len(), 2);
}

#[tokio::test]
async fn a_campaign_at_a_time_runs_once_then_and_bad_schedules_are_named() {
    let clock = ManualClock::starting_at(datetime!(2026-12-07 12:00 UTC));
    let app = start_with_clock(std::sync::Arc::new(clock.clone())).await;
    let smtp = SmtpServer::start();
    use_smtp(&app, TENANT, &smtp).await;
    client(&app, TENANT, "Ona", "ona@example.lt", Subscribed, "").await;
    settle(&app, TENANT, 1).await;
    segment_sees(&app, TENANT, 1).await;
    let mut api = admin(&app);
    let at = |t: time::OffsetDateTime| pb::schedule::When::At(to_timestamp(t));
    let past = api
        .create_campaign(pb::CreateCampaignRequest {
            campaign: Some(scheduled("Vakar", at(datetime!(2026-12-06 12:00 UTC)))),
        })
        .await;
    assert_eq!(support::fields(&past.expect_err("in the past")), vec!["campaign.schedule.at".to_string()]);
    let bad = api
        .create_campaign(pb::CreateCampaignRequest {
            campaign: Some(scheduled("Blogai", pb::schedule::When::Cron("0 25 * * *".into()))),
        })
        .await;
    let bad = bad.expect_err("bad cron");
    assert_eq!(support::fields(&bad), vec!["campaign.schedule.cron".to_string()]);
    assert!(bad.message().contains("hour"), "{}", bad.message());

    let once = scheduled("Vakarop", at(datetime!(2026-12-07 16:00 UTC)));
    let c =
        api.create_campaign(pb::CreateCampaignRequest { campaign: Some(once) }).await.expect("created").into_inner();
    api.start_campaign(pb::StartCampaignRequest { campaign_id: c.id.clone(), ..Default::default() })
        .await
        .expect("scheduled");
    clock.set(datetime!(2026-12-07 16:00:01 UTC));
    assert_eq!(smtp.wait_for(1, Duration::from_secs(20)).await.len(), 1);
    let done = until_state(&mut api, &c.id, pb::CampaignState::Completed).await;
    assert!(done.next_run_at.is_none());
}
