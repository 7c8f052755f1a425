use super::*;
use loyalty_api::common::v1::Date;
use loyalty_api::filter::v1::{Condition, DateRange, Operator, Value, Window, value, window};
use proptest::prelude::*;

fn text(t: &str) -> Value {
    Value { kind: Some(value::Kind::Text(t.into())) }
}

fn int(n: i64) -> Value {
    Value { kind: Some(value::Kind::Integer(n)) }
}

fn decimal(d: &str) -> Value {
    Value { kind: Some(value::Kind::Decimal(d.into())) }
}

fn cond(fact: &str, op: Operator, values: Vec<Value>) -> Condition {
    Condition { fact: fact.into(), operator: op as i32, values, ..Default::default() }
}

#[test]
fn the_issue_s_example_reads_as_two_conditions_one_excluded() {
    let f = parse(r#"purchases.sum(last 30 days) >= 100.00 and not tags any of ("staff")"#).expect("parses");
    let sum = Condition {
        window: Some(Window { kind: Some(window::Kind::LastDays(30)) }),
        ..cond("purchases.sum", Operator::GreaterOrEqual, vec![decimal("100.00")])
    };
    let staff = Condition { exclude: true, ..cond("tags", Operator::AnyOf, vec![text("staff")]) };
    assert_eq!(f, Filter { combinator: Combinator::All as i32, conditions: vec![sum, staff], ..Default::default() });
    assert_eq!(format(&f).expect("formats"), r#"purchases.sum(last 30 days) >= 100.00 and not tags any of ("staff")"#);
}

#[test]
fn groups_dependent_conditions_dates_and_anniversaries() {
    let cases = [
        r#"client.city any of ("Vilnius", "Kaunas") or (client.gender = "female" and client.age between 25 and 35)"#,
        r#"purchase_lines.sku any of ("SNEAKER-1") where (purchase_lines.quantity >= 2)"#,
        "client.birth_date anniversary within 7 days and client.registered_at days ago between 0 and 1",
        "purchases.count(2025-01-01..2025-01-31) >= 1 or client.birth_date anniversary in this month",
        "client.birth_date anniversary in (2, 12) and not (client.email is set or client.phone is not set)",
        r#"client.last_name starts with ("Kaz", "Pet") and client.notes contains "vip" and client.vip = true"#,
        r#"client.city != "Riga" and purchases.max_check < -0.50 and cards.issued_at <= 2024-02-29"#,
    ];
    for case in cases {
        let f = parse(case).unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(format(&f).expect("formats"), case, "reads back to itself");
    }
    let nested = parse("a = 1 or (b = 2 and (c = 3 or d = 4))").expect("parses");
    assert_eq!(nested.combinator, Combinator::Any as i32);
    assert_eq!(nested.groups[0].groups[0].conditions.len(), 2);
}

#[test]
fn errors_point_at_the_character_and_say_what_was_expected() {
    let cases = [
        ("", 0, "the filter is empty"),
        ("client.city", 11, "expected an operator"),
        ("client.city = ", 14, "expected a value"),
        ("a = 1 and b = 2 or c = 3", 16, "mixing them needs parentheses"),
        ("a = 1 b = 2", 6, "expected \"and\", \"or\" or the end"),
        ("(a = 1", 6, "\")\" to close the group"),
        ("tags any of \"x\"", 12, "\"(\" before the list"),
        ("a(last x days) = 1", 7, "the number of days"),
        ("a = 2025-02-30", 4, "not a day of the calendar"),
        ("and = 1", 0, "expected a fact"),
        ("a = 99999999999999999999", 4, "too large"),
        ("a days ago between 1 or 2", 21, "\"and\" between the two ends"),
    ];
    for (input, at, message) in cases {
        let e = parse(input).expect_err(input);
        assert_eq!(e.at, at, "{input}: {e}");
        assert!(e.message.contains(message), "{input}: {e}");
    }
}

#[test]
fn shapes_the_text_cannot_write_are_named_by_their_path() {
    let wrong_count = Filter { conditions: vec![cond("a", Operator::Equal, vec![])], ..Default::default() };
    assert_eq!(format(&wrong_count).expect_err("no value").path, "conditions[0].values");
    let bad_fact = Filter { conditions: vec![cond("Client City", Operator::IsSet, vec![])], ..Default::default() };
    assert_eq!(format(&bad_fact).expect_err("name").path, "conditions[0].fact");
    let bad_decimal =
        Filter { conditions: vec![cond("a", Operator::Equal, vec![decimal("12")])], ..Default::default() };
    assert_eq!(format(&bad_decimal).expect_err("decimal").path, "conditions[0].values[0]");
    let empty = Filter::default();
    assert!(format(&empty).is_err());
}

// ---- round trip over generated filters

fn fact() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("client.city".to_string()),
        Just("purchases.sum".to_string()),
        Just("tags".to_string()),
        "[a-z_][a-z0-9_]{0,6}(\\.[a-z_][a-z0-9_]{0,6})?"
            .prop_filter("not a keyword", |f| !KEYWORDS.contains(&f.as_str())),
    ]
}

