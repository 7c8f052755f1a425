//! An AND asks each condition only about the clients the ones before it kept, an OR only about
//! those not yet taken (see `group`). On a generated population where the first condition keeps
//! one client in fifty (so row conditions after it read only those clients' rows), every
//! combination must answer exactly as the conditions answered one by one and combined as sets.
use super::tests::{TODAY, Town};
use super::*;
use crate::domain::text::parse;
use std::collections::BTreeSet;

fn town(clients: usize) -> Town {
    let mut t = Town::empty();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    const CITIES: [&str; 5] = ["Vilnius", "Kaunas", "Klaipėda", "Riga", "Tallinn"];
    for i in 0..clients {
        let row = t.client("c");
        t.text(row, "client.city", CITIES[next(5) as usize]);
        t.text(row, "client.gender", if next(2) == 0 { "female" } else { "male" });
        t.raw(row, "client.registration_store", &format!("S{:02}", next(50)));
        t.number(row, "client.birth_date", TODAY - 7_000 - next(15_000) as i64);
        let tags: Vec<&str> = ["vip", "staff", "student"].into_iter().filter(|_| next(4) == 0).collect();
        t.tags(row, &tags);
        for k in 0..next(6) {
            let store = format!("S{:02}", next(50));
            let lines: Vec<(String, i64, i64)> =
                (0..1 + next(3)).map(|_| (format!("SKU-{}", next(20)), 1, 100 + next(20_000) as i64)).collect();
            let lines: Vec<(&str, i64, i64)> = lines.iter().map(|(s, q, a)| (s.as_str(), *q, *a)).collect();
            let amount = lines.iter().map(|l| l.2).sum();
            t.purchase(row, &format!("p{i}-{k}"), TODAY - next(400) as i64, amount, &store, &lines);
        }
    }
    t.p.settle();
    t
}

fn rows(t: &Town, text: &str) -> BTreeSet<usize> {
    let filter = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let none = |_: &str| None;
    let cx = Context { today: TODAY, phone_region: "LT", segment: &none };
    evaluate(&t.p, &filter, &cx).rows().collect()
}

#[test]
fn the_stores_a_client_bought_in_answer_as_their_lines_do() {
    let t = town(3_000);
    // A window over all time takes the lines themselves; without one, the client's store list.
    for condition in [r#"= "S07""#, r#"any of ("S07", "S09")"#, r#"!= "S07""#, r#"none of ("S07", "S08")"#] {
        let by_list = rows(&t, &format!("purchase_lines.store {condition}"));
        let by_lines = rows(&t, &format!("purchase_lines.store(1990-01-01..2100-12-31) {condition}"));
        assert!(!by_list.is_empty(), "{condition} selects someone");
        assert_eq!(by_list, by_lines, "purchase_lines.store {condition}");
    }
}

#[test]
fn and_or_and_not_answer_as_the_sets_of_their_conditions() {
    let t = town(3_000);
    let everyone: BTreeSet<usize> = t.p.live.rows().collect();
    let selective = r#"client.registration_store = "S07""#;
    let others = [
        r#"purchase_lines.store none of ("S07")"#,
        r#"purchase_lines.sku any of ("SKU-3") where (purchase_lines.count >= 2)"#,
        r#"purchase_lines.sku = "SKU-4" where (not purchase_lines.store = "S01")"#,
        "purchase_lines.count(last 30 days) = 0",
        "purchases.sum(last 90 days) >= 100.00",
        "purchases.count(last 60 days) <= 1",
        "purchases.count(last 45 days) >= 1",
        "purchases.count(last 45 days) < 1",
        "purchases.count(last 300 days) >= 3",
        "purchases.average_check(last 120 days) >= 80.00",
        "purchases.last_amount(last 120 days) >= 60.00",
        "purchases.max_check(last 365 days) > 150.00",
        "purchases.first_at(last 200 days) is set",
        r#"purchases.stores(last 100 days) none of ("S07", "S08")"#,
        r#"purchases.most_frequent_store = "S07""#,
        r#"tags any of ("vip", "student")"#,
        r#"tags all of ("vip", "staff")"#,
        r#"tags none of ("staff")"#,
        "client.birth_date anniversary within 30 days",
        "client.birth_date anniversary in this month",
        "purchases.days_since_last >= 90",
    ];
    let first = rows(&t, selective);
    assert!(first.len() * 8 < everyone.len() && !first.is_empty(), "the first condition is selective");
    for other in others {
        let second = rows(&t, other);
        assert!(!second.is_empty() && second != everyone, "{other} selects some clients, not all");
        let both: BTreeSet<usize> = first.intersection(&second).copied().collect();
        let either: BTreeSet<usize> = first.union(&second).copied().collect();
        let without: BTreeSet<usize> = first.difference(&second).copied().collect();
        assert_eq!(rows(&t, &format!("{selective} and {other}")), both, "{selective} and {other}");
        assert_eq!(rows(&t, &format!("{other} and {selective}")), both, "{other} and {selective}");
        assert_eq!(rows(&t, &format!("{selective} or {other}")), either, "{selective} or {other}");
        assert_eq!(rows(&t, &format!("{selective} and not {other}")), without, "{selective} and not {other}");
        let outside: BTreeSet<usize> = everyone.difference(&both).copied().collect();
        assert_eq!(rows(&t, &format!("not ({selective} and {other})")), outside, "not ({selective} and {other})");
    }
}
