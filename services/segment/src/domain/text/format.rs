//! Writing the text form (the grammar is in the module above).
use super::{KEYWORDS, ShapeError, normalize};
use loyalty_api::common::v1::Date;
use loyalty_api::filter::v1::filter::Combinator;
use loyalty_api::filter::v1::{Condition, Filter, Operator, Value, Window, value, window};

type Result<T> = std::result::Result<T, ShapeError>;

fn shape(path: &str, message: impl Into<String>) -> ShapeError {
    ShapeError { path: path.to_string(), message: message.into() }
}

/// The text of `filter` (of its normal form); an error names the part the text cannot express.
pub fn format(filter: &Filter) -> Result<String> {
    let f = normalize(filter);
    if f.conditions.is_empty() && f.groups.is_empty() {
        return Err(shape("conditions", "the filter names no condition"));
    }
    let body = group_body(&f, "")?;
    Ok(if f.exclude { format!("not ({body})") } else { body })
}

/// The items of a group joined by its connective: conditions first, then nested groups.
fn group_body(f: &Filter, path: &str) -> Result<String> {
    let join = if f.combinator == Combinator::Any as i32 { " or " } else { " and " };
    let mut items = Vec::new();
    for (i, c) in f.conditions.iter().enumerate() {
        items.push(condition(c, &format!("{path}conditions[{i}]"))?);
    }
    for (i, g) in f.groups.iter().enumerate() {
        let here = format!("{path}groups[{i}]");
        if g.conditions.is_empty() && g.groups.is_empty() {
            return Err(shape(&here, "the group names no condition"));
        }
        let body = group_body(g, &format!("{here}."))?;
        items.push(if g.exclude { format!("not ({body})") } else { format!("({body})") });
    }
    Ok(items.join(join))
}

fn condition(c: &Condition, path: &str) -> Result<String> {
    let name = &c.fact;
    let well_formed = name.starts_with(|ch: char| ch.is_ascii_lowercase() || ch == '_')
        && name.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '.')
        && !name.contains("..")
        && !KEYWORDS.contains(&name.as_str());
    if !well_formed {
        return Err(shape(&format!("{path}.fact"), "must be a fact of the catalogue, e.g. client.city"));
    }
    let mut text = if c.exclude { format!("not {name}") } else { name.clone() };
    if let Some(w) = &c.window {
        text.push_str(&format!("({})", window_text(w, &format!("{path}.window"))?));
    }
    text.push(' ');
    text.push_str(&operator(c, path)?);
    if !c.dependent.is_empty() {
        let mut parts = Vec::new();
        for (i, d) in c.dependent.iter().enumerate() {
            parts.push(condition(d, &format!("{path}.dependent[{i}]"))?);
        }
        text.push_str(&format!(" where ({})", parts.join(" and ")));
    }
    Ok(text)
}

fn window_text(w: &Window, path: &str) -> Result<String> {
    match &w.kind {
        Some(window::Kind::LastDays(days)) => Ok(format!("last {days} days")),
        Some(window::Kind::Dates(range)) => {
            let (Some(from), Some(to)) = (&range.from, &range.to) else {
                return Err(shape(path, "a period of dates needs both its first and its last date"));
            };
            Ok(format!("{}..{}", date(from, &format!("{path}.from"))?, date(to, &format!("{path}.to"))?))
        }
        None => Err(shape(path, "name the period: last N days, or dates")),
    }
}

