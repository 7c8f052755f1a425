//! Bearer tokens (JWT, HS256) carrying tenant, rights and an optional store scope, and the tower
//! layer that turns them into a [`Principal`] in the request extensions.
//!
//! Missing, expired or badly signed tokens are UNAUTHENTICATED; a valid token without the right an
//! RPC needs is PERMISSION_DENIED. Every method of a service must be listed in its [`RightsTable`]:
//! a method that is not listed is refused, so a forgotten entry fails closed.
use crate::config::AuthSettings;
use futures::future::BoxFuture;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use loyalty_api::common::v1::{Actor, Channel, actor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::Status;
use tonic::body::Body;

/// Grants every right within the token's tenant (dev admin tokens, tenant administrators); never
/// a right that crosses tenants (see [`Principal::has_explicit_right`]).
pub const ALL_RIGHTS: &str = "*";

/// The claims of a loyalty token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// User or integration id.
    pub sub: String,
    /// Tenant id (one retail chain).
    pub tenant: String,
    /// Rights such as "clients.read", "ledger.manual"; "*" grants all.
    #[serde(default)]
    pub rights: Vec<String>,
    /// Store scope: when non-empty, the holder sees only these stores' data (CL-11).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stores: Vec<String>,
    /// Display name for history and audit.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// "user" (default), "integration" or "system".
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
}

/// Who is calling: put into the request extensions by [`AuthLayer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub tenant: String,
    pub name: String,
    pub kind: actor::Kind,
    rights: Vec<String>,
    stores: Vec<String>,
}

impl Principal {
    fn from_claims(c: Claims) -> Self {
        let kind = match c.kind.as_str() {
            "integration" => actor::Kind::Integration,
            "system" => actor::Kind::System,
            _ => actor::Kind::User,
        };
        Self { subject: c.sub, tenant: c.tenant, name: c.name, kind, rights: c.rights, stores: c.stores }
    }

    pub fn has_right(&self, right: &str) -> bool {
        self.rights.iter().any(|r| r == right || r == ALL_RIGHTS)
    }

    /// Named in the token itself: `*` does not grant it. For rights that cross the tenant boundary
    /// (service accounts reading every tenant's feed), which no tenant admin should hold by accident.
    pub fn has_explicit_right(&self, right: &str) -> bool {
        self.rights.iter().any(|r| r == right)
    }

    /// PERMISSION_DENIED unless the principal has `right` (for checks inside a handler, e.g. a
    /// field only some roles may set).
    pub fn require(&self, right: &str) -> Result<(), Status> {
        if self.has_right(right) { Ok(()) } else { Err(Status::permission_denied(format!("needs the right {right}"))) }
    }

    /// The stores the principal is limited to; `None` means all stores of the tenant.
    pub fn store_scope(&self) -> Option<&[String]> {
        if self.stores.is_empty() { None } else { Some(&self.stores) }
    }

    /// The actor recorded in history and events.
    pub fn actor(&self, channel: Channel, store_id: &str) -> Actor {
        Actor {
            kind: self.kind as i32,
            id: self.subject.clone(),
            name: self.name.clone(),
            channel: channel as i32,
            store_id: store_id.to_string(),
        }
    }
}

/// The principal of a request that passed the [`AuthLayer`].
pub fn principal<T>(request: &tonic::Request<T>) -> Result<&Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .ok_or_else(|| Status::unauthenticated("no principal: the auth layer is not installed"))
}

/// Signs and verifies tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    verified: Arc<crate::verified_tokens::VerifiedTokens>,
}

