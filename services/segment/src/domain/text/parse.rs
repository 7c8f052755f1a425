//! Reading the text form (the grammar is in the module above).
use super::lex::{Lexeme, Token, lex};
use super::{KEYWORDS, TextError, normalize};
use loyalty_api::common::v1::Date;
use loyalty_api::filter::v1::filter::Combinator;
use loyalty_api::filter::v1::{Condition, DateRange, Filter, Operator, Value, Window, value, window};

/// The filter `text` writes, in its normal form; an error names the character it stumbled at.
pub fn parse(text: &str) -> Result<Filter> {
    let tokens = lex(text)?;
    let mut p = Parser { tokens, pos: 0, end: text.chars().count() };
    if p.tokens.is_empty() {
        return Err(TextError::at(0, "the filter is empty; write a condition such as client.city = \"Vilnius\""));
    }
    let filter = p.filter()?;
    if let Some(extra) = p.peek() {
        let found = extra.token.describe();
        return Err(TextError::at(extra.at, format!("expected \"and\", \"or\" or the end, found {found}")));
    }
    Ok(normalize(&filter))
}

type Result<T> = std::result::Result<T, TextError>;

struct Parser {
    tokens: Vec<Lexeme>,
    pos: usize,
    /// The text's length in characters: where "the end" is.
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Lexeme> {
        self.tokens.get(self.pos)
    }

    fn here(&self) -> usize {
        self.peek().map(|l| l.at).unwrap_or(self.end)
    }

    fn found(&self) -> String {
        self.peek().map(|l| l.token.describe()).unwrap_or_else(|| "the end".into())
    }