fn operator(c: &Condition, path: &str) -> Result<String> {
    let op = Operator::try_from(c.operator).unwrap_or(Operator::Unspecified);
    let values = |i: usize| -> Result<String> { value(&c.values[i], &format!("{path}.values[{i}]")) };
    let count = |n: usize, what: &str| -> Result<()> {
        if c.values.len() == n {
            Ok(())
        } else {
            Err(shape(&format!("{path}.values"), format!("{what} takes {n} value(s), found {}", c.values.len())))
        }
    };
    let list = |what: &str| -> Result<String> {
        if c.values.is_empty() {
            return Err(shape(&format!("{path}.values"), format!("{what} takes at least one value")));
        }
        let items: Result<Vec<String>> = (0..c.values.len()).map(values).collect();
        Ok(format!("({})", items?.join(", ")))
    };
    let single_or_list = |what: &str| -> Result<String> { if c.values.len() == 1 { values(0) } else { list(what) } };
    let symbol = |s: &str| -> Result<String> {
        count(1, s)?;
        Ok(format!("{s} {}", values(0)?))
    };
    match op {
        Operator::Equal => symbol("="),
        Operator::NotEqual => symbol("!="),
        Operator::Less => symbol("<"),
        Operator::LessOrEqual => symbol("<="),
        Operator::Greater => symbol(">"),
        Operator::GreaterOrEqual => symbol(">="),
        Operator::Between => {
            count(2, "between")?;
            Ok(format!("between {} and {}", values(0)?, values(1)?))
        }
        Operator::AnyOf => Ok(format!("any of {}", list("any of")?)),
        Operator::AllOf => Ok(format!("all of {}", list("all of")?)),
        Operator::NoneOf => Ok(format!("none of {}", list("none of")?)),
        Operator::Contains => Ok(format!("contains {}", single_or_list("contains")?)),
        Operator::StartsWith => Ok(format!("starts with {}", single_or_list("starts with")?)),
        Operator::IsSet => count(0, "is set").map(|()| "is set".into()),
        Operator::IsNotSet => count(0, "is not set").map(|()| "is not set".into()),
        Operator::DaysAgoBetween => {
            count(2, "days ago between")?;
            let (low, high) = (whole(c, 0, path)?, whole(c, 1, path)?);
            Ok(format!("days ago between {low} and {high}"))
        }
        Operator::AnniversaryWithinDays => {
            count(1, "anniversary within")?;
            Ok(format!("anniversary within {} days", whole(c, 0, path)?))
        }
        Operator::AnniversaryInMonth if c.values.is_empty() => Ok("anniversary in this month".into()),
        Operator::AnniversaryInMonth => {
            let months: Result<Vec<String>> =
                (0..c.values.len()).map(|i| whole(c, i, path).map(|m| m.to_string())).collect();
            Ok(format!("anniversary in ({})", months?.join(", ")))
        }
        Operator::Unspecified => Err(shape(&format!("{path}.operator"), "choose an operator")),
    }
}

/// The whole number `c.values[i]` must be.
fn whole(c: &Condition, i: usize, path: &str) -> Result<i64> {
    match c.values[i].kind {
        Some(value::Kind::Integer(n)) => Ok(n),
        _ => Err(shape(&format!("{path}.values[{i}]"), "must be a whole number")),
    }
}

fn value(v: &Value, path: &str) -> Result<String> {
    match &v.kind {
        Some(value::Kind::Text(t)) => Ok(format!("\"{}\"", t.replace('\\', "\\\\").replace('"', "\\\""))),
        Some(value::Kind::Integer(n)) => Ok(n.to_string()),
        Some(value::Kind::Decimal(d)) => {
            let (whole, fraction) = d.trim_start_matches('-').split_once('.').unwrap_or(("", ""));
            let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
            if digits(whole) && digits(fraction) {
                Ok(d.clone())
            } else {
                Err(shape(path, format!("{d:?} is not a decimal written with a fraction, e.g. 100.00")))
            }
        }
        Some(value::Kind::Date(d)) => date(d, path),
        Some(value::Kind::Boolean(b)) => Ok(b.to_string()),
        None => Err(shape(path, "the value is empty")),
    }
}

fn date(d: &Date, path: &str) -> Result<String> {
    let exists = u8::try_from(d.month)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .is_some_and(|m| u8::try_from(d.day).is_ok_and(|day| time::Date::from_calendar_date(d.year, m, day).is_ok()));
    if !exists || !(1..=9999).contains(&d.year) {
        return Err(shape(path, format!("{}-{}-{} is not a day of the calendar", d.year, d.month, d.day)));
    }
    Ok(format!("{:04}-{:02}-{:02}", d.year, d.month, d.day))
}
