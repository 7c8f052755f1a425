//! The dashboard's figures on a population built from feed events in Vilnius time, with the exact
//! numbers each must give: today and 30 days earlier, bucket edges, and a change that lands on the
//! next local day.
use super::*;
use crate::domain::apply::apply;
use loyalty_api::common::v1::{ConsentStatus, ContactChannel, Money};
use loyalty_api::events::v1::{self as ev, event::Payload};

fn day(y: i32, m: u8, d: u8) -> i64 {
    day_number(time::Date::from_calendar_date(y, time::Month::try_from(m).expect("month"), d).expect("date"))
}

fn at(rfc3339: &str) -> Option<prost_types::Timestamp> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).expect("time");
    Some(loyalty_platform::convert::to_timestamp(t))
}

fn id(n: u128) -> String {
    uuid::Uuid::from_u128(n).to_string()
}

struct Feed {
    p: Population,
    zone: loyalty_platform::tz::TimeZone,
}

impl Feed {
    fn send(&mut self, payload: Payload) {
        apply(&mut self.p, &ev::Event { payload: Some(payload), ..Default::default() }, &self.zone);
    }

    fn join(&mut self, n: u128, gender: &str, when: &str, identified: bool, tags: &[&str]) {
        self.update(n, gender, when, when, identified, tags);
    }

    fn update(&mut self, n: u128, gender: &str, joined: &str, when: &str, identified: bool, tags: &[&str]) {
        self.send(Payload::ClientUpserted(ev::ClientUpserted {
            client_id: id(n),
            gender: gender.into(),
            registered_at: at(joined),
            updated_at: at(when),
            identified,
            tag_ids: tags.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        }));
    }

    fn email(&mut self, n: u128, status: ConsentStatus, when: &str) {
        self.send(Payload::ConsentChanged(ev::ConsentChanged {
            client_id: id(n),
            channel: ContactChannel::Email as i32,
            status: status as i32,
            changed_at: at(when),
            ..Default::default()
        }));
    }

    fn buy(&mut self, n: u128, key: &str, when: &str, minor: i64) {
        self.send(Payload::PurchaseRecorded(ev::PurchaseRecorded {
            purchase_id: key.into(),
            client_id: id(n),
            purchased_at: at(when),
            amount: Some(Money { minor_units: minor, currency: "EUR".into() }),
            ..Default::default()
        }));
    }
}

const ONA: u128 = 1;
const JONAS: u128 = 2;
const EGLE: u128 = 3;
const PETRAS: u128 = 4;

/// Ona joined 5 Jan 2026 (identified, female, tags vip and staff), subscribed to email on 10 Jan,
/// unsubscribed on 20 Feb, bought 60.00 on 1 Feb and 9 Mar. Jonas joined 20 Jan (male,
/// unidentified until 15 Feb, tag vip), bought 30.00 on 25 Jan, never gave an email consent. Eglė
/// joined 1 Feb (female) and subscribed at 00:30 on 1 March Vilnius time (22:30 UTC on 28 Feb).
/// Petras joined 5 Mar, nothing else.
fn town() -> Population {
    let mut f = Feed { p: Population::default(), zone: loyalty_platform::tz::stored("Europe/Vilnius") };
    f.join(ONA, "female", "2026-01-05T10:00:00Z", true, &["vip", "staff"]);
    f.join(JONAS, "male", "2026-01-20T10:00:00Z", false, &["vip"]);
    f.join(EGLE, "female", "2026-02-01T10:00:00Z", false, &[]);
    f.join(PETRAS, "", "2026-03-05T10:00:00Z", false, &[]);
    f.update(JONAS, "male", "2026-01-20T10:00:00Z", "2026-02-15T10:00:00Z", true, &["vip"]);
    f.email(ONA, ConsentStatus::Subscribed, "2026-01-10T10:00:00Z");
    f.email(ONA, ConsentStatus::Unsubscribed, "2026-02-20T10:00:00Z");
    f.email(EGLE, ConsentStatus::Subscribed, "2026-02-28T22:30:00Z");
    f.buy(ONA, "p1", "2026-02-01T10:00:00Z", 6_000);
    f.buy(JONAS, "p2", "2026-01-25T10:00:00Z", 3_000);
    f.buy(ONA, "p3", "2026-03-09T10:00:00Z", 6_000);
    f.p.settle();
    f.p
}

