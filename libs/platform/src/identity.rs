//! A service's own identity: the token it calls other services with (feeds, the client service's
//! block call). It is issued by the identity provider like any other token, with `kind: service`,
//! tenant `*` and only the rights the service needs; a call for one tenant names it in
//! `x-loyalty-tenant`.
//!
//! In production it is a file (`identity.token_file`, a Kubernetes secret) that is read again when
//! it changes, so a new token takes effect without a restart. `loyalty dev up` and the tests hand
//! the service a signing key instead (`identity.signing_key`), and it mints its own token with the
//! rights it declares; never give a production service the identity provider's key.
use crate::Secret;
use crate::auth::{BearerToken, TENANT_HEADER};
use anyhow::Context;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct IdentitySettings {
    /// The service token itself.
    pub token: Secret<String>,
    /// A file holding the service token (wins over `token`).
    pub token_file: String,
    /// Development and tests only: an Ed25519 private key (PKCS#8 DER, base64) the service signs
    /// its own identity token with, and the key's `kid`.
    pub signing_key: Secret<String>,
    pub signing_kid: String,
}

/// The token a service calls its peers with.
#[derive(Clone, Debug)]
pub struct ServiceIdentity {
    source: Source,
}

/// The token file as last read: when it was modified, and what it held.
type LastRead = Arc<Mutex<Option<(SystemTime, Secret<String>)>>>;

#[derive(Clone, Debug)]
enum Source {
    Token(Secret<String>),
    File { path: PathBuf, read: LastRead },
}

impl ServiceIdentity {
    /// The identity `settings` name for `service` ("ledger"), which needs `rights`; fails, saying
    /// what to set, when they name none.
    pub fn new(service: &str, settings: &crate::config::PlatformSettings, rights: &[&str]) -> anyhow::Result<Self> {
        let own = &settings.identity;
        let source = if !own.token_file.is_empty() {
            Source::File { path: own.token_file.clone().into(), read: Arc::default() }
        } else if !own.token.expose().is_empty() {
            Source::Token(own.token.clone())
        } else if !own.signing_key.expose().is_empty() {
            use base64::Engine;
            let der = base64::engine::general_purpose::STANDARD
                .decode(own.signing_key.expose())
                .context("identity.signing_key: not base64")?;
            let issuer = if settings.auth.issuer.is_empty() {
                crate::keys::DEVELOPMENT_ISSUER.to_string()
            } else {
                settings.auth.issuer.clone()
            };
            let signer = crate::keys::TokenSigner::from_pkcs8(&der, &own.signing_kid, &issuer);
            let subject = format!("{service}-service");
            let token = signer.mint(&crate::auth::Grant::service(&subject, rights))?;
            Source::Token(Secret::new(token))
        } else {
            anyhow::bail!(
                "identity.token_file is not set: the {service} service needs its own service token to follow \
                 other services' feeds (issue one with `loyalty token --service {service}`)"
            );
        };
        let identity = Self { source };
        identity.token().with_context(|| format!("the {service} service's identity"))?;
        Ok(identity)
    }

    fn token(&self) -> anyhow::Result<Secret<String>> {
        match &self.source {
            Source::Token(token) => Ok(token.clone()),
            Source::File { path, read } => {
                let modified = std::fs::metadata(path)
                    .and_then(|m| m.modified())
                    .with_context(|| format!("identity.token_file: {}", path.display()))?;
                let mut cached = read.lock().unwrap_or_else(|p| p.into_inner());
                if let Some((at, token)) = cached.as_ref()
                    && *at == modified
                {
                    return Ok(token.clone());
                }
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("identity.token_file: reading {}", path.display()))?;
                let token = Secret::new(text.trim().to_string());
                *cached = Some((modified, token.clone()));
                Ok(token)
            }
        }
    }

    /// The bearer interceptor for a call under this identity.
    pub fn bearer(&self) -> anyhow::Result<BearerToken> {
        BearerToken::new(self.token()?.expose())
    }

    /// A request under this identity acting for `tenant`, with the current trace context.
    pub fn request<T>(&self, tenant: &str, message: T) -> anyhow::Result<tonic::Request<T>> {
        let mut request = tonic::Request::new(message);
        let value: tonic::metadata::MetadataValue<_> =
            format!("Bearer {}", self.token()?.expose()).parse().context("the service token is not ASCII")?;
        request.metadata_mut().insert("authorization", value);
        request.metadata_mut().insert(TENANT_HEADER, tenant.parse().context("the tenant id is not ASCII")?);
        crate::trace::inject(request.metadata_mut());
        Ok(request)
    }
}
