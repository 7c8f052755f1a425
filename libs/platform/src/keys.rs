//! Signing keys and the public keys tokens are checked against.
//!
//! Services hold only public keys: a JWKS file (`auth.jwks_file`) with one or more keys, each with
//! its `kid`, so an identity provider can rotate keys (publish the new key, sign with it, drop the
//! old one when its last token has expired). EdDSA (Ed25519), RS256 and ES256 are accepted.
//! Every token must name the configured issuer (`iss`) and audience (`aud`); `exp` is required,
//! `nbf` is honoured.
//!
//! The file is read again when it changes (checked at most every [`RELOAD_CHECK`], and at once for
//! a `kid` not yet known), so a key added or removed in a Kubernetes ConfigMap takes effect without
//! a restart; a file that no longer reads or parses keeps the keys last read, with a warning.
//!
//! A well-known development key (its private half is in this file) signs the tokens of
//! `loyalty dev up` and `loyalty token`. A service started without `auth.development = true`
//! refuses to start when its keys include it.
use crate::auth::{Claims, Principal};
use crate::config::AuthSettings;
use anyhow::Context;
use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};
use tonic::Status;

/// How often the JWKS file is looked at for a change.
pub const RELOAD_CHECK: Duration = Duration::from_secs(10);

/// `kid` of the development key.
pub const DEVELOPMENT_KID: &str = "loyalty-development";
/// The development key's private half (PKCS#8 DER, base64). Never trusted outside development.
const DEVELOPMENT_PRIVATE_KEY: &str = "MC4CAQAwBQYDK2VwBCIEIAy/3k2h/nWoLnwuv8/IJHVXpJNzny5/WLj8ONHXZyKs";
/// Its public half (the JWK `x`, base64url).
const DEVELOPMENT_PUBLIC_KEY: &str = "ISUrGw56DnNvxI6pdjbD0SIJQxQBEB1jkGB-GmnHgUQ";
/// Issuer and audience of development tokens.
pub const DEVELOPMENT_ISSUER: &str = "loyalty-dev";
pub const DEFAULT_AUDIENCE: &str = "loyalty";

/// The development key's JWKS (what `loyalty dev up` trusts).
pub fn development_jwks() -> JwkSet {
    JwkSet { keys: vec![ed25519_jwk(DEVELOPMENT_KID, DEVELOPMENT_PUBLIC_KEY)] }
}

