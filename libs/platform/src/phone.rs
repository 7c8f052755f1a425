//! Phone numbers in E.164. Cashiers type `+370 612 34567`, `8 (612) 34567` or `37061234567`; all are
//! one number, `+37061234567`, read with the tenant's default region when no country code is given.
//! The client service stores phones so; the segment service reads phones typed in filters the same way.
use std::fmt;

/// A phone number in E.164 (`+` and 8 to 15 digits).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Phone(String);

#[derive(Clone, Copy, Debug)]
struct Region {
    code: &'static str,
    country_code: &'static str,
    /// The digit(s) dialled before a national number ("8" in Lithuania, "0" in Romania).
    trunk: &'static str,
    /// Allowed lengths of the national significant number.
    min_len: usize,
    max_len: usize,
}

const REGIONS: &[Region] = &[
    Region { code: "LT", country_code: "370", trunk: "8", min_len: 8, max_len: 8 },
    Region { code: "LV", country_code: "371", trunk: "", min_len: 8, max_len: 8 },
    Region { code: "EE", country_code: "372", trunk: "", min_len: 7, max_len: 8 },
    Region { code: "PL", country_code: "48", trunk: "", min_len: 9, max_len: 9 },
    Region { code: "RO", country_code: "40", trunk: "0", min_len: 9, max_len: 9 },
    Region { code: "RU", country_code: "7", trunk: "8", min_len: 10, max_len: 10 },
    Region { code: "UA", country_code: "380", trunk: "0", min_len: 9, max_len: 9 },
    Region { code: "BY", country_code: "375", trunk: "80", min_len: 9, max_len: 9 },
    Region { code: "MD", country_code: "373", trunk: "0", min_len: 8, max_len: 8 },
    Region { code: "DE", country_code: "49", trunk: "0", min_len: 6, max_len: 11 },
    Region { code: "GB", country_code: "44", trunk: "0", min_len: 9, max_len: 10 },
    Region { code: "US", country_code: "1", trunk: "1", min_len: 10, max_len: 10 },
];

/// Regions whose numbers can be read without a country code.
pub fn is_known_region(code: &str) -> bool {
    region(code).is_some()
}

fn region(code: &str) -> Option<&'static Region> {
    REGIONS.iter().find(|r| r.code.eq_ignore_ascii_case(code))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhoneError {
    Empty,
    BadCharacters,
    BadLength,
}

impl fmt::Display for PhoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PhoneError::Empty => "is empty",
            PhoneError::BadCharacters => "may hold only digits, spaces, + - ( ) . /",
            PhoneError::BadLength => {
                "is not a phone number of a known length (give it with its country code, e.g. +370 612 34567)"
            }
        })
    }
}

impl Phone {
    /// Reads `input`; numbers without a country code are read in `default_region` (ISO 3166).
    pub fn parse(input: &str, default_region: &str) -> Result<Phone, PhoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        if !trimmed.chars().all(|c| c.is_ascii_digit() || " +-().\u{a0}/".contains(c)) {
            return Err(PhoneError::BadCharacters);
        }
        let international = trimmed.starts_with('+');
        let mut digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
        if trimmed.contains('+') && !international {
            return Err(PhoneError::BadCharacters);
        }
        if international {
            return Self::international(&digits);
        }
        if let Some(rest) = digits.strip_prefix("00") {
            return Self::international(rest);
        }
        let Some(home) = region(default_region) else {
            return Self::international(&digits);
        };
        let national_len = home.min_len..=home.max_len;
        if !home.trunk.is_empty()
            && let Some(rest) = digits.strip_prefix(home.trunk)
            && national_len.contains(&rest.len())
        {
            return Ok(Phone(format!("+{}{rest}", home.country_code)));
        }
        if let Some(rest) = digits.strip_prefix(home.country_code)
            && national_len.contains(&rest.len())
        {
            return Ok(Phone(format!("+{digits}")));
        }
        if national_len.contains(&digits.len()) {
            digits.insert_str(0, home.country_code);
            return Ok(Phone(format!("+{digits}")));
        }
        Self::international(&digits)
    }

    fn international(digits: &str) -> Result<Phone, PhoneError> {
        if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(PhoneError::BadLength);
        }
        // When the country is one we know, its national length must fit too.
        for r in REGIONS {
            if let Some(rest) = digits.strip_prefix(r.country_code) {
                if (r.min_len..=r.max_len).contains(&rest.len()) {
                    return Ok(Phone(format!("+{digits}")));
                }
                // "+1" and "+7" prefix many numbers; only a region whose code fully matches decides.
                if r.country_code.len() >= 2 {
                    return Err(PhoneError::BadLength);
                }
            }
        }
        Ok(Phone(format!("+{digits}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Digits only, without the `+` (for partial-number search).
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }

    /// A stored E.164 value, trusted as is.
    pub fn from_stored(e164: String) -> Phone {
        Phone(e164)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lt(input: &str) -> Result<String, PhoneError> {
        Phone::parse(input, "LT").map(|p| p.0)
    }

    #[test]
    fn the_three_ways_of_writing_a_lithuanian_mobile_are_one_number() {
        for written in
            ["+370 612 34567", "8 (612) 34567", "37061234567", "+370-612-34567", "00370 612 34567", "612 34567"]
        {
            assert_eq!(lt(written).as_deref(), Ok("+37061234567"), "{written}");
        }
    }

    #[test]
    fn other_regions_read_their_national_formats() {
        assert_eq!(Phone::parse("8 (912) 345-67-89", "RU").map(|p| p.0).as_deref(), Ok("+79123456789"));
        assert_eq!(Phone::parse("0721 234 567", "RO").map(|p| p.0).as_deref(), Ok("+40721234567"));
        assert_eq!(Phone::parse("512 345 678", "PL").map(|p| p.0).as_deref(), Ok("+48512345678"));
        assert_eq!(lt("+48 512 345 678").as_deref(), Ok("+48512345678"), "a foreign number in a LT shop");
    }

    #[test]
    fn nonsense_is_refused_with_a_reason() {
        assert_eq!(lt(""), Err(PhoneError::Empty));
        assert_eq!(lt("call me"), Err(PhoneError::BadCharacters));
        assert_eq!(lt("12 + 34"), Err(PhoneError::BadCharacters));
        assert_eq!(lt("123"), Err(PhoneError::BadLength));
        assert_eq!(lt("+370 612"), Err(PhoneError::BadLength));
        assert_eq!(lt("+1234567890123456"), Err(PhoneError::BadLength));
    }
}
