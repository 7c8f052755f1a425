//! Checking a filter against the catalogue before it is evaluated or saved: unknown facts, an
//! operator the fact does not take, values of the wrong kind or number, ranges the wrong way round,
//! a window on a fact without periods, dependent conditions on another entity. Every problem is
//! reported at once, by the path of the field (`filter.conditions[1].values[0]`).
use super::facts::{self, FactInfo};
use loyalty_api::filter::v1::{Condition, FactType, Filter, Operator, Value, Window, value, window};

/// The most conditions one filter may hold, groups and dependent conditions included.
pub const MAX_CONDITIONS: usize = 200;
/// How deep groups may nest.
pub const MAX_DEPTH: usize = 8;
/// The longest window, in days (ten years).
pub const MAX_WINDOW_DAYS: i32 = 3_660;

/// One problem: the field's path and what is wrong with it, in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

/// Every problem of `filter`, whose fields are named under `root` ("filter", "audience.filter").
pub fn check(filter: &Filter, root: &str) -> Vec<Problem> {
    let mut c = Checker { problems: Vec::new(), conditions: 0 };
    c.group(filter, root, 0);
    if c.conditions == 0 {
        c.add(format!("{root}.conditions"), "name at least one condition");
    }
    if c.conditions > MAX_CONDITIONS {
        c.add(root.to_string(), format!("holds {} conditions; at most {MAX_CONDITIONS}", c.conditions));
    }
    c.problems
}

struct Checker {
    problems: Vec<Problem>,
    conditions: usize,
}

impl Checker {
    fn add(&mut self, field: String, message: impl Into<String>) {
        self.problems.push(Problem { field, message: message.into() });
    }

    fn group(&mut self, f: &Filter, path: &str, depth: usize) {
        if depth > MAX_DEPTH {
            self.add(path.to_string(), format!("groups nest more than {MAX_DEPTH} deep"));
            return;
        }
        if depth > 0 && f.conditions.is_empty() && f.groups.is_empty() {
            self.add(format!("{path}.conditions"), "the group names no condition");
        }
        for (i, c) in f.conditions.iter().enumerate() {
            self.condition(c, &format!("{path}.conditions[{i}]"), None);
        }
        for (i, g) in f.groups.iter().enumerate() {
            self.group(g, &format!("{path}.groups[{i}]"), depth + 1);
        }
    }

    fn condition(&mut self, c: &Condition, path: &str, parent: Option<&FactInfo>) {
        self.conditions += 1;
        let Some(fact) = facts::find(&c.fact) else {
            let hint = if c.fact.is_empty() {
                "name a fact".to_string()
            } else {
                format!("{:?} is not a fact; ListFacts names them", c.fact)
            };
            self.add(format!("{path}.fact"), hint);
            return;
        };
        if let Some(parent) = parent
            && parent.entity != fact.entity
        {
            self.add(
                format!("{path}.fact"),
                format!(
                    "a dependent condition of {} must be about the same rows, e.g. another {} fact",
                    parent.name,
                    prefix(parent.name)
                ),
            );
        }
        let op = Operator::try_from(c.operator).unwrap_or(Operator::Unspecified);
        if !fact.operators().contains(&op) {
            let allowed: Vec<String> = fact.operators().iter().map(|o| word(*o)).collect();
            self.add(format!("{path}.operator"), format!("{} takes {}", fact.name, allowed.join(", ")));
        } else {
            self.values(fact, op, &c.values, path);
        }
        match (&c.window, fact.window) {
            (Some(w), true) => self.window(w, &format!("{path}.window")),
            (Some(_), false) => {
                self.add(format!("{path}.window"), format!("{} has no period; leave the window out", fact.name))
            }
            (None, _) => {}
        }
        if !c.dependent.is_empty() && !fact.takes_dependent() {
            let message = format!("{} is about the client; only row facts take dependent conditions", fact.name);
            self.add(format!("{path}.dependent"), message);
            self.conditions += c.dependent.len();
            return;
        }
        for (i, d) in c.dependent.iter().enumerate() {
            self.condition(d, &format!("{path}.dependent[{i}]"), Some(fact));
        }
    }