fn date() -> impl Strategy<Value = Date> {
    (1i32..=9999, 1i32..=12, 1i32..=28).prop_map(|(year, month, day)| Date { year, month, day })
}

fn a_value() -> impl Strategy<Value = Value> {
    let kind = prop_oneof![
        any::<String>().prop_map(value::Kind::Text),
        any::<i64>().prop_map(value::Kind::Integer),
        (any::<i32>(), 0u32..1000).prop_map(|(w, f)| value::Kind::Decimal(format!("{w}.{f:03}"))),
        date().prop_map(value::Kind::Date),
        any::<bool>().prop_map(value::Kind::Boolean),
    ];
    kind.prop_map(|k| Value { kind: Some(k) })
}

fn operator_and_values() -> impl Strategy<Value = (Operator, Vec<Value>)> {
    let one = prop_oneof![
        Just(Operator::Equal),
        Just(Operator::NotEqual),
        Just(Operator::Less),
        Just(Operator::LessOrEqual),
        Just(Operator::Greater),
        Just(Operator::GreaterOrEqual),
    ];
    let list = prop_oneof![Just(Operator::AnyOf), Just(Operator::AllOf), Just(Operator::NoneOf)];
    let texty = prop_oneof![Just(Operator::Contains), Just(Operator::StartsWith)];
    prop_oneof![
        (one, a_value()).prop_map(|(op, v)| (op, vec![v])),
        (a_value(), a_value()).prop_map(|(a, b)| (Operator::Between, vec![a, b])),
        (list, prop::collection::vec(a_value(), 1..4)).prop_map(|(op, v)| (op, v)),
        (texty, prop::collection::vec(a_value(), 1..3)).prop_map(|(op, v)| (op, v)),
        Just((Operator::IsSet, vec![])),
        Just((Operator::IsNotSet, vec![])),
        (any::<i64>(), any::<i64>()).prop_map(|(a, b)| (Operator::DaysAgoBetween, vec![int(a), int(b)])),
        any::<i64>().prop_map(|n| (Operator::AnniversaryWithinDays, vec![int(n)])),
        prop::collection::vec(1i64..=12, 0..3)
            .prop_map(|m| (Operator::AnniversaryInMonth, m.into_iter().map(int).collect())),
    ]
}

fn window() -> impl Strategy<Value = Option<Window>> {
    prop_oneof![
        Just(None),
        any::<i32>().prop_map(|d| Some(Window { kind: Some(window::Kind::LastDays(d)) })),
        (date(), date()).prop_map(|(from, to)| Some(Window {
            kind: Some(window::Kind::Dates(DateRange { from: Some(from), to: Some(to) }))
        })),
    ]
}

fn condition() -> impl Strategy<Value = Condition> {
    let plain =
        (fact(), operator_and_values(), any::<bool>(), window()).prop_map(|(fact, (op, values), exclude, window)| {
            Condition { fact, operator: op as i32, values, exclude, window, dependent: vec![] }
        });
    plain.prop_recursive(2, 6, 2, |inner| {
        (inner.clone(), prop::collection::vec(inner, 0..3)).prop_map(|(mut c, dependent)| {
            c.dependent = dependent;
            c
        })
    })
}

fn filter() -> impl Strategy<Value = Filter> {
    let combinator = prop_oneof![Just(Combinator::All), Just(Combinator::Any), Just(Combinator::Unspecified)];
    let leaf = (combinator.clone(), prop::collection::vec(condition(), 1..4), any::<bool>())
        .prop_map(|(c, conditions, exclude)| Filter { combinator: c as i32, conditions, groups: vec![], exclude });
    leaf.prop_recursive(3, 12, 3, move |inner| {
        (
            combinator.clone(),
            prop::collection::vec(condition(), 0..3),
            prop::collection::vec(inner, 1..3),
            any::<bool>(),
        )
            .prop_map(|(c, conditions, groups, exclude)| Filter {
                combinator: c as i32,
                conditions,
                groups,
                exclude,
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_filter_reads_back_from_its_text_exactly(f in filter()) {
        let written = format(&f).expect("a generated filter has a text");
        let read = parse(&written).unwrap_or_else(|e| panic!("{written}\n{e}"));
        prop_assert_eq!(&read, &normalize(&f), "{}", written);
        prop_assert_eq!(format(&read).expect("formats again"), written);
    }

    #[test]
    fn any_text_either_reads_or_says_where_it_stumbled(input in "[ -~]{0,60}") {
        match parse(&input) {
            Ok(f) => prop_assert_eq!(parse(&format(&f).expect("what reads, writes")).expect("reads"), f),
            Err(e) => prop_assert!(e.at <= input.chars().count(), "{e}"),
        }
    }
}
