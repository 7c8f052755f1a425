//! Exactness through gRPC, as POS systems and web shops drive the ledger: concurrent redemptions on
//! one account never overspend, random workloads (purchases paying with points, returns,
//! reservations, manual adjustments, time passing) always reconcile with the entries, and
//! verification holds while the account changes.
mod clocked;

use clocked::*;
use loyalty_api::ledger::v1 as pb;
use loyalty_platform::clock::ManualClock;
use time::{Duration, OffsetDateTime};
use tonic::Code;

#[tokio::test]
async fn sixty_four_concurrent_redemptions_never_overspend() {
    let (app, mut ledger) = start(ManualClock::starting_at(OffsetDateTime::now_utc())).await;
    // Redemptions only: a programme that earns nothing, so the balance moves by what is spent.
    publish(&mut ledger, pb::Programme { points_per_unit_milli: 0, max_redeem_share_bp: 10_000, ..Default::default() })
        .await;
    let client = member(&app).await;
    let start = accrue(&mut ledger, &client, 5_000).await.available;
    assert_eq!(start, 5_000);

    let redemptions = (0..64i64).map(|i| {
        let mut l = ledger.clone();
        let points = 60 + (i * 37) % 81; // 60..=140, 6,357 wanted in all
        let req = paying_with_points(&client, 20_000, points);
        async move { (points, l.record_purchase(req).await) }
    });
    let results = futures::future::join_all(redemptions).await;
    let mut accepted = 0;
    for (points, result) in &results {
        match result {
            Ok(answer) => {
                let answer = answer.get_ref();
                assert_eq!(answer.purchase.as_ref().map(|p| p.points_spent), Some(*points));
                assert!(answer.balance.as_ref().is_some_and(|b| b.available >= 0), "{answer:?}");
                accepted += points;
            }
            Err(status) => assert_eq!(status.code(), Code::FailedPrecondition, "a refusal: {status:?}"),
        }
    }
    let balance = ledger
        .get_balance(pb::GetBalanceRequest { client_id: client.clone(), ..Default::default() })
        .await
        .expect("balance");
    let balance = balance.into_inner();
    assert_eq!(balance.available, start - accepted, "final = start - sum of accepted");
    assert_eq!(balance.used, accepted);
    assert!(start - accepted < 140, "refused only when the rest could not pay: {} left", start - accepted);
    let refused = results.iter().filter(|(_, r)| r.is_err()).count();
    assert!(refused > 0, "6,357 points wanted from 5,000: someone must be refused");
    let verified = ledger.verify_account(pb::VerifyAccountRequest { client_id: client }).await.expect("verify");
    assert!(verified.get_ref().consistent, "{:?}", verified.get_ref());
}

/// A small deterministic generator (SplitMix64): a failing seed replays exactly.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> i64 {
        (self.next() % n) as i64
    }
}

/// What the answers said, summed: the test's own books to hold the ledger's against.
#[derive(Default, Debug)]
struct Books {
    earned: i64,
    cancelled: i64,
    purchases: Vec<(String, i64)>,
    reservations: Vec<(String, i64)>,
    log: Vec<String>,
}

const POLICIES: [pb::ReturnPolicy; 3] =
    [pb::ReturnPolicy::WithinBalance, pb::ReturnPolicy::OnlyPending, pb::ReturnPolicy::AllowDebt];

async fn one_step(ledger: &mut Ledger, clock: &ManualClock, client: &str, dice: &mut Dice, books: &mut Books) {
    let step = dice.below(7);
    let outcome: Result<String, tonic::Status> = match step {
        0 | 1 => {
            let amount = 100 + dice.below(20_000);
            let spend = if dice.below(2) == 0 { 0 } else { 1 + dice.below(600) };
            ledger.record_purchase(paying_with_points(client, amount, spend)).await.map(|r| {
                let p = r.into_inner().purchase.unwrap_or_default();
                books.earned += p.points_earned;
                books.purchases.push((p.id.clone(), amount));
                format!("purchase {amount} spending {spend}: earned {}", p.points_earned)
            })
        }
        2 if !books.purchases.is_empty() => {
            let (id, amount) = books.purchases[dice.below(books.purchases.len() as u64) as usize].clone();
            // Everything left, or one unit of the first line (refused once both are back).
            let lines = match dice.below(3) {
                0 => vec![],
                _ => vec![pb::ReturnLine { line_no: 1, quantity_milli: 1_000 }],
            };
            let req = pb::ReturnPurchaseRequest { context: key(), purchase_id: id, lines, ..Default::default() };
            ledger.return_purchase(req).await.map(|r| {
                let r = r.into_inner();
                // Refunded points go back from used to available: not new earnings.
                books.cancelled += r.points_cancelled;
                format!("return of {amount}: cancelled {} refunded {}", r.points_cancelled, r.points_refunded)
            })
        }
        3 => {
            let points = 1 + dice.below(500);
            let req =
                pb::ReservePointsRequest { context: key(), client_id: client.into(), points, ..Default::default() };
            ledger.reserve_points(req).await.map(|r| {
                books.reservations.push((r.into_inner().id, points));
                format!("reserve {points}")
            })
        }
        4 if !books.reservations.is_empty() => {
            let (id, held) = books.reservations.swap_remove(dice.below(books.reservations.len() as u64) as usize);
            if dice.below(3) > 0 {
                let points = dice.below(held as u64 + 1);
                let req = pb::CommitReservationRequest { context: key(), reservation_id: id, points };
                ledger.commit_reservation(req).await.map(|_| format!("commit {points}"))
            } else {
                let req = pb::CancelReservationRequest { context: key(), reservation_id: id };
                ledger.cancel_reservation(req).await.map(|_| "cancel".to_string())
            }
        }
        5 => {
            let points = dice.below(1_000) - 300;
            let req = pb::AdjustPointsRequest {
                context: key(),
                client_id: client.into(),
                points,
                comment: "service desk".into(),
                ..Default::default()
            };
            ledger.adjust_points(req).await.map(|_| {
                if points > 0 {
                    books.earned += points;
                }
                format!("adjust {points}")
            })
        }
        _ => {
            let hours = dice.below(24 * 12);
            clock.advance(Duration::hours(hours));
            Ok(format!("time +{hours} h"))
        }
    };
    match outcome {
        Ok(what) => books.log.push(what),
        // Refusals are part of the workload; they must be the documented ones and change nothing.
        Err(s) => {
            let expected = [Code::FailedPrecondition, Code::InvalidArgument, Code::NotFound];
            assert!(expected.contains(&s.code()), "unexpected refusal after {:?}: {s:?}", books.log);
            books.log.push(format!("refused: {}", s.message()));
        }
    }
}