    fn values(&mut self, fact: &FactInfo, op: Operator, values: &[Value], path: &str) {
        use Operator as O;
        let expected = match op {
            O::IsSet | O::IsNotSet => 0..=0,
            O::Between | O::DaysAgoBetween => 2..=2,
            O::AnyOf | O::AllOf | O::NoneOf | O::Contains | O::StartsWith => 1..=1_000,
            O::AnniversaryInMonth => 0..=12,
            _ => 1..=1,
        };
        if !expected.contains(&values.len()) {
            let n = if expected.start() == expected.end() {
                expected.start().to_string()
            } else {
                format!("{} to {}", expected.start(), expected.end())
            };
            self.add(format!("{path}.values"), format!("{} takes {n} value(s), found {}", word(op), values.len()));
            return;
        }
        for (i, v) in values.iter().enumerate() {
            let here = format!("{path}.values[{i}]");
            let problem = match op {
                O::DaysAgoBetween => whole(v, 0..=36_600, "a number of days from 0 (today)"),
                O::AnniversaryWithinDays => whole(v, 0..=366, "a number of days from 0 to 366"),
                O::AnniversaryInMonth => whole(v, 1..=12, "a month from 1 to 12"),
                _ => of_kind(fact, v),
            };
            if let Some(message) = problem {
                self.add(here, message);
            }
        }
        if matches!(op, O::Between | O::DaysAgoBetween) && values.len() == 2 && order(&values[0]) > order(&values[1]) {
            self.add(format!("{path}.values"), "the range runs backwards: put the smaller end first");
        }
    }

    fn window(&mut self, w: &Window, path: &str) {
        match &w.kind {
            Some(window::Kind::LastDays(days)) if !(1..=MAX_WINDOW_DAYS).contains(days) => {
                self.add(format!("{path}.last_days"), format!("must be 1 to {MAX_WINDOW_DAYS} days"));
            }
            Some(window::Kind::Dates(range)) => match (&range.from, &range.to) {
                (Some(from), Some(to)) => {
                    let (a, b) = (calendar(from), calendar(to));
                    if a.is_none() {
                        self.add(format!("{path}.dates.from"), "is not a day of the calendar");
                    }
                    if b.is_none() {
                        self.add(format!("{path}.dates.to"), "is not a day of the calendar");
                    }
                    if let (Some(a), Some(b)) = (a, b)
                        && a > b
                    {
                        self.add(format!("{path}.dates"), "the period runs backwards: the first date comes first");
                    }
                }
                _ => self.add(format!("{path}.dates"), "a period of dates needs its first and its last date"),
            },
            None => self.add(path.to_string(), "name the period: last N days, or dates"),
            _ => {}
        }
    }
}

/// "purchase_lines" of "purchase_lines.sku".
fn prefix(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}

/// An operator as the text form writes it.
pub fn word(op: Operator) -> String {
    op.as_str_name().trim_start_matches("OPERATOR_").to_lowercase().replace('_', " ")
}

fn whole(v: &Value, range: std::ops::RangeInclusive<i64>, what: &str) -> Option<String> {
    match v.kind {
        Some(value::Kind::Integer(n)) if range.contains(&n) => None,
        _ => Some(format!("must be {what}")),
    }
}

/// Whether `v` is of the kind `fact` holds; the problem in words otherwise.
fn of_kind(fact: &FactInfo, v: &Value) -> Option<String> {
    use value::Kind as K;
    let ok = match (&fact.kind, &v.kind) {
        (FactType::Text | FactType::Id | FactType::Set, Some(K::Text(t))) => !t.is_empty(),
        (FactType::Enum, Some(K::Text(t))) => fact.values.contains(&t.as_str()),
        (FactType::Integer, Some(K::Integer(_))) => true,
        (FactType::Decimal | FactType::Money, Some(K::Integer(_))) => true,
        (FactType::Decimal | FactType::Money, Some(K::Decimal(d))) => decimal(d).is_some(),
        (FactType::Date, Some(K::Date(d))) => calendar(d).is_some(),
        (FactType::Boolean, Some(K::Boolean(_))) => true,
        _ => false,
    };
    if ok {
        return None;
    }
    Some(match fact.kind {
        FactType::Enum => format!("must be one of {}", fact.values.join(", ")),
        FactType::Text | FactType::Id | FactType::Set => "must be a text that is not empty".into(),
        FactType::Integer => "must be a whole number".into(),
        FactType::Decimal | FactType::Money => "must be a number such as 100 or 99.50".into(),
        FactType::Date => "must be a day of the calendar".into(),
        FactType::Boolean => "must be true or false".into(),
        FactType::Unspecified => "has no kind".into(),
    })
}

