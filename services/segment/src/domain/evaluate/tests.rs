//! Every operator and combination rule on a small population made by hand, with the exact members
//! each filter must select. Filters are written in their text form.
use super::*;
use crate::domain::column::Column;
use crate::domain::text::parse;
use crate::domain::validate::check;
use uuid::Uuid;

/// 2026-03-10 as a day number: "today" of these tests.
pub(super) const TODAY: i64 = 20_522;

fn day(y: i32, m: u8, d: u8) -> i64 {
    day_number(time::Date::from_calendar_date(y, time::Month::try_from(m).expect("month"), d).expect("date"))
}

pub(super) struct Town {
    pub(super) p: Population,
    names: Vec<&'static str>,
}

impl Town {
    pub(super) fn empty() -> Self {
        Town { p: Population::default(), names: Vec::new() }
    }

    pub(super) fn client(&mut self, name: &'static str) -> usize {
        self.names.push(name);
        self.p.row(Uuid::from_u128(self.names.len() as u128)) as usize
    }

    pub(super) fn text(&mut self, row: usize, fact: &'static str, value: &str) {
        self.p.column(fact, Column::text).put_text(row, &loyalty_platform::text::fold(value));
    }

    pub(super) fn raw(&mut self, row: usize, fact: &'static str, value: &str) {
        self.p.column(fact, Column::text).put_text(row, value);
    }

    pub(super) fn number(&mut self, row: usize, fact: &'static str, value: i64) {
        self.p.column(fact, Column::number).put_number(row, Some(value));
    }

    pub(super) fn tags(&mut self, row: usize, tags: &[&str]) {
        let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        self.p.column("tags", Column::set).put_set(row, &tags);
    }

    /// A purchase of `amount` (minor units) on `day` in `store`, with lines (sku, pieces, amount).
    pub(super) fn purchase(
        &mut self,
        row: usize,
        key: &str,
        day: i64,
        amount: i64,
        store: &str,
        lines: &[(&str, i64, i64)],
    ) {
        let purchases = self.p.table("purchases");
        let r = purchases.row(key, row as u32, day);
        purchases.column("amount", Column::number).put_number(r, Some(amount));
        purchases.column("items", Column::number).put_number(r, Some(lines.len() as i64));
        purchases.column("store", Column::text).put_text(r, store);
        let table = self.p.table("purchase_lines");
        for (sku, pieces, minor) in lines {
            let l = table.add(row as u32, day);
            table.put_indexed("purchase_lines.sku", l, sku);
            table.column("purchase_lines.quantity", Column::number).put_number(l, Some(pieces * 100));
            table.column("purchase_lines.amount", Column::number).put_number(l, Some(*minor));
            table.column("purchase_lines.store", Column::text).put_text(l, store);
        }
        crate::domain::tally::recompute(&mut self.p, row as u32);
    }

    /// The names of the clients `text` selects, in the order they were made.
    fn who(&self, text: &str) -> Vec<&'static str> {
        let filter = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let problems = check(&filter, "filter");
        assert!(problems.is_empty(), "{text}: {problems:?}");
        let vip_segment = |id: &str| (id == "seg-vip").then(|| Bits::from_fn(self.p.len(), |r| r == 0 || r == 3));
        let cx = Context { today: TODAY, phone_region: "LT", segment: &vip_segment };
        evaluate(&self.p, &filter, &cx).rows().map(|r| self.names[r]).collect()
    }
}

/// Ona, Jonas, Eglė, Petras, Rasa (erased) and Mantas (merged into Jonas).
fn town() -> Town {
    let mut t = Town { p: Population::default(), names: Vec::new() };
    let ona = t.client("ona");
    t.text(ona, "client.gender", "female");
    t.text(ona, "client.city", "Vilnius");
    t.raw(ona, "client.email", "ona@example.lt");
    t.raw(ona, "client.phone", "+37061200001");
    t.number(ona, "client.birth_date", day(1990, 3, 14));
    t.number(ona, "client.registered_at", TODAY);
    t.text(ona, "consent.email", "subscribed");
    t.tags(ona, &["vip"]);
    t.purchase(ona, "p1", TODAY - 1, 10_500, "VLN-01", &[("MILK", 2, 500), ("SNEAKER-1", 1, 10_000)]);

    let jonas = t.client("jonas");
    t.text(jonas, "client.gender", "male");
    t.text(jonas, "client.city", "Kaunas");
    t.number(jonas, "client.birth_date", day(1985, 12, 28));
    t.number(jonas, "client.registered_at", TODAY - 400);
    t.text(jonas, "consent.email", "unsubscribed");
    t.tags(jonas, &["vip", "staff"]);
    t.purchase(jonas, "p2", TODAY - 100, 12_000, "KNS-01", &[("SNEAKER-1", 1, 12_000)]);
    t.purchase(jonas, "p3", TODAY - 40, 3_000, "VLN-01", &[("MILK", 6, 3_000)]);

    let egle = t.client("egle");
    t.text(egle, "client.gender", "female");
    t.text(egle, "client.city", "Šiauliai");
    t.number(egle, "client.birth_date", day(2000, 2, 29));
    t.number(egle, "client.registered_at", TODAY - 1);
    t.tags(egle, &["staff"]);

    let petras = t.client("petras");
    t.number(petras, "client.registered_at", TODAY - 30);
    for (i, amount) in [1_000, 2_000, 3_000].into_iter().enumerate() {
        let lines: &[(&str, i64, i64)] = if i < 2 { &[("SNEAKER-2", 1, 1_000)] } else { &[("MILK", 1, 3_000)] };
        t.purchase(petras, &format!("p4-{i}"), TODAY - 29 + i as i64, amount, "KNS-01", lines);
    }

    let rasa = t.client("rasa");
    t.text(rasa, "client.city", "Vilnius");
    t.purchase(rasa, "p5", TODAY, 50_000, "VLN-01", &[("SNEAKER-1", 3, 50_000)]);
    t.p.forget(Uuid::from_u128(5));

    let mantas = t.client("mantas");
    t.text(mantas, "client.city", "Kaunas");
    t.purchase(mantas, "p6", TODAY - 2, 7_000, "VLN-01", &[("SNEAKER-1", 1, 7_000)]);
    t.p.merge(Uuid::from_u128(2), Uuid::from_u128(6));
    crate::domain::tally::recompute(&mut t.p, jonas as u32);
    t.p.settle();
    t
}