impl TokenKeys {
    pub fn new(settings: &AuthSettings) -> Self {
        let secret = settings.jwt_secret.expose().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        if !settings.issuer.is_empty() {
            validation.set_issuer(&[settings.issuer.as_str()]);
        }
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: settings.issuer.clone(),
            verified: Arc::default(),
        }
    }

    /// Mints a token for `tenant` with `rights`, valid for `ttl`.
    pub fn mint(&self, grant: &Grant<'_>) -> anyhow::Result<String> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims {
            sub: grant.subject.to_string(),
            tenant: grant.tenant.to_string(),
            rights: grant.rights.iter().map(|r| r.to_string()).collect(),
            stores: grant.stores.iter().map(|s| s.to_string()).collect(),
            name: grant.name.to_string(),
            kind: grant.kind.to_string(),
            iss: self.issuer.clone(),
            iat: now,
            exp: now + grant.ttl.as_secs() as i64,
        };
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?)
    }

    pub fn verify(&self, token: &str) -> Result<Principal, Status> {
        self.verify_at(token, time::OffsetDateTime::now_utc().unix_timestamp())
    }

    /// [`Self::verify`] at `now` (Unix seconds), which decides whether an earlier verification of
    /// the same token still holds; a full verification checks the expiry against the clock.
    fn verify_at(&self, token: &str, now: i64) -> Result<Principal, Status> {
        use jsonwebtoken::errors::ErrorKind;
        if let Some(known) = self.verified.get(token, now) {
            return Ok(known);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| {
            Status::unauthenticated(match e.kind() {
                ErrorKind::ExpiredSignature => "token expired",
                ErrorKind::InvalidSignature => "token signature is not valid",
                ErrorKind::InvalidIssuer => "token issuer is not accepted",
                _ => "token is malformed",
            })
        })?;
        if data.claims.tenant.is_empty() {
            return Err(Status::unauthenticated("token names no tenant"));
        }
        let exp = data.claims.exp;
        let principal = Principal::from_claims(data.claims);
        self.verified.remember(token, &principal, exp);
        Ok(principal)
    }
}

/// What a minted token grants.
#[derive(Clone, Debug)]
pub struct Grant<'a> {
    pub subject: &'a str,
    pub tenant: &'a str,
    pub rights: &'a [&'a str],
    pub stores: &'a [&'a str],
    pub name: &'a str,
    pub kind: &'a str,
    pub ttl: std::time::Duration,
}

impl<'a> Grant<'a> {
    pub fn new(tenant: &'a str, rights: &'a [&'a str]) -> Self {
        Self {
            subject: "dev",
            tenant,
            rights,
            stores: &[],
            name: "",
            kind: "user",
            ttl: std::time::Duration::from_secs(3600),
        }
    }
}

/// Which right each RPC needs, by full method path (`/loyalty.client.v1.ClientService/GetClient`).
#[derive(Clone, Debug, Default)]
pub struct RightsTable(HashMap<String, &'static str>);

impl RightsTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the methods of one gRPC service (`loyalty.client.v1.ClientService`).
    pub fn service(mut self, service: &str, methods: &[(&str, &'static str)]) -> Self {
        for (method, right) in methods {
            self.0.insert(format!("/{service}/{method}"), right);
        }
        self
    }

    pub fn merge(mut self, other: RightsTable) -> Self {
        self.0.extend(other.0);
        self
    }

    pub fn right_for(&self, path: &str) -> Option<&'static str> {
        self.0.get(path).copied()
    }
}

/// Paths served without a token: health checks and reflection (probes and tools).
fn is_public(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.") || path.starts_with("/grpc.reflection.")
}

/// Verifies the bearer token of every call and checks the right its method needs.
#[derive(Clone)]
pub struct AuthLayer {
    keys: Arc<TokenKeys>,
    rights: Arc<RightsTable>,
}

impl AuthLayer {
    pub fn new(keys: TokenKeys, rights: RightsTable) -> Self {
        Self { keys: Arc::new(keys), rights: Arc::new(rights) }
    }

    fn authorize(&self, req: &http::Request<Body>) -> Result<Option<Principal>, Status> {
        let path = req.uri().path();
        if is_public(path) {
            return Ok(None);
        }
        let header = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .ok_or_else(|| Status::unauthenticated("missing bearer token"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .ok_or_else(|| Status::unauthenticated("authorization is not a bearer token"))?;
        let principal = self.keys.verify(token.trim())?;
        let right = self
            .rights
            .right_for(path)
            .ok_or_else(|| Status::permission_denied(format!("no right is defined for {path}")))?;
        principal.require(right)?;
        Ok(Some(principal))
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService { inner, layer: self.clone() }
    }
}

#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    layer: AuthLayer,
}

impl<S> tower::Service<http::Request<Body>> for AuthService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        match self.layer.authorize(&req) {
            Ok(principal) => {
                if let Some(p) = principal {
                    tracing::Span::current().record("tenant", p.tenant.as_str());
                    req.extensions_mut().insert(p);
                }
                // The ready service goes into the future; a fresh clone stays for the next call.
                let clone = self.inner.clone();
                let mut ready = std::mem::replace(&mut self.inner, clone);
                Box::pin(async move { ready.call(req).await })
            }
            Err(status) => Box::pin(async move { Ok(status.into_http()) }),
        }
    }
}

/// The caller's bearer token, carried to the other services a handler calls (service-to-service
/// calls forward the caller's token, so tenant, rights and store scope apply there too).
#[derive(Clone, Debug, Default)]
pub struct ForwardToken(Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>);

impl ForwardToken {
    pub fn of<T>(request: &tonic::Request<T>) -> Self {
        Self(request.metadata().get("authorization").cloned())
    }