/// A decimal text in hundredths ("99.5" → 9950), or `None` when it is not one.
pub fn decimal(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || !whole.chars().all(|c| c.is_ascii_digit()) || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if fraction.len() > 2 && fraction[2..].chars().any(|c| c != '0') {
        return None;
    }
    let cents = format!("{:0<2}", &fraction[..fraction.len().min(2)]);
    let value = whole.parse::<i64>().ok()?.checked_mul(100)?.checked_add(cents.parse::<i64>().ok()?)?;
    Some(if negative { -value } else { value })
}

/// A proto date as a calendar day.
pub fn calendar(d: &loyalty_api::common::v1::Date) -> Option<time::Date> {
    let month = time::Month::try_from(u8::try_from(d.month).ok()?).ok()?;
    time::Date::from_calendar_date(d.year, month, u8::try_from(d.day).ok()?).ok()
}

/// A value's place on its own scale, to tell whether a range runs backwards.
fn order(v: &Value) -> Option<i128> {
    match &v.kind {
        Some(value::Kind::Integer(n)) => Some(i128::from(*n) * 100),
        Some(value::Kind::Decimal(d)) => decimal(d).map(i128::from),
        Some(value::Kind::Date(d)) => calendar(d).map(|d| i128::from(d.to_julian_day())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::text::parse;

    fn problems(text: &str) -> Vec<(String, String)> {
        let f = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        check(&f, "filter").into_iter().map(|p| (p.field, p.message)).collect()
    }

    #[test]
    fn a_well_formed_filter_has_no_problem() {
        for text in [
            r#"purchases.sum(last 30 days) >= 100.00 and not tags any of ("staff")"#,
            r#"client.gender = "female" and client.age between 25 and 35 and consent.email = "subscribed""#,
            r#"purchase_lines.sku any of ("X") where (purchase_lines.count >= 2)"#,
            "client.birth_date anniversary within 7 days or client.birth_date anniversary in this month",
            "client.registered_at days ago between 0 and 1 and purchases.sum between 10 and 99.99",
        ] {
            assert_eq!(problems(text), [], "{text}");
        }
    }

    #[test]
    fn every_problem_is_named_by_its_field_at_once() {
        let found = problems(
            r#"client.shoe = "42" and client.age contains "3" and client.gender = "robot" and purchases.sum between 100 and 10
               and client.city(last 30 days) = "Vilnius" and purchases.count(last 0 days) > 1
               and client.city = "X" where (purchase_lines.count > 1)
               and purchase_lines.sku = "X" where (client.city = "Y")
               and client.registered_at days ago between 3 and 1 and client.age = 1.5"#,
        );
        let fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "filter.conditions[0].fact",
                "filter.conditions[1].operator",
                "filter.conditions[2].values[0]",
                "filter.conditions[3].values",
                "filter.conditions[4].window",
                "filter.conditions[5].window.last_days",
                "filter.conditions[6].dependent",
                "filter.conditions[7].dependent[0].fact",
                "filter.conditions[8].values",
                "filter.conditions[9].values[0]",
            ],
            "{found:#?}"
        );
        assert!(found[2].1.contains("female, male"), "{}", found[2].1);
        assert!(found[3].1.contains("backwards"), "{}", found[3].1);
    }

    #[test]
    fn decimals_read_in_hundredths() {
        assert_eq!(decimal("99.5"), Some(9_950));
        assert_eq!(decimal("-0.01"), Some(-1));
        assert_eq!(decimal("100"), Some(10_000));
        assert_eq!(decimal("1.999"), None, "more precision than money has");
        assert_eq!(decimal("1.500"), Some(150));
        assert_eq!(decimal("x"), None);
        assert_eq!(decimal("99999999999999999999"), None, "too large");
    }

    #[test]
    fn an_empty_filter_or_group_says_so() {
        assert_eq!(check(&Filter::default(), "filter")[0].field, "filter.conditions");
        let empty_group = Filter { groups: vec![Filter::default()], ..Default::default() };
        let fields: Vec<String> = check(&empty_group, "filter").into_iter().map(|p| p.field).collect();
        assert!(fields.contains(&"filter.groups[0].conditions".to_string()), "{fields:?}");
    }
}
