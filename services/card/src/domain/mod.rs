//! The card service's rules as plain types and functions.
pub mod bulk;
pub mod filter;
pub mod number;

use loyalty_api::card::v1::{BarcodeFormat, CardKind, CardStatus};

pub fn kind_name(k: i32) -> Option<&'static str> {
    match CardKind::try_from(k).ok()? {
        CardKind::Virtual => Some("virtual"),
        CardKind::Physical => Some("physical"),
        CardKind::Wallet => Some("wallet"),
        CardKind::Unspecified => None,
    }
}

pub fn kind_value(name: &str) -> CardKind {
    match name {
        "virtual" => CardKind::Virtual,
        "wallet" => CardKind::Wallet,
        _ => CardKind::Physical,
    }
}

pub fn status_name(s: i32) -> Option<&'static str> {
    match CardStatus::try_from(s).ok()? {
        CardStatus::Active => Some("active"),
        CardStatus::Blocked => Some("blocked"),
        CardStatus::Replaced => Some("replaced"),
        CardStatus::Deleted => Some("deleted"),
        CardStatus::Merged => Some("merged"),
        CardStatus::Unspecified => None,
    }
}

pub fn status_value(name: &str) -> CardStatus {
    match name {
        "blocked" => CardStatus::Blocked,
        "replaced" => CardStatus::Replaced,
        "deleted" => CardStatus::Deleted,
        "merged" => CardStatus::Merged,
        _ => CardStatus::Active,
    }
}

pub fn barcode_name(f: i32) -> &'static str {
    match BarcodeFormat::try_from(f) {
        Ok(BarcodeFormat::Ean13) => "ean13",
        _ => "code128",
    }
}

pub fn barcode_value(name: &str) -> BarcodeFormat {
    if name == "ean13" { BarcodeFormat::Ean13 } else { BarcodeFormat::Code128 }
}

/// Whether a card in status `from` may move to another status `to` (CA-3): active and blocked cards
/// move between each other and to deleted, replaced or merged; those three are final.
pub fn may_become(from: &str, to: &str) -> bool {
    from != to
        && matches!(from, "active" | "blocked")
        && matches!(to, "active" | "blocked" | "deleted" | "replaced" | "merged")
}

/// Why a card may not be used at the till, in words for the cashier; `None` for an active card.
/// A replaced card names its successor's number when it is known.
pub fn not_at_till(status: &str, successor_number: Option<&str>) -> Option<String> {
    match (status, successor_number) {
        ("active", _) => None,
        ("replaced", Some(number)) => Some(format!("the card was replaced by card {number}; use that card")),
        ("merged", Some(number)) => Some(format!("the card was merged into card {number}; use that card")),
        (status, _) => Some(format!("the card is {status}; it cannot be used at the till")),
    }
}

/// The barcode of a card: the supplied one (checked), or derived from the number. EAN-13 needs 12
/// digits (a check digit is appended) or 13 with a valid one.
pub fn barcode(number: &str, supplied: &str, format: &str) -> Result<String, &'static str> {
    let text = if supplied.is_empty() { number } else { supplied };
    match format {
        "ean13" if text.len() == 12 && text.chars().all(|c| c.is_ascii_digit()) => {
            number::ean13_check_digit(text).map(|d| format!("{text}{d}")).ok_or("is not 12 digits")
        }
        "ean13" if number::ean13_valid(text) => Ok(text.to_string()),
        "ean13" => Err("is not a valid EAN-13 code (12 digits, or 13 with a valid check digit)"),
        _ if text.len() > 48 || !text.chars().all(|c| c.is_ascii_graphic()) => {
            Err("must be 1 to 48 printable ASCII characters")
        }
        _ => Ok(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaced_merged_and_deleted_are_final() {
        assert!(may_become("active", "blocked") && may_become("blocked", "active"));
        assert!(may_become("blocked", "deleted") && may_become("active", "replaced"));
        for done in ["replaced", "merged", "deleted"] {
            assert!(!may_become(done, "active") && !may_become(done, "blocked"), "{done} is final");
            assert!(!may_become(done, done), "a {done} card is not {done} again");
        }
        assert_eq!(not_at_till("active", None), None);
        assert_eq!(
            not_at_till("replaced", Some("2000000000022")).as_deref(),
            Some("the card was replaced by card 2000000000022; use that card")
        );
        assert_eq!(not_at_till("blocked", None).as_deref(), Some("the card is blocked; it cannot be used at the till"));
    }

    #[test]
    fn barcodes_are_derived_or_checked() {
        assert_eq!(barcode("400638133393", "", "ean13").as_deref(), Ok("4006381333931"));
        assert_eq!(barcode("X", "4006381333931", "ean13").as_deref(), Ok("4006381333931"));
        assert!(barcode("X", "4006381333932", "ean13").is_err());
        assert_eq!(barcode("2000000000015", "", "code128").as_deref(), Ok("2000000000015"));
        assert!(barcode("x", "with space", "code128").is_err());
    }
}
