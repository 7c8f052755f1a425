//! The built-in segments and RFM scores on populations made by hand, with the exact members and
//! boundaries each must give.
use super::*;
use crate::domain::bits::Bits;
use crate::domain::evaluate::{Context, evaluate};
use crate::domain::segments::Segments;

/// 2026-03-10 as a day number.
const TODAY: i64 = 20_522;

pub(crate) struct Shop {
    pub p: Population,
    bought: usize,
}

impl Shop {
    pub fn new() -> Self {
        Shop { p: Population::default(), bought: 0 }
    }

    /// A client registered `joined` days ago.
    pub fn client(&mut self, joined: i64) -> usize {
        let r = self.p.row(Uuid::from_u128(self.p.len() as u128 + 1)) as usize;
        self.p.column("client.registered_at", Column::number).put_number(r, Some(TODAY - joined));
        r
    }

    /// A purchase of `amount` minor units `ago` days before today.
    pub fn buy(&mut self, row: usize, ago: i64, amount: i64) {
        self.bought += 1;
        let purchases = self.p.table("purchases");
        let r = purchases.row(&format!("p{}", self.bought), row as u32, TODAY - ago);
        purchases.column("amount", Column::number).put_number(r, Some(amount));
        tally::recompute(&mut self.p, row as u32);
    }

    pub fn settle(&mut self) {
        self.p.settle();
    }
}

fn members(p: &Population, d: &Definition, s: &Settings, t: &Thresholds) -> Vec<usize> {
    let none = |_: &str| -> Option<Bits> { None };
    let cx = Context { today: TODAY, phone_region: "LT", segment: &none };
    evaluate(p, &d.filter(s, t), &cx).rows().collect()
}

fn def(id: &str) -> &'static Definition {
    find(id).unwrap_or_else(|| panic!("{id} is not built in"))
}

/// Ten spenders whose last purchases lie 0, 3, 6, 7, 20, 30, 31, 89, 90 and 200 days back, with
/// 1, 1, 1, 2, 2, 3, 3, 4, 5 and 8 purchases of 10.00 × (their number + 1) each; two prospects, one
/// of them registered today.
fn shop() -> Shop {
    let mut s = Shop::new();
    let last = [0, 3, 6, 7, 20, 30, 31, 89, 90, 200];
    let count = [1, 1, 1, 2, 2, 3, 3, 4, 5, 8];
    for i in 0..10 {
        let c = s.client(400);
        for k in 0..count[i] {
            s.buy(c, last[i] + k as i64 * 2, 1_000 * (i as i64 + 1));
        }
    }
    s.client(0);
    s.client(45);
    s.settle();
    s
}

#[test]
fn every_built_in_filter_reads_back_and_passes_the_checks() {
    let (s, t) = (
        Settings::default(),
        Thresholds { big_from: 12_345, medium_from: 5_000, average_purchases_milli: 2_500, day: TODAY },
    );
    for d in ALL.iter() {
        let text = d.filter_text(&s, &t);
        let filter = crate::domain::text::parse(&text).unwrap_or_else(|e| panic!("{}: {text}: {e}", d.id));
        assert!(crate::domain::validate::check(&filter, "f").is_empty(), "{}: {text}", d.id);
        assert_eq!(find(d.id).map(|x| x.id), Some(d.id));
        assert_eq!(find(&d.uuid().to_string()).map(|x| x.id), Some(d.id), "found by uuid");
        assert_eq!(id_of(d.uuid()), Some(d.id));
    }
    let mut ids: Vec<Uuid> = ALL.iter().map(|d| d.uuid()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), ALL.len(), "uuids are distinct");
    assert_eq!(def("auto:vip").uuid().to_string(), uuid_of("auto:vip").to_string(), "stable");
}

