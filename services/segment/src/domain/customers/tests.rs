//! New vs returning on a week of purchases made by hand, with the exact figures each must give.
use super::*;
use crate::domain::evaluate::day_number;
use uuid::Uuid;

fn day(m: u8, d: u8) -> i64 {
    day_number(time::Date::from_calendar_date(2026, time::Month::try_from(m).expect("month"), d).expect("date"))
}

struct Shop {
    p: Population,
    n: usize,
}

impl Shop {
    fn client(&mut self) -> usize {
        self.p.row(Uuid::from_u128(self.p.len() as u128 + 1)) as usize
    }

    /// An order of `minor` on `day` with lines of (SKU, pieces).
    fn order(&mut self, who: usize, day: i64, minor: i64, lines: &[(&str, i64)]) {
        self.n += 1;
        let purchases = self.p.table("purchases");
        let r = purchases.row(&format!("o{}", self.n), who as u32, day);
        purchases.column("amount", Column::number).put_number(r, Some(minor));
        purchases.column("items", Column::number).put_number(r, Some(lines.iter().map(|l| l.1).sum()));
        let table = self.p.table("purchase_lines");
        for (sku, pieces) in lines {
            let l = table.add(who as u32, day);
            table.put_indexed("purchase_lines.sku", l, sku);
            table.put_indexed("purchase_lines.name", l, &sku.to_lowercase());
            table.column("purchase_lines.quantity", Column::number).put_number(l, Some(pieces * 100));
        }
        tally::recompute(&mut self.p, who as u32);
    }
}

/// The week of Monday 2 to Sunday 8 March 2026. Ona's first day is Monday (two orders, 10.00
/// and 20.00) and she comes back on Wednesday (30.00); Jonas first bought in February and comes
/// back on Tuesday (40.00); Eglė's first order is on Wednesday (50.00); Petras's on Sunday (5.00),
/// his second ten days later.
fn week() -> (Population, Bits) {
    let mut s = Shop { p: Population::default(), n: 0 };
    let (ona, jonas, egle, petras) = (s.client(), s.client(), s.client(), s.client());
    s.order(jonas, day(2, 20), 1_000, &[("BREAD", 1)]);
    s.order(ona, day(3, 2), 1_000, &[("MILK", 2)]);
    s.order(ona, day(3, 2), 2_000, &[("BREAD", 1)]);
    s.order(jonas, day(3, 3), 4_000, &[("COFFEE", 1)]);
    s.order(ona, day(3, 4), 3_000, &[("MILK", 3)]);
    s.order(egle, day(3, 4), 5_000, &[("COFFEE", 2)]);
    s.order(petras, day(3, 8), 500, &[("MILK", 1)]);
    s.order(petras, day(3, 18), 700, &[("MILK", 1)]);
    s.p.settle();
    let mut seen = s.p.live.clone();
    seen.grow(s.p.len());
    (s.p, seen)
}

fn orders(orders: i64, revenue: i64, items: i64) -> Orders {
    Orders { orders, revenue, items }
}

#[test]
fn orders_on_the_first_purchase_day_are_new_and_every_later_one_returning() {
    let (p, seen) = week();
    let a = analyse(&p, &seen, day(3, 2), day(3, 8), Granularity::Week, 10);
    assert_eq!(a.totals, [orders(4, 8_500, 6), orders(2, 7_000, 4)]);
    assert_eq!(a.over_time, [(day(3, 2), a.totals)], "one week, Monday to Sunday");
    assert_eq!((a.totals[0].average_basket(), a.totals[0].items_per_order_milli()), (2_125, 1_500));
    let weekday = |d: u8| a.by_weekday.iter().find(|w| w.0 == d).map(|w| (w.1, w.2)).expect("weekday");
    assert_eq!(weekday(1), ([orders(2, 3_000, 3), Orders::default()], 1));
    assert_eq!(weekday(2), ([Orders::default(), orders(1, 4_000, 1)], 1));
    assert_eq!(weekday(3), ([orders(1, 5_000, 2), orders(1, 3_000, 3)], 1));
    assert_eq!(weekday(7), ([orders(1, 500, 1), Orders::default()], 1));
    let top: Vec<(usize, &str, i64)> = a.top.iter().map(|t| (t.kind, t.sku.as_str(), t.quantity_milli)).collect();
    assert_eq!(
        top,
        [(0, "MILK", 3_000), (0, "COFFEE", 2_000), (0, "BREAD", 1_000), (1, "MILK", 3_000), (1, "COFFEE", 1_000)]
    );
    assert_eq!(a.top[0].name, "milk");
    // Ona, Eglė and Petras started in the week; Ona bought again the same day, Petras ten days later.
    assert_eq!((a.second_purchase_rate_bp, a.median_days_to_second), (6_666, 5));
}

#[test]
fn days_buckets_and_the_store_scope() {
    let (p, mut seen) = week();
    let a = analyse(&p, &seen, day(3, 2), day(3, 8), Granularity::Day, 1);
    assert_eq!(a.over_time.len(), 7);
    assert_eq!(a.over_time[2], (day(3, 4), [orders(1, 5_000, 2), orders(1, 3_000, 3)]));
    assert_eq!(a.top.len(), 2, "the top one of each type");
    // Two weeks: every weekday twice.
    let two = analyse(&p, &seen, day(3, 2), day(3, 15), Granularity::Week, 10);
    assert!(two.by_weekday.iter().all(|w| w.2 == 2));
    // Without Ona.
    seen.set(0, false);
    let scoped = analyse(&p, &seen, day(3, 2), day(3, 8), Granularity::Week, 10);
    assert_eq!(scoped.totals, [orders(2, 5_500, 3), orders(1, 4_000, 1)]);
    assert_eq!((scoped.second_purchase_rate_bp, scoped.median_days_to_second), (5_000, 10));
}