fn all(p: &Population) -> Bits {
    let mut b = p.live.clone();
    b.grow(p.len());
    b
}

const THRESHOLDS: Thresholds =
    Thresholds { big_from: 10_000, medium_from: 5_000, average_purchases_milli: 1_500, day: 0 };

fn values(series: &[Series]) -> Vec<(String, Vec<i64>)> {
    series.iter().map(|s| (s.name.clone(), s.points.iter().map(|p| p.value).collect())).collect()
}

fn named(pairs: &[(&str, &[i64])]) -> Vec<(String, Vec<i64>)> {
    pairs.iter().map(|(n, v)| (n.to_string(), v.to_vec())).collect()
}

#[test]
fn buckets_start_on_mondays_the_first_of_the_month_and_first_of_january() {
    let weeks = buckets(day(2025, 12, 30), day(2026, 1, 13), Granularity::Week);
    assert_eq!(
        weeks,
        [
            (day(2025, 12, 29), day(2026, 1, 4)),
            (day(2026, 1, 5), day(2026, 1, 11)),
            (day(2026, 1, 12), day(2026, 1, 13))
        ]
    );
    let months = buckets(day(2024, 1, 31), day(2024, 3, 1), Granularity::Month);
    assert_eq!(
        months,
        [(day(2024, 1, 1), day(2024, 1, 31)), (day(2024, 2, 1), day(2024, 2, 29)), (day(2024, 3, 1), day(2024, 3, 1))],
        "a leap February ends on the 29th"
    );
    let december = buckets(day(2025, 11, 20), day(2026, 1, 2), Granularity::Month);
    assert_eq!(december[1], (day(2025, 12, 1), day(2025, 12, 31)));
    assert_eq!(december[2], (day(2026, 1, 1), day(2026, 1, 2)));
    let years = buckets(day(2025, 12, 31), day(2026, 1, 1), Granularity::Year);
    assert_eq!(years, [(day(2025, 1, 1), day(2025, 12, 31)), (day(2026, 1, 1), day(2026, 1, 1))]);
    assert_eq!(buckets(day(2026, 1, 1), day(2026, 1, 3), Granularity::Day).len(), 3);
    assert!(buckets(day(2026, 1, 3), day(2026, 1, 1), Granularity::Day).is_empty());
}

#[test]
fn kpis_on_a_day_and_thirty_days_before_it() {
    let p = town();
    let seen = all(&p);
    let settings = Settings { sleeping_days: 40, ..Settings::default() };
    let board = Board::new(&p, &seen, &settings, THRESHOLDS);
    let vip = |d: i64| if d == day(2026, 3, 10) { 7 } else { 3 };
    let today = board.kpis(day(2026, 3, 10), &vip);
    assert_eq!(
        today,
        Kpis { total: 4, active: 1, vip: 7, sleeping: 1, new: 1, email: [1, 1, 2], sms: [0, 0, 4] },
        "Ona unsubscribed, Eglė subscribed; Jonas (last bought 44 days ago) sleeps; Petras is new"
    );
    let earlier = board.kpis(day(2026, 2, 8), &vip);
    assert_eq!(
        earlier,
        Kpis { total: 3, active: 2, vip: 3, sleeping: 0, new: 2, email: [1, 0, 2], sms: [0, 0, 3] },
        "on 8 Feb Ona was subscribed, Eglė not yet; Jonas and Eglė had joined within 30 days"
    );
    // A token that does not see Ona.
    let mut without_ona = seen.clone();
    without_ona.set(0, false);
    let scoped = Board::new(&p, &without_ona, &settings, THRESHOLDS);
    let kpis = scoped.kpis(day(2026, 3, 10), &|_| 0);
    assert_eq!((kpis.total, kpis.active, kpis.email), (3, 0, [1, 0, 2]));
}