#[test]
fn spender_thresholds_are_the_tenant_s_own_quantiles() {
    let s = shop();
    let t = thresholds(&s.p, &Settings::default(), TODAY);
    // Lifetime spends: client i spent count[i] × 10.00 × (i + 1):
    // 10, 20, 30, 80, 100, 180, 210, 320, 450, 800 (in units of 1.00).
    // BIG = top 20 % = 2 clients: from 450.00. MEDIUM = next 30 % = 3: from 180.00.
    assert_eq!((t.big_from, t.medium_from), (45_000, 18_000));
    // 30 purchases over 10 spenders.
    assert_eq!(t.average_purchases_milli, 3_000);
    let settings = Settings::default();
    let who = |id: &str| members(&s.p, def(id), &settings, &t);
    assert_eq!(who("auto:big_spenders"), [8, 9]);
    assert_eq!(who("auto:medium_spenders"), [5, 6, 7]);
    assert_eq!(who("auto:small_spenders"), [0, 1, 2, 3, 4]);
    assert_eq!(who("auto:frequent"), [7, 8, 9], "more than 3 purchases");
    assert_eq!(who("auto:repeat"), [3, 4, 5, 6]);
    assert_eq!(who("auto:one_time"), [0, 1, 2]);
    assert_eq!(who("auto:second_purchase"), [3, 4]);
    assert_eq!(who("auto:prospects"), [10, 11]);
    assert_eq!(who("auto:spenders").len(), 10);
}

#[test]
fn activity_and_recency_segments_count_days_with_today_as_zero() {
    let s = shop();
    let (settings, t) = (Settings::default(), thresholds(&s.p, &Settings::default(), TODAY));
    let who = |id: &str| members(&s.p, def(id), &settings, &t);
    // Last purchases 0, 3, 6, 7, 20, 30, 31, 89, 90, 200 days ago.
    assert_eq!(who("auto:active"), [0, 1, 2, 3, 4], "bought within the last 30 days (0..29)");
    assert_eq!(who("auto:sleeping"), [8, 9], "90 days or more");
    assert_eq!(who("auto:activity_active"), [0, 1, 2], "under 7 days");
    assert_eq!(who("auto:activity_low_risk"), [3, 4, 5], "7 to 30 days");
    assert_eq!(who("auto:activity_high_risk"), [6, 7, 8, 9], "over 30 days");
    assert_eq!(who("auto:new"), [10], "registered today; 45 days ago is not new");
    // Lifecycle: first purchases lie 0, 3, 6, 9, 22, 34, 35, 95, 98 and 214 days back (purchases
    // two days apart); at risk = last purchase over 60 days ago; loyal = 4 or more purchases.
    assert_eq!(who("auto:lifecycle_new"), [0, 1, 2, 3, 4], "first purchase within 30 days");
    assert_eq!(who("auto:lifecycle_at_risk"), [7, 8, 9]);
    assert_eq!(who("auto:lifecycle_loyal"), Vec::<usize>::new());
    assert_eq!(who("auto:lifecycle_developing"), [5, 6]);
    // Settings move the edges.
    let wider = Settings { active_days: 31, sleeping_days: 200, ..Settings::default() };
    let who = |id: &str| members(&s.p, def(id), &wider, &t);
    assert_eq!(who("auto:active"), [0, 1, 2, 3, 4, 5]);
    assert_eq!(who("auto:sleeping"), [9]);
}

#[test]
fn vip_needs_all_four_criteria() {
    let mut s = Shop::new();
    // 11 purchases of 50.00 in the last 30 days = 550.00 > 500.00, 11 > 10.
    let vip = |s: &mut Shop, joined: i64, used: i64, purchases: usize| {
        let c = s.client(joined);
        for k in 0..purchases {
            s.buy(c, k as i64 * 2, 5_000);
        }
        s.p.column("ledger.used", Column::number).put_number(c, Some(used));
        s.p.column("ledger.earned_total", Column::number).put_number(c, Some(100));
        c
    };
    let all_four = vip(&mut s, 200, 90, 11);
    let points_at_80 = vip(&mut s, 200, 80, 11);
    let too_new = vip(&mut s, 180, 90, 11);
    let ten_purchases = vip(&mut s, 200, 90, 10);
    s.settle();
    let settings = Settings::default();
    let t = thresholds(&s.p, &settings, TODAY);
    assert_eq!(members(&s.p, def("auto:vip"), &settings, &t), [all_four]);
    let _ = (points_at_80, too_new, ten_purchases);
    // A 60-day window asks for 2 months' worth: 1000.00 and 20 purchases.
    let window = Settings { vip_window_days: 60, ..Settings::default() };
    assert_eq!(members(&s.p, def("auto:vip"), &window, &t), Vec::<usize>::new());
    let cheaper = Settings { vip_monthly_spend_minor: 40_000, vip_monthly_purchases: 9, ..Settings::default() };
    assert_eq!(members(&s.p, def("auto:vip"), &cheaper, &t), [all_four, ten_purchases]);
}

