//! The ledger's rules through gRPC with exact points, on a clock the test moves: FIFO by expiry,
//! activation and expiry at their instants, partial returns after partial spending, levels, and
//! the events the sweeps publish.
mod clocked;

use clocked::*;
use loyalty_api::ledger::v1 as pb;
use loyalty_platform::clock::ManualClock;
use time::{Duration, OffsetDateTime};

#[tokio::test]
async fn levels_change_on_purchases_and_returns_and_say_so_on_the_feed() {
    let (app, mut ledger) = start(ManualClock::starting_at(OffsetDateTime::now_utc())).await;
    let gold = pb::Level {
        id: "gold".into(),
        name: "Gold".into(),
        threshold: 10_000,
        earn_multiplier_bp: 20_000,
        discount_bp: 500,
    };
    let base = pb::Level { id: "base".into(), name: "Base".into(), earn_multiplier_bp: 10_000, ..Default::default() };
    publish(
        &mut ledger,
        pb::Programme {
            points_per_unit_milli: 1_000,
            level_period_days: 365,
            levels: vec![base, gold],
            max_redeem_share_bp: 5_000,
            ..Default::default()
        },
    )
    .await;
    let client = member(&app).await;
    let small = ledger.record_purchase(paying_with_points(&client, 4_000, 0)).await.expect("small").into_inner();
    assert_eq!(small.balance.as_ref().map(|b| b.level_id.as_str()), Some("base"));
    let big = ledger.record_purchase(paying_with_points(&client, 8_000, 0)).await.expect("big").into_inner();
    let balance = big.balance.expect("balance");
    assert_eq!((balance.level_id.as_str(), balance.discount_bp), ("gold", 500), "120 EUR over the period is gold");
    let big_id = big.purchase.expect("purchase").id;
    let back = pb::ReturnPurchaseRequest { context: key(), purchase_id: big_id, ..Default::default() };
    let back = ledger.return_purchase(back).await.expect("returned").into_inner();
    assert_eq!(back.balance.map(|b| b.level_id), Some("base".into()), "the return takes gold away at once");

    let changes: Vec<(String, String)> =
        level_changes(&mut ledger).await.into_iter().map(|l| (l.previous_level_id, l.level_id)).collect();
    assert_eq!(
        changes,
        [("".to_string(), "base".to_string()), ("base".into(), "gold".into()), ("gold".into(), "base".into())],
        "one event per change of level, none for purchases that keep it"
    );
}