fn ed25519_jwk(kid: &str, x: &str) -> Jwk {
    let value = serde_json::json!({ "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid, "x": x });
    // A literal of the JWK shape: it always deserializes.
    serde_json::from_value(value).unwrap_or_else(|e| panic!("a literal JWK: {e}"))
}

/// One public key and the algorithm tokens signed with it use.
struct PublicKey {
    key: DecodingKey,
    validation: Validation,
}

/// The keys trusted now, and the tokens they verified (forgotten with the keys).
struct Trusted {
    keys: HashMap<String, PublicKey>,
    verified: crate::verified_tokens::VerifiedTokens,
}

/// The JWKS file the keys came from, and when it was last looked at.
struct KeyFile {
    path: PathBuf,
    issuer: String,
    audience: String,
    development: bool,
    /// When the file was last looked at, and its modification time then.
    seen: Mutex<(Instant, Option<SystemTime>)>,
}

/// Verifies tokens against the configured public keys.
#[derive(Clone)]
pub struct Verifier {
    trusted: Arc<RwLock<Arc<Trusted>>>,
    file: Option<Arc<KeyFile>>,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl Verifier {
    /// The keys of `settings`: the JWKS file, or the development key in development mode with no
    /// file. Fails, saying what to set, when production settings are missing.
    pub fn new(settings: &AuthSettings) -> anyhow::Result<Self> {
        let set = if settings.jwks_file.is_empty() {
            anyhow::ensure!(
                settings.development,
                "auth.jwks_file is not set: give the public keys tokens are signed with (a JWKS file); only \
                 auth.development = true (loyalty dev up) trusts the development key"
            );
            development_jwks()
        } else {
            read_jwks(Path::new(&settings.jwks_file))?
        };
        let issuer = if settings.issuer.is_empty() && settings.development {
            DEVELOPMENT_ISSUER.to_string()
        } else {
            settings.issuer.clone()
        };
        anyhow::ensure!(!issuer.is_empty(), "auth.issuer is not set: name the issuer (iss) tokens must carry");
        let audience = if settings.audience.is_empty() { DEFAULT_AUDIENCE } else { &settings.audience };
        let mut verifier = Self::from_jwks(&set, &issuer, audience, settings.development)?;
        if !settings.jwks_file.is_empty() {
            let path = PathBuf::from(&settings.jwks_file);
            let seen = Mutex::new((Instant::now(), modified(&path)));
            let (issuer, audience, development) = (issuer, audience.to_string(), settings.development);
            verifier.file = Some(Arc::new(KeyFile { path, issuer, audience, development, seen }));
        }
        Ok(verifier)
    }

    /// Keys from `set`; `development` decides whether the development key may be among them.
    pub fn from_jwks(set: &JwkSet, issuer: &str, audience: &str, development: bool) -> anyhow::Result<Self> {
        let keys = public_keys(set, issuer, audience, development)?;
        let trusted = Trusted { keys, verified: Default::default() };
        Ok(Self { trusted: Arc::new(RwLock::new(Arc::new(trusted))), file: None })
    }

    fn trusted(&self) -> Arc<Trusted> {
        match self.trusted.read() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reads the JWKS file again if it changed since it was last looked at, which is at most every
    /// [`RELOAD_CHECK`] unless `now` is asked for (a token names a `kid` not known yet).
    fn reload_if_changed(&self, now: bool) {
        let Some(file) = &self.file else { return };
        let Ok(mut seen) = file.seen.try_lock() else { return };
        if !now && seen.0.elapsed() < RELOAD_CHECK {
            return;
        }
        let stamp = modified(&file.path);
        seen.0 = Instant::now();
        if stamp == seen.1 {
            return;
        }
        let keys =
            read_jwks(&file.path).and_then(|set| public_keys(&set, &file.issuer, &file.audience, file.development));
        match keys {
            Ok(keys) => {
                seen.1 = stamp;
                tracing::info!(keys = keys.len(), file = %file.path.display(), "trusted keys read again");
                let fresh = Arc::new(Trusted { keys, verified: Default::default() });
                match self.trusted.write() {
                    Ok(mut t) => *t = fresh,
                    Err(poisoned) => *poisoned.into_inner() = fresh,
                }
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "the JWKS file changed but cannot be used; keeping the keys last read")
            }
        }
    }
}

/// The keys of `set`, each checking tokens for `issuer` and `audience`; `development` decides
/// whether the development key may be among them.
fn public_keys(
    set: &JwkSet,
    issuer: &str,
    audience: &str,
    development: bool,
) -> anyhow::Result<HashMap<String, PublicKey>> {
    let mut keys = HashMap::new();
    for (i, jwk) in set.keys.iter().enumerate() {
        let kid = jwk.common.key_id.clone().with_context(|| format!("auth.jwks_file: key {i} has no kid"))?;
        if let AlgorithmParameters::OctetKeyPair(okp) = &jwk.algorithm {
            anyhow::ensure!(
                development || okp.x != DEVELOPMENT_PUBLIC_KEY,
                "auth.jwks_file: key {kid:?} is the development key; it is trusted only with auth.development = true"
            );
            let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(okp.x.trim_end_matches('='))
                .with_context(|| format!("auth.jwks_file: key {kid:?}: x is not base64url"))?;
            anyhow::ensure!(x.len() == 32, "auth.jwks_file: key {kid:?}: an Ed25519 key has 32 bytes");
        }
        let algorithm = match &jwk.algorithm {
            AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
            _ => anyhow::bail!("auth.jwks_file: key {kid:?} is not a public key (OKP, RSA or EC)"),
        };
        let key = DecodingKey::from_jwk(jwk).with_context(|| format!("auth.jwks_file: key {kid:?}"))?;
        let mut validation = Validation::new(algorithm);
        validation.leeway = 5;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        keys.insert(kid, PublicKey { key, validation });
    }
    anyhow::ensure!(!keys.is_empty(), "auth.jwks_file holds no keys");
    Ok(keys)
}

impl Verifier {
    pub fn verify(&self, token: &str) -> Result<Principal, Status> {
        self.verify_at(token, time::OffsetDateTime::now_utc().unix_timestamp())
    }

    /// [`Self::verify`] at `now` (Unix seconds), which decides whether an earlier verification of
    /// the same token still holds; a full verification checks the expiry against the clock.
    pub(crate) fn verify_at(&self, token: &str, now: i64) -> Result<Principal, Status> {
        use jsonwebtoken::errors::ErrorKind;
        self.reload_if_changed(false);
        let mut trusted = self.trusted();
        if let Some(known) = trusted.verified.get(token, now) {
            return Ok(known);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| Status::unauthenticated("token is malformed"))?;
        if header.kid.as_ref().is_some_and(|kid| !trusted.keys.contains_key(kid)) {
            self.reload_if_changed(true);
            trusted = self.trusted();
        }
        let key = match &header.kid {
            Some(kid) => trusted.keys.get(kid),
            None if trusted.keys.len() == 1 => trusted.keys.values().next(),
            None => None,
        }
        .ok_or_else(|| Status::unauthenticated("token is signed with a key this service does not trust (kid)"))?;
        let data = jsonwebtoken::decode::<Claims>(token, &key.key, &key.validation).map_err(|e| {
            Status::unauthenticated(match e.kind() {
                ErrorKind::ExpiredSignature => "token expired",
                ErrorKind::ImmatureSignature => "token is not valid yet (nbf)",
                ErrorKind::InvalidSignature => "token signature is not valid",
                ErrorKind::InvalidIssuer => "token issuer is not accepted",
                ErrorKind::InvalidAudience => "token audience is not accepted",
                ErrorKind::InvalidAlgorithm => "token algorithm does not match its key",
                ErrorKind::MissingRequiredClaim(_) => "token lacks a required claim (exp, sub, iss, aud)",
                _ => "token is malformed",
            })
        })?;
        let exp = data.claims.exp;
        let principal = Principal::from_claims(data.claims)?;
        trusted.verified.remember(token, &principal, exp);
        Ok(principal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Grant;

    #[test]
    fn a_verified_token_is_known_until_it_expires_and_only_by_its_exact_text() {
        let (signer, jwks) = TokenSigner::generate("k", "iss").expect("key");
        let keys = Verifier::from_jwks(&jwks, "iss", DEFAULT_AUDIENCE, false).expect("verifier");
        let rights = ["clients.read"];
        let token = signer.mint(&Grant::new("acme", &rights)).expect("mint");
        let exp = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
        let first = keys.verify(&token).expect("valid");
        assert_eq!(keys.trusted().verified.known(), 1);
        assert_eq!(keys.trusted().verified.get(&token, exp - 60), Some(first.clone()), "known before its expiry");
        assert_eq!(keys.verify(&token).expect("again"), first);
        assert_eq!(keys.trusted().verified.get(&token, exp + 1), None, "not after it");
        assert_eq!(keys.trusted().verified.known(), 0, "and forgotten");
        // One byte changed in the signature: not the cached token, and not valid.
        let mut tampered = token.clone();
        let at = tampered.len() - 10;
        let swapped = if &tampered[at..=at] == "A" { "B" } else { "A" };
        tampered.replace_range(at..=at, swapped);
        keys.verify(&token).expect("cached again");
        assert_eq!(keys.verify(&tampered).expect_err("tampered").code(), tonic::Code::Unauthenticated);
        let (_, other) = TokenSigner::generate("k", "iss").expect("key");
        let other = Verifier::from_jwks(&other, "iss", DEFAULT_AUDIENCE, false).expect("verifier");
        assert!(other.verify(&token).is_err(), "another key's cache knows nothing of it");
    }

    #[test]
    fn a_key_added_to_the_jwks_file_is_trusted_and_a_removed_one_forgotten_without_a_restart() {
        let (old, old_keys) = TokenSigner::generate("old", "iss").expect("key");
        let (new, new_keys) = TokenSigner::generate("new", "iss").expect("key");
        let path = std::env::temp_dir().join(format!("jwks-reload-{}.json", std::process::id()));
        let write = |set: &JwkSet| {
            // A new modification time, as a ConfigMap update gives the file.
            std::thread::sleep(Duration::from_millis(20));
            std::fs::write(&path, serde_json::to_vec(set).expect("json")).expect("write jwks");
        };
        write(&old_keys);
        let settings = AuthSettings {
            jwks_file: path.display().to_string(),
            issuer: "iss".into(),
            audience: String::new(),
            development: false,
        };
        let keys = Verifier::new(&settings).expect("verifier");
        let grant = crate::auth::Grant::new("acme", &["clients.read"]);
        let (old_token, new_token) = (old.mint(&grant).expect("mint"), new.mint(&grant).expect("mint"));
        keys.verify(&old_token).expect("the old key verifies");
        assert!(keys.verify(&new_token).is_err(), "the new key is not published yet");

        let mut both = old_keys.clone();
        both.keys.extend(new_keys.keys.clone());
        write(&both);
        keys.verify(&new_token).expect("a kid not known yet reads the file again at once");
        keys.verify(&old_token).expect("both verify during the rotation");

        write(&new_keys);
        keys.reload_if_changed(true); // what the next check after RELOAD_CHECK does
        let status = keys.verify(&old_token).expect_err("the removed key is forgotten, cached tokens with it");
        assert!(status.message().contains("does not trust"), "{}", status.message());
        keys.verify(&new_token).expect("the new key stays");

        std::fs::write(&path, b"not json").expect("write");
        keys.reload_if_changed(true);
        keys.verify(&new_token).expect("a broken file keeps the keys last read");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_jwks_with_a_short_or_secret_key_is_refused_at_start() {
        let short = serde_json::json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "kid": "k", "x": "AAAA" }] });
        let set: JwkSet = serde_json::from_value(short).expect("jwks");
        assert!(Verifier::from_jwks(&set, "iss", "aud", false).is_err());
        let secret = serde_json::json!({ "keys": [{ "kty": "oct", "kid": "k", "k": "c2VjcmV0" }] });
        let set: JwkSet = serde_json::from_value(secret).expect("jwks");
        assert!(Verifier::from_jwks(&set, "iss", "aud", false).is_err());
        let unnamed = serde_json::json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "x": "ISUrGw56DnNvxI6pdjbD0SIJQxQBEB1jkGB-GmnHgUQ" }] });
        let set: JwkSet = serde_json::from_value(unnamed).expect("jwks");
        assert!(Verifier::from_jwks(&set, "iss", "aud", true).is_err(), "a key without a kid");
    }
}

