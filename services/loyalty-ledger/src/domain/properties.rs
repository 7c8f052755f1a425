//! The ledger's invariants under random sequences of operations (TigerBeetle's habit: state the
//! invariant, then try hard to break it).
use super::account::{Account, LotChange, LotState};
use super::programme::ReturnPolicy;
use proptest::prelude::*;
use time::{Duration, OffsetDateTime};

#[derive(Clone, Debug)]
enum Op {
    Earn { points: i64, delay_hours: i64, valid_hours: Option<i64> },
    Spend(i64),
    Hold(i64),
    Close { hold: usize, spend_share: u8 },
    Advance(i64),
    Return { lot: usize, points: i64, policy: u8 },
    Refund(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1i64..1000, 0i64..72, proptest::option::of(1i64..400))
            .prop_map(|(points, delay_hours, valid_hours)| Op::Earn { points, delay_hours, valid_hours }),
        (1i64..1500).prop_map(Op::Spend),
        (1i64..800).prop_map(Op::Hold),
        (0usize..8, 0u8..=100).prop_map(|(hold, spend_share)| Op::Close { hold, spend_share }),
        (0i64..120).prop_map(Op::Advance),
        (0usize..12, 1i64..800, 0u8..3).prop_map(|(lot, points, policy)| Op::Return { lot, points, policy }),
        (1i64..500).prop_map(Op::Refund),
    ]
}

fn check(a: &Account) -> Result<(), TestCaseError> {
    let b = a.balance();
    let accounted = b.available + b.pending + b.reserved + b.used + b.expired + b.cancelled;
    prop_assert_eq!(a.earned(), accounted, "every earned point is in exactly one state: {:?}", b);
    prop_assert!(b.available >= 0 && b.pending >= 0 && b.reserved >= 0 && b.debt >= 0, "{:?}", b);
    for lot in &a.lots {
        prop_assert!(0 <= lot.held && lot.held <= lot.remaining, "lot {:?}", lot);
        if lot.state == LotState::Expired || lot.state == LotState::Cancelled {
            prop_assert_eq!(lot.remaining, 0, "a closed lot holds nothing: {:?}", lot);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn balances_always_reconcile_and_spending_is_first_expiring_first(ops in proptest::collection::vec(op(), 1..60)) {
        let mut now = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let mut a = Account::default();
        let mut holds: Vec<Vec<(u64, i64)>> = Vec::new();
        let mut lot_ids: Vec<u64> = Vec::new();
        for op in ops {
            match op {
                Op::Earn { points, delay_hours, valid_hours } => {
                    let activates = now + Duration::hours(delay_hours);
                    let expires = valid_hours.map(|h| activates + Duration::hours(h));
                    let (id, _) = a.earn(points, activates, expires, now);
                    lot_ids.push(id);
                }
                Op::Spend(points) => {
                    let before = a.clone();
                    match a.spend(points) {
                        Ok(changes) => {
                            prop_assert_eq!(a.balance().available, before.balance().available - points);
                            // First expiring first: no lot was touched while one expiring earlier
                            // still has spendable points left.
                            let touched: Vec<u64> = changes.iter().filter_map(|c| match c { LotChange::Spent { lot, .. } => Some(*lot), _ => None }).collect();
                            for t in &touched {
                                let tl = a.lots.iter().find(|l| l.id == *t).expect("lot");
                                for other in &a.lots {
                                    let earlier = match (other.expires_at, tl.expires_at) {
                                        (Some(o), Some(t)) => o < t,
                                        (Some(_), None) => true,
                                        _ => false,
                                    };
                                    if earlier && other.state == LotState::Active {
                                        prop_assert_eq!(other.remaining - other.held, 0, "lot {} was left while {} was spent", other.id, t);
                                    }
                                }
                            }
                        }
                        Err(e) => {
                            prop_assert!(points > e.available);
                            prop_assert_eq!(&a, &before, "a refused spend changes nothing");
                        }
                    }
                }
                Op::Hold(points) => {
                    let before = a.balance();
                    if let Ok(changes) = a.hold(points) {
                        prop_assert_eq!(a.balance().available, before.available - points, "held points leave available at once");
                        holds.push(changes.iter().filter_map(|c| match c { LotChange::Held { lot, points } => Some((*lot, *points)), _ => None }).collect());
                    }
                }
                Op::Close { hold, spend_share } => {
                    if !holds.is_empty() {
                        let h = holds.remove(hold % holds.len());
                        let total: i64 = h.iter().map(|(_, p)| p).sum();
                        let spend = total * i64::from(spend_share) / 100;
                        let used_before = a.used;
                        a.close_hold(&h, spend, now);
                        prop_assert_eq!(a.used, used_before + spend, "a commit spends exactly what it says");
                    }
                }
                Op::Advance(hours) => {
                    now += Duration::hours(hours);
                    a.advance(now);
                    for lot in &a.lots {
                        if lot.state == LotState::Active {
                            prop_assert!(lot.activates_at <= now);
                            if lot.expires_at.is_some_and(|e| e <= now) {
                                prop_assert_eq!(lot.remaining, lot.held, "only held points outlive their expiry");
                            }
                        }
                    }
                }
                Op::Return { lot, points, policy } => {
                    if !lot_ids.is_empty() {
                        let policy = [ReturnPolicy::OnlyPending, ReturnPolicy::WithinBalance, ReturnPolicy::AllowDebt][usize::from(policy)];
                        let debt_before = a.balance().debt;
                        let (cancelled, shortfall, _) = a.cancel_earned(lot_ids[lot % lot_ids.len()], points, policy);
                        prop_assert!(cancelled >= 0 && shortfall >= 0 && cancelled + shortfall <= points);
                        if policy != ReturnPolicy::AllowDebt {
                            prop_assert_eq!(a.balance().debt, debt_before, "only allow_debt creates debt");
                        }
                    }
                }
                Op::Refund(points) => {
                    a.refund(points, None, now);
                }
            }
            check(&a)?;
        }
    }
}

#[test]
fn a_reservation_holds_points_until_committed_in_part() {
    let now = OffsetDateTime::UNIX_EPOCH;
    let mut a = Account::default();
    a.earn(5_000, now, None, now);
    let mut holds = Vec::new();
    for _ in 0..5 {
        let h = a.hold(1_000).expect("held");
        holds.push(h);
    }
    assert!(a.hold(1_000).is_err(), "six holds of 1,000 on 5,000: the sixth is refused");
    let first: Vec<(u64, i64)> = holds[0]
        .iter()
        .filter_map(|c| match c {
            LotChange::Held { lot, points } => Some((*lot, *points)),
            _ => None,
        })
        .collect();
    a.close_hold(&first, 400, now);
    let b = a.balance();
    assert_eq!((b.available, b.reserved, b.used), (600, 4_000, 400));
}