#[tokio::test]
async fn random_workloads_always_reconcile_with_the_entries() {
    let clock = ManualClock::starting_at(OffsetDateTime::now_utc());
    let (app, mut ledger) = start(clock.clone()).await;
    let sequences = 24u64;
    let mut applied: std::collections::BTreeMap<String, usize> = Default::default();
    for seed in 0..sequences {
        let mut dice = Dice(seed);
        let policy = POLICIES[(seed % 3) as usize];
        let programme = pb::Programme {
            points_per_unit_milli: 1_000,
            activation_delay_days: dice.below(3) as i32,
            validity: Some(pb::Validity { rule: Some(pb::validity::Rule::Days(3 + dice.below(20) as i32)) }),
            max_redeem_share_bp: 5_000,
            return_policy: policy as i32,
            point_value_milli: 1_000,
            reservation_ttl_seconds: 3_600 * (1 + dice.below(48) as i32),
            ..Default::default()
        };
        publish(&mut ledger, programme).await;
        let client = member(&app).await;
        let mut books = Books::default();
        for _ in 0..30 {
            one_step(&mut ledger, &clock, &client, &mut dice, &mut books).await;
        }
        let b = ledger
            .get_balance(pb::GetBalanceRequest { client_id: client.clone(), ..Default::default() })
            .await
            .expect("balance");
        let b = b.into_inner();
        let verified = ledger.verify_account(pb::VerifyAccountRequest { client_id: client.clone() }).await;
        let verified = verified.expect("verify").into_inner();
        let context = format!("seed {seed}, {policy:?}: {:#?}\n{b:?}", books.log);
        assert!(verified.consistent, "entries disagree with the balances ({verified:?}), {context}");
        assert_eq!(
            books.earned,
            b.available + b.pending + b.reserved + b.used + b.expired + books.cancelled,
            "every earned point is in exactly one state, {context}"
        );
        assert!(b.available >= 0 && b.pending >= 0 && b.reserved >= 0 && b.debt >= 0, "{context}");
        for what in &books.log {
            *applied.entry(what.split(' ').next().unwrap_or_default().to_string()).or_default() += 1;
        }
    }
    // The workload did what it says: every kind of change was applied, not only refused.
    for kind in ["purchase", "return", "reserve", "commit", "cancel", "adjust"] {
        assert!(applied.get(kind).copied().unwrap_or(0) >= 5, "too few {kind}s applied: {applied:?}");
    }
}

#[tokio::test]
async fn verification_never_reports_a_difference_while_the_account_changes() {
    let (app, mut ledger) = start(ManualClock::starting_at(OffsetDateTime::now_utc())).await;
    let client = member(&app).await;
    accrue(&mut ledger, &client, 10_000).await;
    let shopping = {
        let mut l = ledger.clone();
        let client = client.clone();
        tokio::spawn(async move {
            for i in 0..150 {
                let req = paying_with_points(&client, 2_000 + i, 10);
                l.record_purchase(req).await.expect("purchase");
            }
        })
    };
    let mut checks = 0;
    while !shopping.is_finished() {
        let verified = ledger.verify_account(pb::VerifyAccountRequest { client_id: client.clone() }).await;
        let verified = verified.expect("verify").into_inner();
        assert!(verified.consistent, "a consistent account verified as broken mid-change: {verified:?}");
        checks += 1;
    }
    shopping.await.expect("shopping");
    assert!(checks > 10, "verified while purchases ran ({checks} checks)");
}
