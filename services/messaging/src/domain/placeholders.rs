//! The one placeholder syntax of message content: a name in braces with an optional fallback
//! after a bar, `{first_name|friend}`. `{{` and `}}` are literal braces.
use std::fmt::Write as _;

/// The names a placeholder may use, each what it means to the reader of the message.
pub const NAMES: &[&str] = &[
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "city",
    "points_balance",
    "last_purchase_date",
    "last_purchase_amount",
    "favourite_category",
    "unsubscribe_url",
];

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Value { name: &'static str, fallback: String },
}

/// Content parsed once, rendered for each recipient.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `text`; the error says what is wrong and where, in words.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|p| p.1) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|p| p.1) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => {
                    return Err(format!(
                        "a `}}` at character {} closes nothing (write `}}}}` for a brace)",
                        position(text, at)
                    ));
                }
                '{' => {
                    let rest = &text[at + 1..];
                    let Some(end) = rest.find('}') else {
                        return Err(format!("the `{{` at character {} is not closed", position(text, at)));
                    };
                    let inside = &rest[..end];
                    let (name, fallback) = inside.split_once('|').unwrap_or((inside, ""));
                    let name = name.trim();
                    let Some(known) = NAMES.iter().find(|n| **n == name) else {
                        return Err(format!(
                            "{{{name}}} at character {} is not a placeholder; use one of {}",
                            position(text, at),
                            NAMES.join(", ")
                        ));
                    };
                    if fallback.contains('{') {
                        return Err(format!(
                            "the fallback of {{{name}}} at character {} holds a `{{`",
                            position(text, at)
                        ));
                    }
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Value { name: known, fallback: fallback.to_string() });
                    // Skip what was read inside the braces.
                    while let Some((i, _)) = chars.peek() {
                        if *i > at + end + 1 {
                            break;
                        }
                        chars.next();
                    }
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template { pieces })
    }

    /// Whether the content names `name` anywhere.
    pub fn uses(&self, name: &str) -> bool {
        self.pieces.iter().any(|p| matches!(p, Piece::Value { name: n, .. } if *n == name))
    }

    /// The content for one recipient: `value(name)` for each placeholder (its fallback when the
    /// value is empty), HTML-escaped when `html`.
    pub fn render(&self, value: &dyn Fn(&str) -> String, html: bool) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Value { name, fallback } => {
                    let v = value(name);
                    let v = if v.is_empty() { fallback.clone() } else { v };
                    if html && *name != "unsubscribe_url" { escape_html(&mut out, &v) } else { out.push_str(&v) }
                }
            }
        }
        out
    }
}

/// The 1-based character position of byte offset `at`.
fn position(text: &str, at: usize) -> usize {
    text[..at].chars().count() + 1
}

pub fn escape_html(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => {
                let _ = out.write_char(c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ona(name: &str) -> String {
        match name {
            "first_name" => "Ona".into(),
            "points_balance" => "1 250".into(),
            "last_name" => "<Šarūnė & Co>".into(),
            _ => String::new(),
        }
    }

    #[test]
    fn names_are_filled_and_empty_ones_take_their_fallback() {
        let t =
            Template::parse("Labas, {first_name|drauge}! {city|} Taškai: {points_balance}. {{ok}}").expect("parses");
        assert_eq!(t.render(&ona, false), "Labas, Ona!  Taškai: 1 250. {ok}");
        let nobody = Template::parse("Labas, {first_name|drauge}!").expect("parses");
        assert_eq!(nobody.render(&|_| String::new(), false), "Labas, drauge!");
    }

    #[test]
    fn html_bodies_escape_what_the_client_wrote() {
        let t = Template::parse("<b>{last_name}</b>").expect("parses");
        assert_eq!(t.render(&ona, true), "<b>&lt;Šarūnė &amp; Co&gt;</b>");
        assert_eq!(t.render(&ona, false), "<b><Šarūnė & Co></b>");
    }

    #[test]
    fn mistakes_are_named_with_their_place() {
        let unknown = Template::parse("Hi {frist_name}").expect_err("unknown");
        assert!(unknown.contains("{frist_name} at character 4"), "{unknown}");
        assert!(Template::parse("Hi {first_name").expect_err("open").contains("not closed"));
        assert!(Template::parse("Hi }").expect_err("stray").contains("closes nothing"));
        assert!(Template::parse("ąčę {first_name|a{b}").expect_err("nested").contains("character 5"));
    }

    #[test]
    fn uses_tells_which_names_appear() {
        let t = Template::parse("x {unsubscribe_url} y").expect("parses");
        assert!(t.uses("unsubscribe_url"));
        assert!(!t.uses("first_name"));
    }
}