    /// A request to another service carrying the token.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(token) = &self.0 {
            request.metadata_mut().insert("authorization", token.clone());
        }
        request
    }
}

/// Client side: adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct BearerToken(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl BearerToken {
    pub fn new(token: &str) -> anyhow::Result<Self> {
        Ok(Self(format!("Bearer {token}").parse()?))
    }
}

impl tonic::service::Interceptor for BearerToken {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    fn keys(secret: &str) -> TokenKeys {
        TokenKeys::new(&AuthSettings { jwt_secret: Secret::new(secret.into()), issuer: String::new() })
    }

    #[test]
    fn minted_tokens_verify_with_the_same_key_only() {
        let rights = ["clients.read"];
        let token = keys("a").mint(&Grant::new("acme", &rights)).expect("mint");
        let p = keys("a").verify(&token).expect("valid");
        assert_eq!(p.tenant, "acme");
        assert!(p.has_right("clients.read") && !p.has_right("clients.write"));
        let err = keys("b").verify(&token).expect_err("wrong key");
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
    }

    #[test]
    fn a_verified_token_is_known_until_it_expires_and_only_by_its_exact_text() {
        let keys = keys("a");
        let rights = ["clients.read"];
        let token = keys.mint(&Grant::new("acme", &rights)).expect("mint");
        let exp = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
        let first = keys.verify(&token).expect("valid");
        assert_eq!(keys.verified.known(), 1);
        assert_eq!(keys.verified.get(&token, exp - 60), Some(first.clone()), "known before its expiry");
        assert_eq!(keys.verify(&token).expect("again"), first);
        assert_eq!(keys.verified.get(&token, exp + 1), None, "not after it");
        assert_eq!(keys.verified.known(), 0, "and forgotten");
        // One byte changed in the signature: not the cached token, and not valid.
        let mut tampered = token.clone();
        let at = tampered.len() - 10;
        let swapped = if &tampered[at..=at] == "A" { "B" } else { "A" };
        tampered.replace_range(at..=at, swapped);
        keys.verify(&token).expect("cached again");
        let err = keys.verify(&tampered).expect_err("tampered signature");
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
        let other_key = self::keys("b");
        assert!(other_key.verify(&token).is_err(), "another key's cache knows nothing of it");
        // A token at its expiry is never answered from the cache: each call checks it in full
        // (where the leeway applies, and then the refusal).
        let mut at_expiry = Grant::new("acme", &rights);
        at_expiry.ttl = std::time::Duration::ZERO;
        let ending = keys.mint(&at_expiry).expect("mint");
        keys.verify(&ending).expect("within the leeway");
        assert_eq!(keys.verified.get(&ending, time::OffsetDateTime::now_utc().unix_timestamp()), None);
    }

    #[test]
    fn star_grants_every_right_and_store_scope_is_optional() {
        let rights = [ALL_RIGHTS];
        let stores = ["VLN-01"];
        let mut grant = Grant::new("acme", &rights);
        grant.stores = &stores;
        let p = keys("k").verify(&keys("k").mint(&grant).expect("mint")).expect("valid");
        assert!(p.has_right("ledger.manual"));
        assert_eq!(p.store_scope(), Some(&["VLN-01".to_string()][..]));
    }
}
