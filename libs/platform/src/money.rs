//! Points and money as types that carry their bounds: a sum that would leave them is an
//! error the caller sees, never a panic or a silent wrap.
use crate::error::ApiError;
use std::fmt;

/// The most points one amount may hold (a balance, an entry, a purchase's earning): 10^12.
pub const MAX_POINTS: i64 = 1_000_000_000_000;
/// The largest amount of money, in minor units: 10^14 (a trillion euros in cents).
pub const MAX_MINOR: i64 = 100_000_000_000_000;

/// A whole number of points within ±[`MAX_POINTS`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Points(i64);

impl Points {
    pub const ZERO: Points = Points(0);

    /// Reads points from the wire.
    pub fn parse(field: &str, value: i64) -> Result<Self, ApiError> {
        Self::new(value)
            .ok_or_else(|| ApiError::field(field, &format!("must be between -{MAX_POINTS} and {MAX_POINTS}")))
    }

    /// `None` outside the bounds.
    pub fn new(value: i64) -> Option<Self> {
        (value.checked_abs()? <= MAX_POINTS).then_some(Self(value))
    }

    pub fn get(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Points) -> Option<Points> {
        Self::new(self.0.checked_add(other.0)?)
    }

    pub fn checked_sub(self, other: Points) -> Option<Points> {
        Self::new(self.0.checked_sub(other.0)?)
    }

    /// Always within bounds: the bounds are symmetric.
    pub fn negate(self) -> Points {
        Points(-self.0)
    }
}

impl fmt::Display for Points {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An ISO 4217 currency code in force.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

/// The ISO 4217 codes of currencies in circulation, with their number of minor-unit digits.
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CRC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("UYU", 2),
    ("UZS", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
];

impl Currency {
    pub const EUR: Currency = Currency(*b"EUR");

    /// Reads a currency code ("EUR"); unknown and lower-case codes are refused.
    pub fn parse(field: &str, code: &str) -> Result<Self, ApiError> {
        Self::known(code).ok_or_else(|| {
            let reason = if code.is_empty() {
                "is required: an ISO 4217 currency code such as EUR".to_string()
            } else {
                "is not an ISO 4217 currency code in circulation (write it like EUR, PLN, RON)".to_string()
            };
            ApiError::field(field, &reason)
        })
    }

    /// The currency of `code` when it is one in circulation.
    pub fn known(code: &str) -> Option<Self> {
        CURRENCIES.iter().find(|(c, _)| *c == code).map(|(c, _)| {
            let b = c.as_bytes();
            Currency([b[0], b[1], b[2]])
        })
    }

    pub fn code(&self) -> &str {
        // Built only from the ASCII table above.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Digits after the decimal point (2 for EUR, 0 for JPY).
    pub fn minor_digits(&self) -> u8 {
        CURRENCIES.iter().find(|(c, _)| c.as_bytes() == self.0).map(|(_, d)| *d).unwrap_or(2)
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount in minor units of a currency, within ±[`MAX_MINOR`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Option<Self> {
        (minor.checked_abs()? <= MAX_MINOR).then_some(Self { minor, currency })
    }

    pub fn zero(currency: Currency) -> Self {
        Self { minor: 0, currency }
    }

    /// Reads `amount` (minor units and currency) from the wire; `field` is where it sits
    /// (`amount`, `lines[2].unit_price`). Every problem is reported.
    pub fn parse(field: &str, minor: i64, currency: &str) -> Result<Self, ApiError> {
        let mut v = crate::error::Violations::new();
        let parsed = Currency::parse(&format!("{field}.currency"), currency);
        if let Err(ApiError::InvalidArgument(e)) = &parsed {
            v.extend(e.clone());
        }
        if minor.checked_abs().is_none_or(|m| m > MAX_MINOR) {
            v.add(format!("{field}.minor_units"), format!("must be between -{MAX_MINOR} and {MAX_MINOR}"));
        }
        match parsed {
            Ok(currency) if v.is_empty() => Ok(Self { minor, currency }),
            _ => Err(ApiError::InvalidArgument(v)),
        }
    }

    pub fn minor(&self) -> i64 {
        self.minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// `None` when the currencies differ or the sum leaves the bounds.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        if self.currency != other.currency {
            return None;
        }
        Money::new(self.minor.checked_add(other.minor)?, self.currency)
    }

    /// The amount for people: "12.34 EUR", "-5 JPY".
    pub fn display(&self) -> String {
        format_minor(self.minor, self.currency)
    }
}

/// `minor` units of `currency` written for people, with a decimal point: "1 234.50 EUR" is left to
/// the reader's locale; this writes "1234.50 EUR".
pub fn format_minor(minor: i64, currency: Currency) -> String {
    let digits = u32::from(currency.minor_digits());
    if digits == 0 {
        return format!("{minor} {currency}");
    }
    let scale = 10_i128.pow(digits);
    let value = i128::from(minor);
    let sign = if value < 0 { "-" } else { "" };
    let (whole, fraction) = (value.abs() / scale, value.abs() % scale);
    format!("{sign}{whole}.{fraction:0width$} {currency}", width = digits as usize)
}

/// `a × b ÷ c` in 128 bits, `None` when the result does not fit an `i64` or `c` is 0.
pub fn mul_div(a: i64, b: i64, c: i64) -> Option<i64> {
    if c == 0 {
        return None;
    }
    i64::try_from(i128::from(a) * i128::from(b) / i128::from(c)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_refuse_what_leaves_their_bounds() {
        assert!(Points::parse("points", MAX_POINTS).is_ok());
        assert!(Points::parse("points", -MAX_POINTS).is_ok());
        let err = Points::parse("points", i64::MAX).expect_err("too many");
        assert!(err.to_string().starts_with("points: must be between"), "{err}");
        assert!(Points::parse("points", i64::MIN).is_err(), "the minimum has no absolute value");
        let big = Points::parse("p", MAX_POINTS).expect("max");
        assert_eq!(big.checked_add(Points::parse("p", 1).expect("1")), None);
        assert_eq!(big.negate().get(), -MAX_POINTS);
    }

    #[test]
    fn money_needs_a_currency_in_circulation() {
        let m = Money::parse("amount", 1234, "EUR").expect("valid");
        assert_eq!(m.display(), "12.34 EUR");
        assert_eq!(Money::parse("amount", -5, "JPY").expect("yen").display(), "-5 JPY");
        assert_eq!(Money::parse("amount", 1, "BHD").expect("dinar").display(), "0.001 BHD");
        let err = Money::parse("amount", i64::MAX, "eur").expect_err("both wrong");
        let fields: Vec<String> = match err {
            ApiError::InvalidArgument(v) => v.iter().map(|(f, _)| f.to_string()).collect(),
            other => panic!("{other:?}"),
        };
        assert_eq!(fields, ["amount.currency", "amount.minor_units"]);
        let eur = Money::parse("a", 1, "EUR").expect("eur");
        let pln = Money::parse("a", 1, "PLN").expect("pln");
        assert_eq!(eur.checked_add(pln), None, "no sum across currencies");
    }

    #[test]
    fn products_are_computed_wide() {
        assert_eq!(mul_div(i64::MAX, 2, 2), Some(i64::MAX));
        assert_eq!(mul_div(i64::MAX, 3, 1), None);
        assert_eq!(mul_div(1, 1, 0), None);
    }
}
