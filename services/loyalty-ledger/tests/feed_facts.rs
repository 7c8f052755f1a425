//! The ledger's feed is a complete source of loyalty facts: a read model replayed from sequence 0
//! answers as the ledger's own API does (balances, all-time totals, last accrual and write-off,
//! level, next expiry; each purchase's card and returned amount) after purchases by card, a return
//! with lines, a manual accrual and write-off, a reservation committed in part, and a merge.
mod suite;
use futures::StreamExt;
use loyalty_api::client::v1 as clients;
use loyalty_api::events::v1::{self as ev, WatchEventsRequest, event::Payload};
use loyalty_api::ledger::v1 as pb;
use loyalty_api::ledger::v1::record_purchase_request::Buyer;
use loyalty_testkit::support::{self, Ledger, TENANT, eur, with_key};
use std::collections::HashMap;

/// What a read model keeps of the ledger's feed.
#[derive(Default)]
struct Facts {
    balances: HashMap<String, ev::BalanceChanged>,
    levels: HashMap<String, String>,
    /// purchase id → (card id, amount, returned so far, returned lines)
    purchases: HashMap<String, (String, i64, i64, Vec<ev::PurchaseLineFacts>)>,
    cancelled_lots: Vec<ev::PointsLotChanged>,
    reservations: HashMap<String, ev::ReservationChanged>,
}

async fn replay(ledger: &mut Ledger) -> Facts {
    let feed = ledger
        .watch_events(WatchEventsRequest { replay_only: true, ..Default::default() })
        .await
        .expect("the ledger's feed")
        .into_inner();
    let events: Vec<ev::Event> = feed.map(|e| e.expect("event")).collect().await;
    let mut facts = Facts::default();
    for event in events {
        match event.payload {
            Some(Payload::BalanceChanged(b)) => {
                facts.balances.insert(b.client_id.clone(), b);
            }
            Some(Payload::LevelChanged(l)) => {
                facts.levels.insert(l.client_id, l.level_id);
            }
            Some(Payload::PurchaseRecorded(p)) => {
                let amount = p.amount.map(|m| m.minor_units).unwrap_or_default();
                facts.purchases.insert(p.purchase_id, (p.card_id, amount, 0, Vec::new()));
            }
            Some(Payload::PurchaseReturned(r)) => {
                let bought = facts.purchases.get_mut(&r.purchase_id).expect("a return of a known purchase");
                bought.2 += r.amount.as_ref().map(|m| m.minor_units).unwrap_or_default();
                assert_eq!(r.amount.map(|m| m.currency), Some("EUR".to_string()), "a return names its currency");
                bought.3.extend(r.lines);
            }
            Some(Payload::PointsLotChanged(l)) if l.change == "cancelled" => facts.cancelled_lots.push(l),
            Some(Payload::ReservationChanged(r)) => {
                facts.reservations.insert(r.reservation_id.clone(), r);
            }
            _ => {}
        }
    }
    facts
}

fn line(no: i32, sku: &str, pieces: i64, unit_minor: i64) -> pb::PurchaseLine {
    pb::PurchaseLine {
        line_no: no,
        sku: sku.into(),
        name: format!("{sku} item"),
        category: "dairy".into(),
        quantity_milli: pieces * 1_000,
        unit_price: eur(unit_minor),
        ..Default::default()
    }
}

fn by_card(key: &str, card: &str, amount: i64, spend: i64, lines: Vec<pb::PurchaseLine>) -> pb::RecordPurchaseRequest {
    pb::RecordPurchaseRequest {
        context: with_key(key),
        buyer: Some(Buyer::CardNumber(card.into())),
        check_id: key.into(),
        store_id: "VLN-01".into(),
        amount: eur(amount),
        payment_method: pb::PaymentMethod::Card as i32,
        points_to_spend: spend,
        lines,
        ..Default::default()
    }
}

async fn balance(ledger: &mut Ledger, client: &str) -> pb::Balance {
    let asked = pb::GetBalanceRequest { client_id: client.into(), ..Default::default() };
    ledger.get_balance(asked).await.expect("balance").into_inner()
}

