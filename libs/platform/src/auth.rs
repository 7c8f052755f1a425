//! Bearer tokens carrying tenant, rights and an optional store scope, and the tower layer that
//! turns them into a [`Principal`] in the request extensions. Keys and verification: [`crate::keys`].
//!
//! Missing, expired or badly signed tokens are UNAUTHENTICATED; a valid token without the right an
//! RPC needs is PERMISSION_DENIED. Every method of a service must be listed in its [`RightsTable`]:
//! a method that is not listed is refused, so a forgotten entry fails closed.
//!
//! Service identities: a token of kind `service` may name the tenant `*` (it acts for every
//! tenant, as the feed consumers and the client service's block call do); each call then names its
//! tenant in the `x-loyalty-tenant` header. No other token may.
use crate::keys::Verifier;
use futures::future::BoxFuture;
use loyalty_api::common::v1::{Actor, Channel, actor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::Status;
use tonic::body::Body;

/// Grants every right within the token's tenant (dev admin tokens, tenant administrators); never
/// a right of [`CROSS_TENANT_RIGHTS`] or [`SERVICE_RIGHTS`].
pub const ALL_RIGHTS: &str = "*";

/// Rights that cross the tenant boundary: granted only when the token names them.
pub const CROSS_TENANT_RIGHTS: &[&str] = &[crate::outbox::READ_ALL_TENANTS, OPERATE_FEEDS, OPERATE_READ_MODELS];

/// Rights only a service identity holds (honoured for tokens of kind `service` that name them):
/// no person's token can lift a ledger block, whatever rights it carries.
pub const SERVICE_RIGHTS: &[&str] = &[SET_LEDGER_BLOCK];

/// The client service's right to pass its block decisions to the ledger (CL-4).
pub const SET_LEDGER_BLOCK: &str = "ledger.block";
/// Operators' right to list and retry parked feed events of every tenant.
pub const OPERATE_FEEDS: &str = "ops.feeds";
/// Right to rebuild a read model (the segment service's) for every tenant.
pub const OPERATE_READ_MODELS: &str = "ops.read_models";

/// The header a service identity names its tenant in.
pub const TENANT_HEADER: &str = "x-loyalty-tenant";
/// The tenant claim of a service identity that acts for every tenant.
pub const EVERY_TENANT: &str = "*";

/// The claims of a loyalty token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// User, integration or service id.
    pub sub: String,
    /// Tenant id (one retail chain); `*` for a service identity acting for every tenant.
    pub tenant: String,
    /// Rights such as "clients.read", "ledger.manual"; "*" grants all within the tenant.
    #[serde(default)]
    pub rights: Vec<String>,
    /// Store scope: when non-empty, the holder sees only these stores' data (CL-11).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stores: Vec<String>,
    /// Display name for history and audit.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// "user" (default), "integration", "service" or "system".
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub exp: i64,
}

/// Who is calling: put into the request extensions by [`AuthLayer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    /// The tenant the call acts for; empty for a service identity that named none.
    pub tenant: String,
    pub name: String,
    pub kind: actor::Kind,
    rights: Vec<String>,
    stores: Vec<String>,
    /// A service identity whose token names every tenant.
    every_tenant: bool,
}

/// The longest tenant id a token may name.
const MAX_TENANT: usize = 64;

fn is_tenant_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_TENANT
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Principal {
    pub(crate) fn from_claims(c: Claims) -> Result<Self, Status> {
        let kind = match c.kind.as_str() {
            "integration" => actor::Kind::Integration,
            "system" => actor::Kind::System,
            "service" => actor::Kind::Service,
            "user" | "" => actor::Kind::User,
            _ => return Err(Status::unauthenticated("token kind must be user, integration, service or system")),
        };
        let every_tenant = c.tenant == EVERY_TENANT;
        if every_tenant && kind != actor::Kind::Service {
            return Err(Status::unauthenticated("only a service identity may act for every tenant"));
        }
        if !every_tenant && !is_tenant_id(&c.tenant) {
            return Err(Status::unauthenticated("token names no valid tenant"));
        }
        let tenant = if every_tenant { String::new() } else { c.tenant };
        Ok(Self { subject: c.sub, tenant, name: c.name, kind, rights: c.rights, stores: c.stores, every_tenant })
    }

    /// A principal built in this process (tests of handlers, the suite's own sweeps).
    pub fn internal(tenant: &str, subject: &str, rights: &[&str], stores: &[&str]) -> Self {
        Self {
            subject: subject.into(),
            tenant: tenant.into(),
            name: String::new(),
            kind: actor::Kind::System,
            rights: rights.iter().map(|r| r.to_string()).collect(),
            stores: stores.iter().map(|s| s.to_string()).collect(),
            every_tenant: false,
        }
    }

    pub fn has_right(&self, right: &str) -> bool {
        if SERVICE_RIGHTS.contains(&right) {
            return self.kind == actor::Kind::Service && self.has_explicit_right(right);
        }
        if CROSS_TENANT_RIGHTS.contains(&right) {
            return self.has_explicit_right(right);
        }
        self.rights.iter().any(|r| r == right || r == ALL_RIGHTS)
    }

    /// Named in the token itself: `*` does not grant it.
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

    /// Whether the principal may act in `store` (always, without a store scope).
    pub fn may_act_in(&self, store: &str) -> bool {
        self.store_scope().is_none_or(|stores| stores.iter().any(|s| s == store))
    }

    /// A service identity acting for every tenant.
    pub fn acts_for_every_tenant(&self) -> bool {
        self.every_tenant
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

    /// The identity of one service of the suite (`"ledger-service"`) with the rights it needs,
    /// acting for every tenant.
    pub fn service(subject: &'a str, rights: &'a [&'a str]) -> Self {
        Self {
            subject,
            kind: "service",
            name: subject,
            ttl: std::time::Duration::from_secs(90 * 86_400),
            ..Self::new(EVERY_TENANT, rights)
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
    keys: Verifier,
    rights: Arc<RightsTable>,
}

impl AuthLayer {
    pub fn new(keys: Verifier, rights: RightsTable) -> Self {
        Self { keys, rights: Arc::new(rights) }
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
        let mut principal = self.keys.verify(token.trim())?;
        if principal.every_tenant
            && let Some(named) = req.headers().get(TENANT_HEADER)
        {
            let named = named.to_str().ok().filter(|t| is_tenant_id(t)).ok_or_else(|| {
                Status::invalid_argument(format!("{TENANT_HEADER}: is not a tenant id (letters, digits, -, _, .)"))
            })?;
            principal.tenant = named.to_string();
        }
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

/// The caller's bearer token, carried to the other services a handler asks on the caller's behalf
/// (the POS card lookup), so tenant, rights and store scope apply there too; and the trace context,
/// so one purchase is one trace. A service identity's tenant header travels with its token.
#[derive(Clone, Debug, Default)]
pub struct ForwardToken {
    token: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
    tenant: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
}

impl ForwardToken {
    pub fn of<T>(request: &tonic::Request<T>) -> Self {
        let metadata = request.metadata();
        Self { token: metadata.get("authorization").cloned(), tenant: metadata.get(TENANT_HEADER).cloned() }
    }

    /// A request to another service carrying the token and the current trace context.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(token) = &self.token {
            request.metadata_mut().insert("authorization", token.clone());
        }
        if let Some(tenant) = &self.tenant {
            request.metadata_mut().insert(TENANT_HEADER, tenant.clone());
        }
        crate::trace::inject(request.metadata_mut());
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