#[test]
fn subscriptions_over_time_count_the_change_on_the_tenant_s_local_day() {
    let p = town();
    let seen = all(&p);
    let settings = Settings::default();
    let board = Board::new(&p, &seen, &settings, THRESHOLDS);
    let months = buckets(day(2026, 1, 1), day(2026, 3, 10), Granularity::Month);
    let series = board.subscriptions_over_time("email", &months);
    // End of January: Ona subscribed, Jonas unknown. End of February: Ona unsubscribed, Jonas and
    // Eglė unknown (Eglė's subscription is on 1 March in Vilnius). 10 March: Petras joined too.
    assert_eq!(
        values(&series),
        named(&[("subscribed", &[1, 0, 1]), ("unsubscribed", &[0, 1, 1]), ("unknown", &[1, 2, 2])])
    );
    assert_eq!(
        series[0].points.iter().map(|p| p.day).collect::<Vec<_>>(),
        months.iter().map(|m| Some(m.0)).collect::<Vec<_>>()
    );
    let days = buckets(day(2026, 2, 28), day(2026, 3, 1), Granularity::Day);
    assert_eq!(values(&board.subscriptions_over_time("email", &days))[0], ("subscribed".to_string(), vec![0, 1]));
    let identified = board.identified_over_time(&months);
    assert_eq!(values(&identified), named(&[("identified", &[1, 2, 2]), ("unidentified", &[1, 1, 2])]));
}

#[test]
fn distributions_of_the_last_day() {
    let p = town();
    let seen = all(&p);
    let settings = Settings::default();
    let board = Board::new(&p, &seen, &settings, THRESHOLDS);
    let d = day(2026, 3, 10);
    let by_gender = board.subscriptions_by_gender("email", d);
    assert_eq!(
        values(&by_gender),
        named(&[("subscribed", &[1, 0, 0, 0, 0]), ("unsubscribed", &[1, 0, 0, 0, 0]), ("unknown", &[0, 1, 0, 1, 0])])
    );
    assert_eq!(by_gender[0].points.iter().map(|p| p.label.as_str()).collect::<Vec<_>>(), GENDERS);
    assert_eq!(values(&board.prospects_vs_spenders(d)), named(&[("clients", &[2, 2])]));
    assert_eq!(values(&board.activity(d)), named(&[("spenders", &[1, 0, 1])]), "Ona yesterday, Jonas 44 days ago");
    let (value, frequency) = board.spenders(d);
    assert_eq!(values(&value), named(&[("spenders", &[1, 0, 1])]), "Ona 120.00 is big, Jonas 30.00 small");
    assert_eq!(values(&frequency), named(&[("spenders", &[1, 0, 1])]));
    let (value, _) = board.spenders(day(2026, 2, 8));
    assert_eq!(values(&value), named(&[("spenders", &[0, 1, 1])]), "on 8 Feb Ona had spent 60.00");
    let tags = board.top_tags();
    assert_eq!(
        tags[0].points.iter().map(|p| (p.label.as_str(), p.value)).collect::<Vec<_>>(),
        [("vip", 2), ("staff", 1)]
    );
}

#[test]
fn registration_order_is_by_day_then_row_with_undated_clients_first() {
    let mut p = Population::default();
    let days = [Some(20), None, Some(5), Some(20), Some(7), None, Some(5)];
    for (i, d) in days.iter().enumerate() {
        let r = p.row(uuid::Uuid::from_u128(i as u128 + 1)) as usize;
        if let Some(d) = d {
            p.column("client.registered_at", crate::domain::column::Column::number).put_number(r, Some(*d));
        }
    }
    let (seen, settings) = (all(&p), Settings::default());
    let board = Board::new(&p, &seen, &settings, THRESHOLDS);
    // Undated clients count as joined from the beginning of time.
    let joined: Vec<i64> = [0, 4, 5, 6, 7, 19, 20, 21].iter().map(|d| board.kpis(*d, &|_| 0).total).collect();
    assert_eq!(joined, [2, 2, 4, 4, 5, 5, 7, 7]);
}