#[tokio::test]
async fn a_read_model_replayed_from_the_feed_answers_as_the_ledger_does() {
    let app = suite::start().await;
    let admin = app.admin_token(TENANT);
    let mut ledger = support::ledger(&app, &admin);
    let gold = pb::Level {
        id: "gold".into(),
        name: "Gold".into(),
        threshold: 10_000,
        discount_bp: 500,
        earn_multiplier_bp: 10_000,
    };
    let base = pb::Level { id: "base".into(), name: "Base".into(), earn_multiplier_bp: 10_000, ..Default::default() };
    let programme = pb::Programme {
        points_per_unit_milli: 1_000,
        level_period_days: 365,
        levels: vec![base, gold],
        max_redeem_share_bp: 5_000,
        point_value_milli: 1_000,
        validity: Some(pb::Validity { rule: Some(pb::validity::Rule::Days(365)) }),
        ..Default::default()
    };
    let update = pb::UpdateProgrammeRequest { context: with_key("programme"), programme: Some(programme) };
    ledger.update_programme(update).await.expect("programme");
    let (ona, ona_card) = suite::member(&app, "+37061200201").await;
    let (dup, dup_card) = suite::member(&app, "+37061200202").await;

    // Ona: two purchases by card (gold after the second), a return of part of the second (back to
    // base), a manual accrual and write-off, a reservation committed in part.
    ledger.record_purchase(by_card("f-1", &ona_card.number, 6_000, 0, vec![])).await.expect("first");
    let lines = vec![line(1, "MILK", 4, 500), line(2, "CHEESE", 1, 3_000)];
    let second = ledger.record_purchase(by_card("f-2", &ona_card.number, 5_000, 10, lines)).await.expect("second");
    let second = second.into_inner().purchase.expect("purchase");
    assert_eq!(second.card_id, ona_card.id);
    let back = pb::ReturnPurchaseRequest {
        context: with_key("f-3"),
        purchase_id: second.id.clone(),
        lines: vec![pb::ReturnLine { line_no: 2, quantity_milli: 1_000 }],
        ..Default::default()
    };
    ledger.return_purchase(back).await.expect("return of the cheese");
    for (key, points, comment) in [("f-4", 25, "apology"), ("f-5", -5, "correction")] {
        let adjust = pb::AdjustPointsRequest {
            context: with_key(key),
            client_id: ona.clone(),
            points,
            comment: comment.into(),
            ..Default::default()
        };
        ledger.adjust_points(adjust).await.expect("adjustment");
    }
    let reserve = pb::ReservePointsRequest {
        context: with_key("f-6"),
        client_id: ona.clone(),
        points: 20,
        order_ref: "web-1".into(),
        ttl_seconds: 600,
        ..Default::default()
    };
    let held = ledger.reserve_points(reserve).await.expect("reserved").into_inner();
    let commit = pb::CommitReservationRequest { context: with_key("f-7"), reservation_id: held.id.clone(), points: 15 };
    ledger.commit_reservation(commit).await.expect("committed in part");

    // The duplicate buys, then is merged into Ona; the ledger follows the client feed.
    ledger.record_purchase(by_card("f-8", &dup_card.number, 8_000, 0, vec![])).await.expect("the duplicate's");
    let before_merge = balance(&mut ledger, &ona).await;
    let merge = clients::MergeClientsRequest {
        survivor_client_id: ona.clone(),
        merged_client_ids: vec![dup.clone()],
        ..Default::default()
    };
    support::clients(&app, &admin).merge_clients(merge).await.expect("merged");
    let mut ona_now = before_merge.clone();
    for _ in 0..100 {
        ona_now = balance(&mut ledger, &ona).await;
        if ona_now.earned_total > before_merge.earned_total {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(ona_now.earned_total, before_merge.earned_total + 80, "the duplicate's earnings moved with the merge");
    assert_eq!(ona_now.level_id, "gold", "60 + 40 kept + 80 moved = 180 EUR over the period is gold again");

    let facts = replay(&mut ledger).await;
    let seen = facts.balances.get(&ona).expect("Ona's balance is on the feed");
    let ts = |t: &Option<prost_types::Timestamp>| t.as_ref().map(|t| (t.seconds, t.nanos / 1_000));
    assert_eq!(
        (seen.available, seen.pending, seen.reserved, seen.used, seen.expired, seen.debt, seen.cancelled),
        (
            ona_now.available,
            ona_now.pending,
            ona_now.reserved,
            ona_now.used,
            ona_now.expired,
            ona_now.debt,
            ona_now.cancelled
        ),
        "balances"
    );
    assert_eq!((seen.earned_total, &seen.level_id), (ona_now.earned_total, &ona_now.level_id), "totals and level");
    assert_eq!(ts(&seen.last_accrual_at), ts(&ona_now.last_accrual_at), "last accrual");
    assert_eq!(ts(&seen.last_write_off_at), ts(&ona_now.last_write_off_at), "last write-off");
    assert!(seen.last_write_off_at.is_some() && seen.last_accrual_at.is_some());
    assert_eq!(ts(&seen.next_expiry_at), ts(&ona_now.next_expiry_at), "next expiry");
    assert_eq!(seen.next_expiry_points, ona_now.next_expiry_points);
    assert!(ona_now.cancelled > 0, "the return cancelled points: {ona_now:?}");
    assert_eq!(facts.levels.get(&ona), Some(&ona_now.level_id), "the merge's level change is published");
    let emptied = facts.balances.get(&dup).expect("the merged account's balance is on the feed");
    assert_eq!((emptied.available, emptied.earned_total), (0, 0), "the merged account is empty");

    // Each purchase: its card and what came back of it, as the ledger lists them.
    let listed = pb::ListPurchasesRequest { client_id: ona.clone(), ..Default::default() };
    let listed = ledger.list_purchases(listed).await.expect("purchases").into_inner().purchases;
    assert_eq!(listed.len(), 3);
    for p in &listed {
        let (card, amount, returned, _) = facts.purchases.get(&p.id).expect("every purchase is on the feed");
        assert_eq!(card, &p.card_id, "the card the buyer came with");
        assert_eq!(Some(*amount), p.amount.as_ref().map(|m| m.minor_units));
        assert_eq!(Some(*returned), p.returned_amount.as_ref().map(|m| m.minor_units), "returned so far");
    }
    let (_, _, returned, lines) = &facts.purchases[&second.id];
    assert_eq!(*returned, 3_000);
    assert_eq!(
        lines.iter().map(|l| (l.sku.as_str(), l.quantity_milli)).collect::<Vec<_>>(),
        [("CHEESE", 1_000)],
        "the return's lines"
    );
    assert!(
        facts.cancelled_lots.iter().all(|l| l.expires_at.is_some()) && !facts.cancelled_lots.is_empty(),
        "cancelled lots say when they would have expired: {:?}",
        facts.cancelled_lots
    );
    let reservation = &facts.reservations[&held.id];
    assert_eq!((reservation.state.as_str(), reservation.committed_points), ("committed", 15));
}
