//! Providers' secrets sealed at rest (AES-256-GCM, a fresh nonce each time, the tenant and channel
//! bound in as associated data so a sealed value cannot be moved to another row).
use anyhow::Context;
use base64::Engine;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

#[derive(Clone)]
pub struct Sealer {
    key: std::sync::Arc<LessSafeKey>,
    /// The raw key, for deriving the links key.
    raw: [u8; 32],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

/// The key of development and tests when none is configured: never for production.
const DEVELOPMENT_KEY: [u8; 32] = *b"loyalty-development-secrets-key!";

impl Sealer {
    /// The key `configured` (32 bytes, base64), or the development key when it is empty.
    pub fn new(configured: &str) -> anyhow::Result<Sealer> {
        let raw: [u8; 32] = if configured.trim().is_empty() {
            tracing::warn!("messaging.secrets_key is not set: providers' secrets are sealed with the development key");
            DEVELOPMENT_KEY
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(configured.trim())
                .context("messaging.secrets_key: not base64")?
                .try_into()
                .map_err(|_| anyhow::anyhow!("messaging.secrets_key: must be 32 bytes"))?
        };
        let key = UnboundKey::new(&AES_256_GCM, &raw).map_err(|_| anyhow::anyhow!("messaging.secrets_key: refused"))?;
        Ok(Sealer { key: std::sync::Arc::new(LessSafeKey::new(key)), raw })
    }

    pub fn raw_key(&self) -> &[u8; 32] {
        &self.raw
    }

    pub fn seal(&self, bound_to: &str, secret: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| anyhow::anyhow!("no randomness for a nonce"))?;
        let mut sealed = secret.to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(bound_to.as_bytes()), &mut sealed)
            .map_err(|_| anyhow::anyhow!("sealing a secret failed"))?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(out)
    }

    pub fn open(&self, bound_to: &str, sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
        anyhow::ensure!(sealed.len() > NONCE_LEN, "a sealed secret is too short");
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| anyhow::anyhow!("a bad nonce"))?;
        let mut body = body.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::from(bound_to.as_bytes()), &mut body).map_err(|_| {
            anyhow::anyhow!("a sealed secret does not open with this key (was messaging.secrets_key changed?)")
        })?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_where_it_was_sealed() {
        let sealer = Sealer::new("").expect("development key");
        let sealed = sealer.seal("acme/email", b"p4ssw0rd").expect("seals");
        assert!(!sealed.windows(8).any(|w| w == b"p4ssw0rd"), "the secret is not stored in clear");
        assert_eq!(sealer.open("acme/email", &sealed).expect("opens"), b"p4ssw0rd");
        assert!(sealer.open("globex/email", &sealed).is_err(), "another tenant's row cannot open it");
        let other = Sealer::new(&base64::engine::general_purpose::STANDARD.encode([7u8; 32])).expect("key");
        assert!(other.open("acme/email", &sealed).is_err());
        assert_ne!(sealer.seal("acme/email", b"p4ssw0rd").expect("seals"), sealed, "a fresh nonce each time");
    }

    #[test]
    fn a_key_of_the_wrong_size_is_refused_with_the_setting_named() {
        let e = Sealer::new("c2hvcnQ=").expect_err("short");
        assert!(e.to_string().contains("messaging.secrets_key"), "{e}");
    }
}
