//! Every report on four clients made by hand, cell for cell.
use super::*;
use crate::domain::evaluate::day_number;
use loyalty_api::events::v1::{self as ev, event::Payload};
use uuid::Uuid;

fn day(y: i32, m: u8, d: u8) -> i64 {
    day_number(time::Date::from_calendar_date(y, time::Month::try_from(m).expect("month"), d).expect("date"))
}

/// A: 10.00 on 10 Jan, 20.00 on 5 Feb, 30.00 on 1 Apr. B: 50.00 on 20 Jan. C: 15.00 on 15 Feb,
/// 5.00 on 1 Mar. D never bought. All in 2026.
fn shop() -> (Population, Bits) {
    let mut p = Population::default();
    let clients: Vec<u32> = (1..=4).map(|n| p.row(Uuid::from_u128(n))).collect();
    let orders = [
        (0, day(2026, 1, 10), 1_000),
        (0, day(2026, 2, 5), 2_000),
        (0, day(2026, 4, 1), 3_000),
        (1, day(2026, 1, 20), 5_000),
        (2, day(2026, 2, 15), 1_500),
        (2, day(2026, 3, 1), 500),
    ];
    for (i, (who, on, minor)) in orders.into_iter().enumerate() {
        let purchases = p.table("purchases");
        let r = purchases.row(&format!("o{i}"), clients[who], on);
        purchases.column("amount", Column::number).put_number(r, Some(minor));
        tally::recompute(&mut p, clients[who]);
    }
    p.settle();
    let mut seen = p.live.clone();
    seen.grow(p.len());
    (p, seen)
}

fn cells(t: &Table) -> Vec<Vec<&str>> {
    t.rows.iter().map(|r| r.iter().map(String::as_str).collect()).collect()
}

#[test]
fn retention_follows_each_monthly_cohort_and_leaves_the_future_empty() {
    let (p, seen) = shop();
    let t = retention(&p, &seen, day(2026, 1, 1), day(2026, 4, 30));
    assert_eq!(t.columns.len(), 2 + RETENTION_MONTHS);
    let rows = cells(&t);
    assert_eq!(rows[0][..6], ["2026-01", "2", "50.00", "0.00", "50.00", ""], "A came back in February and April");
    assert_eq!(rows[1][..5], ["2026-02", "1", "100.00", "0.00", ""], "C came back in March");
    assert_eq!(rows[2][..3], ["2026-03", "0", ""]);
    assert_eq!(rows.len(), 4);
}

#[test]
fn churn_counts_who_fell_asleep_during_each_month() {
    let (p, seen) = shop();
    let t = churn(&p, &seen, 30, day(2026, 2, 1), day(2026, 4, 30));
    assert_eq!(
        cells(&t),
        [vec!["2026-02", "2", "1", "50.00"], vec!["2026-03", "2", "2", "100.00"], vec!["2026-04", "0", "0", ""],],
        "B fell asleep in February; A and C in March (C exactly 30 days after 1 March)"
    );
}

#[test]
fn lifetime_value_and_segment_performance_per_group() {
    let (p, seen) = shop();
    let mut spenders = Bits::none(p.len());
    spenders.set(0, true);
    spenders.set(2, true);
    let groups = vec![("all clients".to_string(), seen.clone()), ("A and C".to_string(), spenders)];
    let clv = lifetime_value(&p, &seen, &groups);
    assert_eq!(
        cells(&clv),
        [
            vec!["all clients", "4", "130.00", "32.50", "1.50", "21.66"],
            vec!["A and C", "2", "80.00", "40.00", "2.50", "16.00"]
        ]
    );
    // March and April against the 61 days before (30 Dec .. 28 Feb).
    let performance = segment_performance(&p, &seen, &groups, day(2026, 3, 1), day(2026, 4, 30));
    assert_eq!(
        cells(&performance),
        [
            vec!["all clients", "4", "35.00", "2", "17.50", "95.00", "-63.15"],
            vec!["A and C", "2", "35.00", "2", "17.50", "45.00", "-22.22"],
        ]
    );
    // A token that sees only B.
    let mut only_b = Bits::none(p.len());
    only_b.set(1, true);
    assert_eq!(cells(&lifetime_value(&p, &only_b, &groups))[1], ["A and C", "0", "0.00", "", "", ""]);
}

#[test]
fn points_behaviour_by_month_with_the_tendency_now() {
    let (mut p, seen) = shop();
    let zone = loyalty_platform::tz::stored("UTC");
    let balance = |client: u128, earned: i64, used: i64, at: &str| ev::Event {
        occurred_at: {
            let t = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).expect("time");
            Some(loyalty_platform::convert::to_timestamp(t))
        },
        payload: Some(Payload::BalanceChanged(ev::BalanceChanged {
            client_id: Uuid::from_u128(client).to_string(),
            earned_total: earned,
            used,
            ..Default::default()
        })),
        ..Default::default()
    };
    for e in [
        balance(1, 100, 0, "2026-01-10T10:00:00Z"),
        balance(2, 10, 0, "2026-01-20T10:00:00Z"),
        balance(1, 150, 90, "2026-02-05T10:00:00Z"),
    ] {
        crate::domain::apply::apply(&mut p, &e, &zone);
    }
    let t = points(&p, &seen, day(2026, 1, 1), day(2026, 3, 31));
    assert_eq!(
        cells(&t),
        [
            vec!["2026-01", "110", "0", "0", "2", "0", "0.00", "", "", ""],
            vec!["2026-02", "50", "90", "0", "1", "1", "180.00", "", "", ""],
            vec!["2026-03", "0", "0", "0", "0", "0", "", "", "", ""],
            vec!["now", "", "", "", "", "", "", "1", "1", "0"],
        ],
        "B saves (0 %), A is balanced (60 %)"
    );
}
