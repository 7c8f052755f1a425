//! The words of a filter's text form, each with the position (in characters) it starts at.
use super::TextError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    /// A fact name or a keyword: `purchases.sum`, `and`, `any`.
    Word(String),
    /// A quoted string, unescaped.
    Text(String),
    /// Digits with an optional sign and fraction, as written: `-12`, `100.00`.
    Number(String),
    /// A calendar date as written: `2025-01-31`.
    Date(String),
    /// `=`, `!=`, `<`, `<=`, `>`, `>=`, `(`, `)`, `,`, `..`
    Symbol(&'static str),
}

impl Token {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Token::Word(w) => format!("\"{w}\""),
            Token::Text(t) => format!("the text \"{t}\""),
            Token::Number(n) => format!("the number {n}"),
            Token::Date(d) => format!("the date {d}"),
            Token::Symbol(s) => format!("\"{s}\""),
        }
    }
}

/// A token and the character position it starts at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lexeme {
    pub token: Token,
    pub at: usize,
}

const SYMBOLS: [&str; 10] = ["!=", "<=", ">=", "..", "=", "<", ">", "(", ")", ","];

/// Splits `text` into tokens.
pub fn lex(text: &str) -> Result<Vec<Lexeme>, TextError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let at = i;
        if c == '"' {
            let (value, next) = quoted(&chars, i)?;
            out.push(Lexeme { token: Token::Text(value), at });
            i = next;
        } else if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let (token, next) = number_or_date(&chars, i);
            out.push(Lexeme { token, at });
            i = next;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '.') {
                // A `..` ends a word: `2025-01-01..2025-01-31` never reaches here, but `a..b` would.
                if chars[i] == '.' && chars.get(i + 1) == Some(&'.') {
                    break;
                }
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            out.push(Lexeme { token: Token::Word(word.to_lowercase()), at });
        } else if let Some(symbol) = SYMBOLS.iter().find(|s| starts_with(&chars, i, s)) {
            out.push(Lexeme { token: Token::Symbol(symbol), at });
            i += symbol.len();
        } else {
            return Err(TextError::at(at, format!("\"{c}\" has no meaning here")));
        }
    }
    Ok(out)
}

fn starts_with(chars: &[char], at: usize, s: &str) -> bool {
    s.chars().enumerate().all(|(k, c)| chars.get(at + k) == Some(&c))
}

/// A quoted string starting at `chars[start] == '"'`: `\"` and `\\` are the only escapes.
fn quoted(chars: &[char], start: usize) -> Result<(String, usize), TextError> {
    let mut value = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '"' => return Ok((value, i + 1)),
            '\\' => match chars.get(i + 1) {
                Some(&c @ ('"' | '\\')) => {
                    value.push(c);
                    i += 2;
                }
                _ => return Err(TextError::at(i, "a backslash in a text escapes only \" or \\")),
            },
            c => {
                value.push(c);
                i += 1;
            }
        }
    }
    Err(TextError::at(start, "the text is not closed with \""))
}

/// `-12`, `100.00` or `2025-01-31`, as written.
fn number_or_date(chars: &[char], start: usize) -> (Token, usize) {
    let digits = |from: usize| (from..chars.len()).take_while(|&k| chars[k].is_ascii_digit()).count();
    let mut i = start;
    if chars[i] == '-' {
        i += 1;
    }
    i += digits(i);
    let written = |end: usize| chars[start..end].iter().collect::<String>();
    // A date: four digits, then -MM-DD.
    if chars[start] != '-' && i - start == 4 && chars.get(i) == Some(&'-') {
        let month = digits(i + 1);
        if month == 2 && chars.get(i + 3) == Some(&'-') && digits(i + 4) == 2 {
            return (Token::Date(written(i + 6)), i + 6);
        }
    }
    // A fraction: a dot followed by a digit (not `..`).
    if chars.get(i) == Some(&'.') && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
        i += 1 + digits(i + 1);
    }
    (Token::Number(written(i)), i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<Token> {
        lex(text).expect("lexes").into_iter().map(|l| l.token).collect()
    }

    #[test]
    fn words_numbers_dates_texts_and_symbols() {
        assert_eq!(
            tokens(r#"purchases.sum(last 30 days) >= 100.00 and tags any of ("staff \"A\"")"#),
            [
                Token::Word("purchases.sum".into()),
                Token::Symbol("("),
                Token::Word("last".into()),
                Token::Number("30".into()),
                Token::Word("days".into()),
                Token::Symbol(")"),
                Token::Symbol(">="),
                Token::Number("100.00".into()),
                Token::Word("and".into()),
                Token::Word("tags".into()),
                Token::Word("any".into()),
                Token::Word("of".into()),
                Token::Symbol("("),
                Token::Text("staff \"A\"".into()),
                Token::Symbol(")"),
            ]
        );
        assert_eq!(
            tokens("(2025-01-01..2025-01-31) -5"),
            [
                Token::Symbol("("),
                Token::Date("2025-01-01".into()),
                Token::Symbol(".."),
                Token::Date("2025-01-31".into()),
                Token::Symbol(")"),
                Token::Number("-5".into()),
            ]
        );
    }

    #[test]
    fn errors_say_where() {
        let e = lex("client.city = \"Vilnius").expect_err("unclosed");
        assert_eq!(e.at, 14);
        let e = lex("a = 1 & b").expect_err("stray");
        assert_eq!((e.at, e.message.as_str()), (6, "\"&\" has no meaning here"));
    }
}
