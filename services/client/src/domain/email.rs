//! E-mail addresses: checked for shape; unique per tenant compared case-insensitively.
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    /// As given (trimmed).
    pub address: String,
    /// Lower case: what uniqueness and exact search compare.
    pub key: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailError(&'static str);

impl fmt::Display for EmailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Email {
    pub fn parse(input: &str) -> Result<Email, EmailError> {
        let address = input.trim();
        if address.len() > 254 {
            return Err(EmailError("is longer than 254 characters"));
        }
        if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError("may not contain spaces"));
        }
        let Some((local, domain)) = address.rsplit_once('@') else {
            return Err(EmailError("is not an e-mail address (no @)"));
        };
        if local.is_empty() || local.contains('@') || local.len() > 64 {
            return Err(EmailError("has no valid name before the @"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'))
            && labels.iter().all(|l| l.chars().all(|c| c.is_alphanumeric() || c == '-'));
        if !domain_ok {
            return Err(EmailError("has no valid domain after the @"));
        }
        Ok(Email { address: address.to_string(), key: address.to_lowercase() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_keep_their_case_and_compare_without_it() {
        let e = Email::parse("  Ona.Kazlauskiene@Example.LT ").expect("valid");
        assert_eq!(e.address, "Ona.Kazlauskiene@Example.LT");
        assert_eq!(e.key, "ona.kazlauskiene@example.lt");
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in ["ona", "ona@", "@example.lt", "ona@example", "o na@example.lt", "ona@-x.lt", "a@@b.lt"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }
}