#[tokio::test]
async fn expiry_and_reservation_timeouts_are_on_the_feed() {
    let clock = ManualClock::starting_at(OffsetDateTime::now_utc());
    let (app, mut ledger) = start(clock.clone()).await;
    publish(
        &mut ledger,
        pb::Programme {
            points_per_unit_milli: 1_000,
            validity: Some(pb::Validity { rule: Some(pb::validity::Rule::Days(30)) }),
            reservation_ttl_seconds: 600,
            ..Default::default()
        },
    )
    .await;
    let client = member(&app).await;
    accrue(&mut ledger, &client, 300).await;
    let hold = pb::ReservePointsRequest {
        context: key(),
        client_id: client.clone(),
        points: 100,
        order_ref: "WEB-42".into(),
        ..Default::default()
    };
    ledger.reserve_points(hold).await.expect("held");

    clock.advance(Duration::minutes(11));
    let mut released = false;
    for _ in 0..100 {
        let b = ledger
            .get_balance(pb::GetBalanceRequest { client_id: client.clone(), ..Default::default() })
            .await
            .expect("b")
            .into_inner();
        if b.reserved == 0 {
            released = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(released, "the reservation times out after its 10 minutes");
    clock.advance(Duration::days(31));
    let mut balance = pb::Balance::default();
    for _ in 0..100 {
        balance = ledger
            .get_balance(pb::GetBalanceRequest { client_id: client.clone(), ..Default::default() })
            .await
            .expect("b")
            .into_inner();
        if balance.expired == 300 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        (balance.available, balance.reserved, balance.expired),
        (0, 0, 300),
        "released at 10 min, expired at 30 days"
    );

    use futures::StreamExt;
    let kinds = vec!["points_lot_changed".into(), "reservation_changed".into(), "balance_changed".into()];
    let replay = loyalty_api::events::v1::WatchEventsRequest { after_sequence: 0, kinds, replay_only: true };
    let mut seen = Vec::new();
    let mut stream = ledger.watch_events(replay).await.expect("feed").into_inner();
    while let Some(event) = stream.next().await {
        use loyalty_api::events::v1::event::Payload;
        match event.expect("event").payload {
            Some(Payload::PointsLotChanged(l)) => seen.push(format!("lot {} {}", l.change, l.points)),
            Some(Payload::ReservationChanged(r)) => {
                seen.push(format!("reservation {} {} {}", r.state, r.points, r.order_ref))
            }
            Some(Payload::BalanceChanged(b)) => {
                seen.push(format!("balance {} {} {}", b.available, b.reserved, b.expired))
            }
            _ => {}
        }
    }
    assert_eq!(
        seen,
        [
            "balance 300 0 0",
            "reservation held 100 WEB-42",
            "balance 200 100 0",
            "reservation timed_out 100 WEB-42",
            "balance 300 0 0",
            "lot expired 300",
            "balance 0 0 300",
        ],
        "the sweeps publish what they change"
    );
}

#[tokio::test]
async fn fifo_by_expiry_activation_expiry_and_partial_returns_with_exact_points() {
    let t0 = OffsetDateTime::now_utc();
    let clock = ManualClock::starting_at(t0);
    let (app, mut ledger) = start(clock.clone()).await;
    publish(
        &mut ledger,
        pb::Programme {
            points_per_unit_milli: 1_000,
            activation_delay_days: 1,
            validity: Some(pb::Validity { rule: Some(pb::validity::Rule::Days(30)) }),
            max_redeem_share_bp: 5_000,
            point_value_milli: 1_000,
            ..Default::default()
        },
    )
    .await;
    let client = member(&app).await;
    // Lot A: 100 points, pending for a day, then valid 30 days. Lot B: 50 points now, expiring in 10.
    let a = ledger.record_purchase(paying_with_points(&client, 10_000, 0)).await.expect("A").into_inner();
    assert_eq!(a.purchase.map(|p| p.points_earned), Some(100));
    let b = pb::AdjustPointsRequest {
        context: key(),
        client_id: client.clone(),
        points: 50,
        comment: "welcome gift".into(),
        expires_at: Some(loyalty_platform::convert::to_timestamp(t0 + Duration::days(10))),
        ..Default::default()
    };
    let b = ledger.adjust_points(b).await.expect("B").into_inner().balance.expect("balance");
    assert_eq!(states(&b), (50, 100, 0, 0));

    clock.advance(Duration::days(1) + Duration::seconds(1));
    let activated = settle(&mut ledger, &client, |b| b.pending == 0).await;
    assert_eq!(states(&activated), (150, 0, 0, 0), "A activates at its instant");

    // 20 EUR paying 70 points: B (first to expire) gives 50, A 20; 19.30 EUR paid with money earns 19.
    let c = ledger.record_purchase(paying_with_points(&client, 2_000, 70)).await.expect("C").into_inner();
    let c_id = c.purchase.as_ref().map(|p| p.id.clone()).unwrap_or_default();
    assert_eq!(c.purchase.map(|p| (p.points_spent, p.points_earned)), Some((70, 19)));
    assert_eq!(c.balance.as_ref().map(states), Some((80, 19, 70, 0)));

    clock.set(t0 + Duration::days(11));
    let later = settle(&mut ledger, &client, |b| b.pending == 0).await;
    assert_eq!(states(&later), (99, 0, 70, 0), "B was spent first, so nothing expired at day 10");

    // C returned a unit at a time: 500 of 2,000, then 500 more, then the rest.
    let give_back = |lines: Vec<pb::ReturnLine>| {
        let req = pb::ReturnPurchaseRequest { context: key(), purchase_id: c_id.clone(), lines, ..Default::default() };
        let mut l = ledger.clone();
        async move { l.return_purchase(req).await.expect("return").into_inner() }
    };
    let unit = || vec![pb::ReturnLine { line_no: 1, quantity_milli: 1_000 }];
    let first = give_back(unit()).await;
    assert_eq!((first.points_cancelled, first.points_refunded), (4, 17), "a quarter of 19 and of 70, rounded down");
    assert_eq!(first.balance.as_ref().map(states), Some((112, 0, 53, 0)));
    let second = give_back(unit()).await;
    assert_eq!((second.points_cancelled, second.points_refunded), (5, 18), "half of 19 and 70, less the first");
    let last = give_back(vec![]).await;
    assert_eq!((last.points_cancelled, last.points_refunded), (10, 35), "the last return settles the rest");
    assert_eq!(last.balance.as_ref().map(states), Some((150, 0, 0, 0)), "as if C never happened");

    // A's 80 left expire at day 31; the refunds (valid 30 days from day 11) stay.
    clock.set(t0 + Duration::days(31) + Duration::seconds(2));
    let expired = settle(&mut ledger, &client, |b| b.expired > 0).await;
    assert_eq!(states(&expired), (70, 0, 0, 80));
    let verified = ledger.verify_account(pb::VerifyAccountRequest { client_id: client }).await.expect("verify");
    assert!(verified.get_ref().consistent, "{:?}", verified.get_ref());
}

#[tokio::test]
async fn points_earned_just_after_local_midnight_belong_to_the_tenant_s_new_month() {
    // 00:30 on 1 February in Vilnius is 22:30 UTC on 31 January.
    let clock = ManualClock::starting_at(time::macros::datetime!(2026-01-31 22:30 UTC));
    let (app, mut ledger) = start(clock.clone()).await;
    let db = loyalty_testkit::support::sql(&app, "ledger").await;
    db.execute("INSERT INTO tenant_settings (tenant_id, time_zone) VALUES ($1, 'Europe/Vilnius')", &[&TENANT])
        .await
        .expect("the tenant's zone, as the client feed brings it");
    let rule = pb::Validity { rule: Some(pb::validity::Rule::EndOfMonthAfterMonths(0)) };
    publish(
        &mut ledger,
        pb::Programme {
            validity: Some(rule),
            points_per_unit_milli: 1_000,
            max_redeem_share_bp: 5_000,
            ..Default::default()
        },
    )
    .await;
    let client = member(&app).await;
    let bought = ledger.record_purchase(paying_with_points(&client, 10_000, 0)).await.expect("bought").into_inner();
    let expiry = bought.balance.and_then(|b| b.next_expiry_at).expect("an expiry");
    let end_of_february = time::macros::datetime!(2026-02-28 21:59:59.999999999 UTC);
    assert_eq!(
        (expiry.seconds, expiry.nanos),
        (end_of_february.unix_timestamp(), 999_999_999),
        "the end of February in Vilnius, not 90 minutes later at the end of January in UTC"
    );
}

#[tokio::test]
async fn levels_follow_a_programme_change_and_the_rolling_period_without_a_purchase() {
    let clock = ManualClock::starting_at(OffsetDateTime::now_utc());
    let (app, mut ledger) = start(clock.clone()).await;
    let programme = |gold_from: i64| pb::Programme {
        points_per_unit_milli: 1_000,
        level_period_days: 30,
        levels: vec![
            pb::Level { id: "base".into(), name: "Base".into(), earn_multiplier_bp: 10_000, ..Default::default() },
            pb::Level {
                id: "gold".into(),
                name: "Gold".into(),
                threshold: gold_from,
                earn_multiplier_bp: 10_000,
                discount_bp: 500,
            },
        ],
        ..Default::default()
    };
    publish(&mut ledger, programme(10_000)).await;
    let client = member(&app).await;
    let bought = ledger.record_purchase(paying_with_points(&client, 12_000, 0)).await.expect("purchase");
    assert_eq!(bought.into_inner().balance.map(|b| b.level_id), Some("gold".into()));

    // Gold now starts at 200 EUR: the review takes it away without a purchase, and gives it back
    // when the threshold returns.
    publish(&mut ledger, programme(20_000)).await;
    assert_eq!(settle(&mut ledger, &client, |b| b.level_id == "base").await.level_id, "base", "after the raise");
    publish(&mut ledger, programme(10_000)).await;
    assert_eq!(settle(&mut ledger, &client, |b| b.level_id == "gold").await.level_id, "gold", "after the cut");
    // A month later the purchase has left the 30-day period: the daily review moves the client down.
    clock.advance(Duration::days(31));
    assert_eq!(settle(&mut ledger, &client, |b| b.level_id == "base").await.level_id, "base", "after 31 days");

    let changes: Vec<(String, String, String)> =
        level_changes(&mut ledger).await.into_iter().map(|l| (l.previous_level_id, l.level_id, l.level_name)).collect();
    let moves: Vec<(&str, &str)> = changes.iter().map(|(a, b, _)| (a.as_str(), b.as_str())).collect();
    assert_eq!(
        moves,
        [("", "gold"), ("gold", "base"), ("base", "gold"), ("gold", "base")],
        "each move published once, with the level's name: {changes:?}"
    );
    assert!(changes.iter().all(|(_, level, name)| name == if level == "gold" { "Gold" } else { "Base" }));
}

/// Every `LevelChanged` on the ledger's feed, oldest first.
async fn level_changes(ledger: &mut Ledger) -> Vec<loyalty_api::events::v1::LevelChanged> {
    use futures::StreamExt;
    let request = loyalty_api::events::v1::WatchEventsRequest {
        after_sequence: 0,
        kinds: vec!["level_changed".into()],
        replay_only: true,
    };
    let feed = ledger.watch_events(request).await.expect("feed").into_inner();
    feed.filter_map(|e| async move {
        match e.expect("event").payload {
            Some(loyalty_api::events::v1::event::Payload::LevelChanged(l)) => Some(l),
            _ => None,
        }
    })
    .collect()
    .await
}