    fn next(&mut self) -> Option<Lexeme> {
        let l = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        l
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Lexeme { token: Token::Word(w), .. }) if w == word)
    }

    fn is_symbol(&self, symbol: &str) -> bool {
        matches!(self.peek(), Some(Lexeme { token: Token::Symbol(s), .. }) if *s == symbol)
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let yes = self.is_word(word);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn eat_symbol(&mut self, symbol: &str) -> bool {
        let yes = self.is_symbol(symbol);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn expect_word(&mut self, word: &str, what: &str) -> Result<()> {
        if self.eat_word(word) {
            Ok(())
        } else {
            Err(TextError::at(self.here(), format!("expected {what}, found {}", self.found())))
        }
    }

    fn expect_symbol(&mut self, symbol: &str, what: &str) -> Result<()> {
        if self.eat_symbol(symbol) {
            Ok(())
        } else {
            Err(TextError::at(self.here(), format!("expected {what}, found {}", self.found())))
        }
    }

    /// Terms joined by one connective.
    fn filter(&mut self) -> Result<Filter> {
        let mut f = Filter::default();
        let mut connective: Option<&'static str> = None;
        loop {
            self.term(&mut f)?;
            let word = if self.is_word("and") {
                "and"
            } else if self.is_word("or") {
                "or"
            } else {
                break;
            };
            match connective {
                Some(c) if c != word => {
                    return Err(TextError::at(
                        self.here(),
                        format!("\"{word}\" after \"{c}\": mixing them needs parentheses, e.g. (a {c} b) {word} c"),
                    ));
                }
                _ => connective = Some(word),
            }
            self.pos += 1;
        }
        f.combinator = if connective == Some("or") { Combinator::Any } else { Combinator::All } as i32;
        Ok(f)
    }

    fn term(&mut self, into: &mut Filter) -> Result<()> {
        let exclude = self.eat_word("not");
        if self.eat_symbol("(") {
            let mut group = self.filter()?;
            self.expect_symbol(")", "\")\" to close the group")?;
            group.exclude = exclude;
            into.groups.push(group);
        } else {
            let mut condition = self.condition()?;
            condition.exclude = exclude;
            into.conditions.push(condition);
        }
        Ok(())
    }

    fn condition(&mut self) -> Result<Condition> {
        let at = self.here();
        let fact = match self.next() {
            Some(Lexeme { token: Token::Word(w), .. }) if !KEYWORDS.contains(&w.as_str()) => w,
            _ => {
                self.pos = self.pos.saturating_sub(1);
                let found = self.found();
                return Err(TextError::at(at, format!("expected a fact such as client.city, found {found}")));
            }
        };
        let mut c = Condition { fact, ..Default::default() };
        if self.eat_symbol("(") {
            c.window = Some(self.window()?);
            self.expect_symbol(")", "\")\" to close the period")?;
        }
        self.operator(&mut c)?;
        if self.eat_word("where") {
            self.expect_symbol("(", "\"(\" before the dependent conditions")?;
            loop {
                let exclude = self.eat_word("not");
                let mut d = self.condition()?;
                d.exclude = exclude;
                c.dependent.push(d);
                if !self.eat_word("and") {
                    break;
                }
            }
            self.expect_symbol(")", "\")\" to close the dependent conditions (joined by \"and\")")?;
        }
        Ok(c)
    }

    fn window(&mut self) -> Result<Window> {
        if self.eat_word("last") {
            let days = self.integer("the number of days")?;
            let days = i32::try_from(days).map_err(|_| TextError::at(self.here(), "too many days"))?;
            self.expect_word("days", "\"days\"")?;
            return Ok(Window { kind: Some(window::Kind::LastDays(days)) });
        }
        let from = self.date("a period such as last 30 days or 2025-01-01..2025-01-31")?;
        self.expect_symbol("..", "\"..\" between the period's dates")?;
        let to = self.date("the period's last date")?;
        Ok(Window { kind: Some(window::Kind::Dates(DateRange { from: Some(from), to: Some(to) })) })
    }

    fn operator(&mut self, c: &mut Condition) -> Result<()> {
        let at = self.here();
        let comparison = [
            ("=", Operator::Equal),
            ("!=", Operator::NotEqual),
            ("<", Operator::Less),
            ("<=", Operator::LessOrEqual),
            (">", Operator::Greater),
            (">=", Operator::GreaterOrEqual),
        ];
        if let Some((_, op)) = comparison.iter().find(|(s, _)| self.is_symbol(s)) {
            self.pos += 1;
            c.operator = *op as i32;
            c.values = vec![self.value()?];
            return Ok(());
        }
        let word = match self.peek() {
            Some(Lexeme { token: Token::Word(w), .. }) => w.clone(),
            _ => return Err(self.no_operator(at)),
        };
        self.pos += 1;
        let (op, values) = match word.as_str() {
            "between" => {
                let low = self.value()?;
                self.expect_word("and", "\"and\" between the two ends")?;
                (Operator::Between, vec![low, self.value()?])
            }
            "any" | "all" | "none" => {
                self.expect_word("of", &format!("\"of\" after \"{word}\""))?;
                let op = match word.as_str() {
                    "any" => Operator::AnyOf,
                    "all" => Operator::AllOf,
                    _ => Operator::NoneOf,
                };
                (op, self.list()?)
            }
            "contains" => (Operator::Contains, self.value_or_list()?),
            "starts" => {
                self.expect_word("with", "\"with\" after \"starts\"")?;
                (Operator::StartsWith, self.value_or_list()?)
            }
            "is" => {
                let op = if self.eat_word("not") { Operator::IsNotSet } else { Operator::IsSet };
                self.expect_word("set", "\"set\"")?;
                (op, Vec::new())
            }
            "days" => {
                self.expect_word("ago", "\"ago\" after \"days\"")?;
                self.expect_word("between", "\"between\" after \"days ago\"")?;
                let low = self.integer("the fewest days ago")?;
                self.expect_word("and", "\"and\" between the two ends")?;
                let high = self.integer("the most days ago")?;
                (Operator::DaysAgoBetween, vec![integer(low), integer(high)])
            }
            "anniversary" => self.anniversary()?,
            _ => {
                self.pos -= 1;
                return Err(self.no_operator(at));
            }
        };
        c.operator = op as i32;
        c.values = values;
        Ok(())
    }

    fn anniversary(&mut self) -> Result<(Operator, Vec<Value>)> {
        if self.eat_word("within") {
            let days = self.integer("the number of days")?;
            self.expect_word("days", "\"days\"")?;
            return Ok((Operator::AnniversaryWithinDays, vec![integer(days)]));
        }
        self.expect_word("in", "\"within\" or \"in\" after \"anniversary\"")?;
        if self.eat_word("this") {
            self.expect_word("month", "\"month\" after \"this\"")?;
            return Ok((Operator::AnniversaryInMonth, Vec::new()));
        }
        Ok((Operator::AnniversaryInMonth, self.list()?))
    }

    fn no_operator(&self, at: usize) -> TextError {
        TextError::at(
            at,
            format!(
                "expected an operator (=, !=, <, <=, >, >=, between, any of, all of, none of, contains, starts with, \
                 is set, is not set, days ago between, anniversary), found {}",
                self.found()
            ),
        )
    }

    fn list(&mut self) -> Result<Vec<Value>> {
        self.expect_symbol("(", "\"(\" before the list of values")?;
        let mut values = vec![self.value()?];
        while self.eat_symbol(",") {
            values.push(self.value()?);
        }
        self.expect_symbol(")", "\",\" or \")\" in the list of values")?;
        Ok(values)
    }

    fn value_or_list(&mut self) -> Result<Vec<Value>> {
        if self.is_symbol("(") { self.list() } else { Ok(vec![self.value()?]) }
    }

    fn value(&mut self) -> Result<Value> {
        let at = self.here();
        let found = self.found();
        let kind = match self.next().map(|l| l.token) {
            Some(Token::Text(t)) => value::Kind::Text(t),
            Some(Token::Number(n)) if n.contains('.') => value::Kind::Decimal(n),
            Some(Token::Number(n)) => value::Kind::Integer(
                n.parse().map_err(|_| TextError::at(at, format!("{n} is too large for a whole number")))?,
            ),
            Some(Token::Date(d)) => value::Kind::Date(date_of(&d, at)?),
            Some(Token::Word(w)) if w == "true" => value::Kind::Boolean(true),
            Some(Token::Word(w)) if w == "false" => value::Kind::Boolean(false),
            _ => {
                return Err(TextError::at(
                    at,
                    format!("expected a value (\"text\", 12, 12.50, 2025-01-31, true or false), found {found}"),
                ));
            }
        };
        Ok(Value { kind: Some(kind) })
    }

    fn integer(&mut self, what: &str) -> Result<i64> {
        let at = self.here();
        match self.next().map(|l| l.token) {
            Some(Token::Number(n)) if !n.contains('.') => {
                n.parse().map_err(|_| TextError::at(at, format!("{n} is too large for a whole number")))
            }
            _ => {
                self.pos -= 1;
                Err(TextError::at(at, format!("expected {what} (a whole number), found {}", self.found())))
            }
        }
    }

    fn date(&mut self, what: &str) -> Result<Date> {
        let at = self.here();
        match self.next().map(|l| l.token) {
            Some(Token::Date(d)) => date_of(&d, at),
            _ => {
                self.pos -= 1;
                Err(TextError::at(at, format!("expected {what}, found {}", self.found())))
            }
        }
    }
}

fn integer(n: i64) -> Value {
    Value { kind: Some(value::Kind::Integer(n)) }
}

/// `2025-01-31` as a date; the month and day must exist.
fn date_of(text: &str, at: usize) -> Result<Date> {
    let part = |range: std::ops::Range<usize>| text.get(range).and_then(|p| p.parse::<i32>().ok());
    let (Some(year), Some(month), Some(day)) = (part(0..4), part(5..7), part(8..10)) else {
        return Err(TextError::at(at, format!("{text} is not a date (YYYY-MM-DD)")));
    };
    let month_ok = u8::try_from(month).ok().and_then(|m| time::Month::try_from(m).ok());
    let valid =
        month_ok.is_some_and(|m| u8::try_from(day).is_ok_and(|d| time::Date::from_calendar_date(year, m, d).is_ok()));
    if !valid {
        return Err(TextError::at(at, format!("{text} is not a day of the calendar")));
    }
    Ok(Date { year, month, day })
}