/// Client i bought i + 1 times 10.00, the last 10 × i days ago (the others the days before).
fn graded() -> Shop {
    let mut s = Shop::new();
    for i in 0..10i64 {
        let c = s.client(500);
        for k in 0..=i {
            s.buy(c, 10 * i + k, 1_000);
        }
    }
    s.settle();
    s
}

#[test]
fn rfm_scores_are_quintiles_and_cells_name_the_segments() {
    let mut s = graded();
    let scored = rfm::score(&s.p, TODAY, 365);
    assert_eq!(scored.scored, 10);
    assert_eq!(scored.bounds.recency_days, [10, 30, 50, 70]);
    assert_eq!(scored.bounds.frequency, [2, 4, 6, 8]);
    assert_eq!(scored.bounds.monetary, [2_000, 4_000, 6_000, 8_000]);
    let r: Vec<u8> = scored.scores.iter().map(|x| x[0]).collect();
    let f: Vec<u8> = scored.scores.iter().map(|x| x[1]).collect();
    assert_eq!(r, [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]);
    assert_eq!(f, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
    let cells = scored.cells(&s.p.live);
    assert_eq!((cells[4][0], cells[3][1], cells[2][2], cells[1][3], cells[0][4]), (2, 2, 2, 2, 2));
    rfm::keep(&mut s.p, &scored);
    let mut segments = Segments::new();
    let mut state = State { thresholds: Some(thresholds(&s.p, &Settings::default(), TODAY)), ..State::default() };
    install(&mut segments, &state, time::OffsetDateTime::UNIX_EPOCH);
    state.rfm = Some(scored);
    let who = |id: &str| {
        crate::domain::segments::members(&s.p, &segments, id, TODAY, "LT").map(|b| b.rows().collect::<Vec<_>>())
    };
    assert_eq!(who("rfm:new_customers"), Some(vec![0, 1]));
    assert_eq!(who("rfm:potential_loyalists"), Some(vec![2, 3]));
    assert_eq!(who("rfm:need_attention"), Some(vec![4, 5]));
    assert_eq!(who("rfm:at_risk"), Some(vec![6, 7]));
    assert_eq!(who("rfm:cannot_lose"), Some(vec![8, 9]));
    assert_eq!(who("rfm:champions"), Some(vec![]));
    assert_eq!(who("auto:spenders").map(|m| m.len()), Some(10), "built-in ids resolve like saved ones");
}

#[test]
fn rfm_as_of_an_earlier_day_leaves_later_purchases_out() {
    let s = graded();
    // 95 days ago only client 9 had bought (its purchases lie 90..=99 days back; 5 of them by then).
    let scored = rfm::score(&s.p, TODAY - 95, 365);
    assert_eq!(scored.scored, 1);
    assert_eq!(scored.bounds.frequency, [5, 5, 5, 5]);
    assert_eq!(scored.scores[9], [5, 1, 1], "alone: recency 0 days, at every cut point");
    // A look-back of 5 days ending today sees one purchase of each client bought within it.
    let short = rfm::score(&s.p, TODAY, 5);
    assert_eq!(short.scored, 10, "recency is over all time");
    assert_eq!(short.bounds.frequency, [0, 0, 0, 0]);
}

#[test]
fn every_rfm_name_is_a_cell_and_every_cell_has_a_name() {
    let names: std::collections::BTreeSet<&str> = rfm::NAMES.iter().flatten().copied().collect();
    let listed: std::collections::BTreeSet<&str> = RFM_SEGMENTS.iter().map(|(_, _, n)| *n).collect();
    assert_eq!(names, listed);
    let catalogue = crate::domain::facts::find("rfm.segment").map(|f| f.values.clone()).unwrap_or_default();
    assert_eq!(catalogue.into_iter().collect::<std::collections::BTreeSet<_>>(), listed);
}