#[test]
fn client_facts_texts_enums_and_identifiers() {
    let t = town();
    assert_eq!(t.who(r#"client.city = "vilnius""#), ["ona"], "case does not matter; Rasa was erased");
    assert_eq!(t.who(r#"client.city = "Siauliai""#), ["egle"], "nor do accents");
    assert_eq!(t.who(r#"client.city != "Vilnius""#), ["jonas", "egle", "petras"], "!= keeps the unknown city");
    assert_eq!(t.who(r#"client.city any of ("Kaunas", "Vilnius")"#), ["ona", "jonas"]);
    assert_eq!(t.who(r#"client.city none of ("Kaunas", "Vilnius")"#), ["egle", "petras"]);
    assert_eq!(t.who(r#"client.city contains "au""#), ["jonas", "egle"]);
    assert_eq!(t.who(r#"client.city starts with ("v", "š")"#), ["ona", "egle"]);
    assert_eq!(t.who("client.city is not set"), ["petras"]);
    assert_eq!(t.who(r#"client.gender = "female""#), ["ona", "egle"]);
    assert_eq!(t.who(r#"client.email = "ONA@example.lt ""#), ["ona"], "emails match in any case");
    assert_eq!(t.who(r#"client.phone = "8 612 00001""#), ["ona"], "a phone typed as cashiers type it");
    assert_eq!(t.who(r#"consent.email = "subscribed""#), ["ona"]);
}

#[test]
fn numbers_dates_relative_days_and_anniversaries() {
    let t = town();
    assert_eq!(t.who("client.age between 36 and 45"), ["jonas"], "Ona is 35 until her birthday in four days");
    assert_eq!(t.who("client.age = 35"), ["ona"]);
    assert_eq!(t.who("client.age between 25 and 35"), ["ona", "egle"]);
    assert_eq!(t.who("client.age >= 40"), ["jonas"]);
    assert_eq!(
        t.who("client.registered_at days ago between 0 and 1"),
        ["ona", "egle"],
        "0 is today: joined today or yesterday"
    );
    assert_eq!(t.who("client.days_in_programme between 0 and 1"), ["ona", "egle"]);
    assert_eq!(
        t.who("client.registered_at between 2026-02-08 and 2026-03-09"),
        ["egle", "petras"],
        "both ends included"
    );
    assert_eq!(t.who("client.birth_date anniversary within 4 days"), ["ona"], "14 March is four days away");
    assert_eq!(t.who("client.birth_date anniversary within 3 days"), Vec::<&str>::new());
    assert_eq!(t.who("client.birth_date anniversary in (2)"), ["egle"], "29 February counts in February");
    assert_eq!(t.who("client.birth_date anniversary in this month"), ["ona"]);
    assert_eq!(t.who("client.birth_date is not set"), ["petras"]);
}

#[test]
fn birthdays_across_the_year_end_and_on_29_february() {
    use super::client::days_to_anniversary;
    let dec_30 = day(2026, 12, 30);
    assert_eq!(days_to_anniversary(day(1990, 1, 2), dec_30), 3, "2 January is three days after 30 December");
    assert_eq!(days_to_anniversary(day(1990, 12, 30), dec_30), 0, "today");
    assert_eq!(days_to_anniversary(day(2000, 2, 29), day(2027, 2, 27)), 1, "28 February in a year without the 29th");
    assert_eq!(days_to_anniversary(day(2000, 2, 29), day(2028, 2, 27)), 2, "29 February in a leap year");
}

#[test]
fn purchases_over_all_time_and_windows() {
    let t = town();
    assert_eq!(t.who("purchases.count >= 2"), ["jonas", "petras"], "Mantas's purchase moved to Jonas");
    assert_eq!(t.who("purchases.count = 0"), ["egle"], "prospects");
    assert_eq!(t.who("purchases.sum(last 30 days) >= 60.00"), ["ona", "jonas", "petras"], "Jonas: Mantas's 70.00");
    assert_eq!(t.who("purchases.sum(last 30 days) between 60.00 and 70.00"), ["jonas", "petras"], "both ends included");
    assert_eq!(t.who("purchases.sum(2026-01-29..2026-01-29) > 0"), ["jonas"], "one calendar day");
    assert_eq!(t.who("purchases.count(last 1 days) >= 1"), Vec::<&str>::new(), "the last 1 day is today only");
    assert_eq!(t.who("purchases.count(last 2 days) >= 1"), ["ona"]);
    assert_eq!(t.who("purchases.average_check >= 100.00"), ["ona"], "Jonas: 220.00 / 3");
    assert_eq!(t.who("purchases.max_check > 100"), ["ona", "jonas"]);
    assert_eq!(t.who("purchases.days_since_last >= 10"), ["petras"]);
    assert_eq!(t.who("purchases.last_at days ago between 0 and 2"), ["ona", "jonas"]);
    assert_eq!(t.who(r#"purchases.stores any of ("KNS-01")"#), ["jonas", "petras"]);
    assert_eq!(t.who(r#"purchases.stores all of ("KNS-01", "VLN-01")"#), ["jonas"]);
    assert_eq!(t.who(r#"purchases.stores none of ("KNS-01")"#), ["ona", "egle"], "never bought there, or never bought");
    assert_eq!(t.who(r#"purchases.most_frequent_store = "VLN-01""#), ["ona", "jonas"], "Jonas: twice in VLN-01");
    assert_eq!(t.who(r#"purchases.last_store = "KNS-01""#), ["petras"]);
    assert_eq!(t.who("purchases.date days ago between 99 and 101"), ["jonas"]);
}

#[test]
fn row_facts_with_dependent_conditions_and_their_negation() {
    let t = town();
    assert_eq!(t.who(r#"purchase_lines.sku any of ("SNEAKER-1")"#), ["ona", "jonas"]);
    assert_eq!(
        t.who(r#"purchase_lines.sku any of ("SNEAKER-1") where (purchase_lines.count >= 2)"#),
        ["jonas"],
        "only lines of the sneaker count: Jonas bought it twice (once as Mantas)"
    );
    assert_eq!(t.who(r#"purchase_lines.sku = "MILK" where (purchase_lines.quantity >= 6)"#), ["jonas"]);
    assert_eq!(t.who(r#"purchase_lines.sku = "MILK" where (purchase_lines.store = "KNS-01")"#), ["petras"]);
    assert_eq!(t.who(r#"not purchase_lines.sku any of ("SNEAKER-1")"#), ["egle", "petras"], "no line of X");
    assert_eq!(
        t.who(r#"purchase_lines.sku none of ("SNEAKER-1")"#),
        ["ona", "jonas", "petras"],
        "a line that is not X"
    );
    assert_eq!(t.who(r#"purchase_lines.sku(last 30 days) = "SNEAKER-1""#), ["ona", "jonas"]);
    assert_eq!(t.who("purchase_lines.count(last 30 days) = 0"), ["egle"], "no line in the window");
}

#[test]
fn combinations_groups_exclusion_tags_and_segments() {
    let t = town();
    assert_eq!(t.who(r#"client.gender = "female" and purchases.count >= 1"#), ["ona"]);
    assert_eq!(t.who(r#"client.gender = "female" or purchases.count >= 3"#), ["ona", "jonas", "egle", "petras"]);
    assert_eq!(t.who(r#"not client.gender = "female""#), ["jonas", "petras"]);
    assert_eq!(
        t.who(r#"client.city = "Kaunas" or (client.gender = "female" and not tags any of ("staff"))"#),
        ["ona", "jonas"]
    );
    assert_eq!(t.who(r#"not (tags any of ("vip") or client.city = "Kaunas")"#), ["egle", "petras"]);
    assert_eq!(t.who(r#"tags all of ("vip", "staff")"#), ["jonas"]);
    assert_eq!(t.who(r#"tags none of ("vip")"#), ["egle", "petras"]);
    assert_eq!(t.who(r#"tags any of ("unknown-tag")"#), Vec::<&str>::new());
    assert_eq!(t.who(r#"segments any of ("seg-vip")"#), ["ona", "petras"]);
    assert_eq!(t.who(r#"segments none of ("seg-vip", "seg-gone")"#), ["jonas", "egle"]);
}

#[test]
fn calendar_arithmetic_agrees_with_the_calendar() {
    for d in (-200_000i64..200_000).step_by(37) {
        let (y, m, dd) = civil(d);
        let date =
            time::Date::from_julian_day(time::macros::date!(1970 - 01 - 01).to_julian_day() + d as i32).expect("date");
        assert_eq!((y, m, dd), (i64::from(date.year()), i64::from(u8::from(date.month())), i64::from(date.day())));
        assert_eq!(days_from_civil(y, m, dd), d);
    }
}
