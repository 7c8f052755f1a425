//! Card numbers: the tenant's numbering rule (prefix + sequence + Luhn check digit), checks of
//! supplied numbers, and EAN-13 barcodes.
use std::fmt;

/// The Luhn check digit of `digits` (the digit to append).
pub fn luhn_check_digit(digits: &str) -> Option<u8> {
    let mut sum = 0u32;
    for (i, c) in digits.chars().rev().enumerate() {
        let mut d = c.to_digit(10)?;
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    Some(((10 - sum % 10) % 10) as u8)
}

/// True when the last digit of `number` is the Luhn check digit of the rest.
pub fn luhn_valid(number: &str) -> bool {
    let Some((body, last)) = number.len().checked_sub(1).map(|i| number.split_at(i)) else { return false };
    match (luhn_check_digit(body), last.chars().next().and_then(|c| c.to_digit(10))) {
        (Some(expected), Some(given)) => u32::from(expected) == given,
        _ => false,
    }
}

/// The EAN-13 check digit of 12 digits.
pub fn ean13_check_digit(twelve: &str) -> Option<u8> {
    if twelve.len() != 12 {
        return None;
    }
    let mut sum = 0u32;
    for (i, c) in twelve.chars().enumerate() {
        let d = c.to_digit(10)?;
        sum += if i % 2 == 0 { d } else { 3 * d };
    }
    Some(((10 - sum % 10) % 10) as u8)
}

pub fn ean13_valid(code: &str) -> bool {
    code.len() == 13
        && ean13_check_digit(&code[..12])
            .is_some_and(|d| code[12..].chars().next().and_then(|c| c.to_digit(10)) == Some(u32::from(d)))
}

/// A tenant's rule for generated numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumberingRule {
    pub prefix: String,
    pub length: usize,
    pub luhn: bool,
}

impl Default for NumberingRule {
    fn default() -> Self {
        Self { prefix: "2".into(), length: 13, luhn: true }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleError {
    Prefix,
    Length,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RuleError::Prefix => "prefix must be 0 to 10 digits",
            RuleError::Length => "length must be 8 to 19 and leave at least 4 digits for the sequence",
        })
    }
}

impl NumberingRule {
    pub fn new(prefix: &str, length: i32, luhn: bool) -> Result<Self, RuleError> {
        if prefix.len() > 10 || !prefix.chars().all(|c| c.is_ascii_digit()) {
            return Err(RuleError::Prefix);
        }
        let length = usize::try_from(length).map_err(|_| RuleError::Length)?;
        if !(8..=19).contains(&length) || length < prefix.len() + usize::from(luhn) + 4 {
            return Err(RuleError::Length);
        }
        Ok(Self { prefix: prefix.into(), length, luhn })
    }

    fn sequence_digits(&self) -> usize {
        self.length - self.prefix.len() - usize::from(self.luhn)
    }

    /// The `sequence`-th number, or `None` when the rule's numbers are used up.
    pub fn number(&self, sequence: u64) -> Option<String> {
        let width = self.sequence_digits();
        let body = format!("{}{:0width$}", self.prefix, sequence);
        if body.len() != self.length - usize::from(self.luhn) {
            return None;
        }
        if self.luhn { luhn_check_digit(&body).map(|d| format!("{body}{d}")) } else { Some(body) }
    }

    /// Why a supplied number is refused under this rule, if it is.
    pub fn check_supplied(&self, number: &str) -> Result<(), &'static str> {
        if number.is_empty() || number.len() > 32 {
            return Err("must be 1 to 32 characters");
        }
        if !number.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err("may hold only letters and digits");
        }
        if self.luhn && number.chars().all(|c| c.is_ascii_digit()) && !luhn_valid(number) {
            return Err("has a wrong check digit (Luhn)");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_matches_known_numbers() {
        assert_eq!(luhn_check_digit("7992739871"), Some(3));
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("79927398710"));
        assert!(!luhn_valid(""));
    }

    #[test]
    fn ean13_matches_a_real_barcode() {
        assert_eq!(ean13_check_digit("400638133393"), Some(1));
        assert!(ean13_valid("4006381333931"));
        assert!(!ean13_valid("4006381333932"));
    }

    #[test]
    fn generated_numbers_have_the_prefix_the_length_and_a_valid_check_digit() {
        let rule = NumberingRule::new("77", 12, true).expect("valid rule");
        let n = rule.number(42).expect("number");
        assert_eq!(n.len(), 12);
        assert!(n.starts_with("77"));
        assert!(luhn_valid(&n));
        assert_eq!(rule.number(1_000_000_000), None, "nine sequence digits are used up");
        let plain = NumberingRule::new("9", 8, false).expect("valid");
        assert_eq!(plain.number(5).as_deref(), Some("90000005"));
    }

    #[test]
    fn rules_and_supplied_numbers_are_checked() {
        assert_eq!(NumberingRule::new("12a", 12, true), Err(RuleError::Prefix));
        assert_eq!(NumberingRule::new("1234567890", 12, true), Err(RuleError::Length));
        let rule = NumberingRule::default();
        assert!(rule.check_supplied("79927398713").is_ok());
        assert!(rule.check_supplied("79927398710").is_err());
        assert!(rule.check_supplied("CARD-1").is_err());
        assert!(rule.check_supplied("ABC123").is_ok(), "letters skip the digit check");
    }
}
