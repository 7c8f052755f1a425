//! Tokens already verified, by their exact text. A till calls thousands of times with one token;
//! checking its signature and parsing its claims again costs a few microseconds of every call. An
//! entry answers only for the very same bytes and only before the token's `exp` (the leeway is
//! left to a full verification); it belongs to the key that verified it, so a new secret starts
//! empty.
use crate::auth::Principal;
use std::collections::HashMap;
use std::sync::Mutex;

/// Tokens kept at most; when full, the cache starts over (a flood of one-off tokens cannot grow it).
const MAX_TOKENS: usize = 10_000;

#[derive(Default)]
pub struct VerifiedTokens {
    entries: Mutex<HashMap<String, (Principal, i64)>>,
}

impl VerifiedTokens {
    /// The principal of `token` if it was verified before and `now` (Unix seconds) is before its
    /// expiry.
    pub fn get(&self, token: &str, now: i64) -> Option<Principal> {
        let mut entries = self.entries.lock().ok()?;
        match entries.get(token) {
            Some((principal, exp)) if now < *exp => Some(principal.clone()),
            Some(_) => {
                entries.remove(token);
                None
            }
            None => None,
        }
    }

    /// Remembers a token that has just passed verification, valid until `exp`.
    pub fn remember(&self, token: &str, principal: &Principal, exp: i64) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_TOKENS {
                entries.clear();
            }
            entries.insert(token.to_string(), (principal.clone(), exp));
        }
    }

    /// How many tokens are known (for tests).
    #[cfg(test)]
    pub fn known(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }
}