/// Reads a JWKS file.
pub fn read_jwks(path: &Path) -> anyhow::Result<JwkSet> {
    let text = std::fs::read_to_string(path).with_context(|| format!("auth.jwks_file: reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("auth.jwks_file: {} is not a JWKS document", path.display()))
}

/// Signs tokens with a private key (the identity provider's role: tests, `loyalty token`,
/// `loyalty dev up`).
#[derive(Clone)]
pub struct TokenSigner {
    key: EncodingKey,
    der: crate::Secret<Vec<u8>>,
    kid: String,
    pub issuer: String,
    pub audience: String,
}

impl TokenSigner {
    /// The development key.
    pub fn development() -> Self {
        let der = base64::engine::general_purpose::STANDARD.decode(DEVELOPMENT_PRIVATE_KEY).unwrap_or_default();
        Self::from_pkcs8(&der, DEVELOPMENT_KID, DEVELOPMENT_ISSUER)
    }

    /// A new random Ed25519 key and the JWKS that trusts it.
    pub fn generate(kid: &str, issuer: &str) -> anyhow::Result<(Self, JwkSet)> {
        use ring::signature::KeyPair;
        let rng = ring::rand::SystemRandom::new();
        let der =
            ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| anyhow::anyhow!("generating a key"))?;
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8(der.as_ref())
            .map_err(|_| anyhow::anyhow!("reading the generated key"))?;
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let signer = Self::from_pkcs8(der.as_ref(), kid, issuer);
        Ok((signer, JwkSet { keys: vec![ed25519_jwk(kid, &x)] }))
    }

    /// An Ed25519 private key in PKCS#8 DER.
    pub fn from_pkcs8(der: &[u8], kid: &str, issuer: &str) -> Self {
        Self {
            key: EncodingKey::from_ed_der(der),
            der: crate::Secret::new(der.to_vec()),
            kid: kid.into(),
            issuer: issuer.into(),
            audience: DEFAULT_AUDIENCE.into(),
        }
    }

    /// The private key as `identity.signing_key` takes it (development and tests).
    pub fn private_key_base64(&self) -> crate::Secret<String> {
        crate::Secret::new(base64::engine::general_purpose::STANDARD.encode(self.der.expose()))
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Mints a token granting `grant`.
    pub fn mint(&self, grant: &crate::auth::Grant<'_>) -> anyhow::Result<String> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims {
            sub: grant.subject.to_string(),
            tenant: grant.tenant.to_string(),
            rights: grant.rights.iter().map(|r| r.to_string()).collect(),
            stores: grant.stores.iter().map(|s| s.to_string()).collect(),
            name: grant.name.to_string(),
            kind: grant.kind.to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            nbf: None,
            exp: now + grant.ttl.as_secs() as i64,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.key).context("signing the token")
    }
}
