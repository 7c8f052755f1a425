//! The text form of a filter, for people and the CLI (`loyalty.filter.v1` in words):
//!
//! ```text
//! purchases.sum(last 30 days) >= 100.00 and not tags any of ("staff")
//! client.city any of ("Vilnius", "Kaunas") or (client.gender = "female" and client.age between 25 and 35)
//! purchase_lines.sku any of ("SNEAKER-1") where (purchase_lines.quantity >= 2)
//! client.birth_date anniversary within 7 days
//! client.registered_at days ago between 0 and 1
//! purchases.count(2025-01-01..2025-01-31) >= 1
//! ```
//!
//! Grammar:
//!
//! ```text
//! filter    := term { ("and" | "or") term }       one connective per group; mixing needs parentheses
//! term      := ["not"] ( "(" filter ")" | condition )
//! condition := FACT [ "(" window ")" ] operator [ "where" "(" condition { "and" condition } ")" ]
//! window    := "last" INTEGER "days" | DATE ".." DATE
//! operator  := ("=" | "!=" | "<" | "<=" | ">" | ">=") value
//!            | "between" value "and" value
//!            | ("any of" | "all of" | "none of") list
//!            | ("contains" | "starts with") (value | list)
//!            | "is set" | "is not set"
//!            | "days ago between" INTEGER "and" INTEGER
//!            | "anniversary within" INTEGER "days"
//!            | "anniversary in" ("this month" | list)
//! list      := "(" value { "," value } ")"
//! value     := "text" | INTEGER | DECIMAL | DATE | "true" | "false"
//! ```
//!
//! Texts are in double quotes with `\"` and `\\` as escapes; decimals always have a fraction
//! (`100.00`); dates are `YYYY-MM-DD`. [`parse`] answers the filter in its normal form
//! ([`normalize`]) and [`format`] writes it back, so `parse(format(f)) == normalize(f)` and a text
//! written by `format` reads back to itself.
mod format;
mod lex;
mod parse;

pub use format::format;
pub use parse::parse;

use loyalty_api::filter::v1::Filter;
use loyalty_api::filter::v1::filter::Combinator;

/// A text that does not read as a filter: where (in characters from the start) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextError {
    pub at: usize,
    pub message: String,
}

impl TextError {
    pub fn at(at: usize, message: impl Into<String>) -> Self {
        TextError { at, message: message.into() }
    }
}

impl std::fmt::Display for TextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at character {}: {}", self.at + 1, self.message)
    }
}

/// A filter the text form cannot write: which part (`conditions[1].values[0]`) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for ShapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Words with a meaning of their own, never a fact's name.
pub const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "where",
    "between",
    "any",
    "all",
    "none",
    "of",
    "contains",
    "starts",
    "with",
    "is",
    "set",
    "days",
    "ago",
    "anniversary",
    "within",
    "in",
    "this",
    "month",
    "last",
    "true",
    "false",
];

/// The filter in the form the text gives back: ALL where a group has one item or none (the
/// combinator of a single item means nothing), and a top level holding only one group that is not
/// excluded is that group (the text of the top level has no parentheses of its own).
pub fn normalize(filter: &Filter) -> Filter {
    let mut f = normalize_group(filter);
    while f.conditions.is_empty() && f.groups.len() == 1 && !f.exclude {
        f = f.groups.remove(0);
    }
    f
}

fn normalize_group(filter: &Filter) -> Filter {
    let mut f = filter.clone();
    f.groups = f.groups.iter().map(normalize_group).collect();
    if f.conditions.len() + f.groups.len() <= 1 || f.combinator == Combinator::Unspecified as i32 {
        f.combinator = Combinator::All as i32;
    }
    f
}

#[cfg(test)]
mod tests;
