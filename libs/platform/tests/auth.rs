//! The auth layer with the keys a security team accepts: EdDSA tokens checked against a JWKS (key
//! rotation by `kid`), issuer and audience required, `nbf` honoured, the development key trusted
//! only in development mode, service identities that act for every tenant by naming one.
use jsonwebtoken::{EncodingKey, Header};
use loyalty_platform::Principal;
use loyalty_platform::auth::{AuthLayer, Claims, Grant, RightsTable, SET_LEDGER_BLOCK, TENANT_HEADER};
use loyalty_platform::config::AuthSettings;
use loyalty_platform::keys::{TokenSigner, Verifier, development_jwks};
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tonic::Code;
use tonic::body::Body;
use tower::{Layer, Service, ServiceExt};

const ISSUER: &str = "https://id.chain.test";
const GET: &str = "/loyalty.client.v1.ClientService/GetClient";
const DELETE: &str = "/loyalty.client.v1.ClientService/DeleteClient";
const BLOCK: &str = "/loyalty.ledger.v1.LedgerService/SetAccountBlocked";

fn rights() -> RightsTable {
    RightsTable::new()
        .service("loyalty.client.v1.ClientService", &[("GetClient", "clients.read"), ("DeleteClient", "clients.write")])
        .service("loyalty.ledger.v1.LedgerService", &[("SetAccountBlocked", SET_LEDGER_BLOCK)])
}

/// The identity provider of a test: one key, and a verifier that trusts it.
fn provider(kid: &str) -> (TokenSigner, Verifier) {
    let (signer, jwks) = TokenSigner::generate(kid, ISSUER).expect("key");
    let verifier = Verifier::from_jwks(&jwks, ISSUER, "loyalty", false).expect("verifier");
    (signer, verifier)
}

/// A handler that answers with the tenant it was shown and counts its calls.
fn stack(
    verifier: Verifier,
    calls: Arc<AtomicUsize>,
) -> impl Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible> {
    let handler = tower::service_fn(move |req: http::Request<Body>| {
        let calls = calls.clone();
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            let tenant = req.extensions().get::<Principal>().map(|p| p.tenant.clone()).unwrap_or_default();
            let mut resp = http::Response::new(Body::empty());
            resp.headers_mut().insert("x-tenant", tenant.parse().expect("header"));
            Ok::<_, Infallible>(resp)
        }
    });
    AuthLayer::new(verifier, rights()).layer(handler)
}

fn request(path: &str, token: Option<&str>, tenant: Option<&str>) -> http::Request<Body> {
    let mut builder = http::Request::builder().uri(format!("http://localhost{path}"));
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    if let Some(tenant) = tenant {
        builder = builder.header(TENANT_HEADER, tenant);
    }
    builder.body(Body::empty()).expect("request")
}

async fn call_with(verifier: &Verifier, req: http::Request<Body>) -> (Result<String, tonic::Status>, usize) {
    let calls = Arc::new(AtomicUsize::new(0));
    let resp = stack(verifier.clone(), calls.clone()).oneshot(req).await.expect("infallible");
    let outcome = match tonic::Status::from_header_map(resp.headers()) {
        Some(status) if status.code() != Code::Ok => Err(status),
        _ => Ok(resp.headers().get("x-tenant").map(|v| v.to_str().expect("ascii").to_string()).unwrap_or_default()),
    };
    (outcome, calls.load(Ordering::SeqCst))
}

async fn call(verifier: &Verifier, path: &str, token: Option<&str>) -> (Result<String, tonic::Status>, usize) {
    call_with(verifier, request(path, token, None)).await
}

fn claims(tenant: &str, rights: &[&str]) -> Claims {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Claims {
        sub: "u1".into(),
        tenant: tenant.into(),
        rights: rights.iter().map(|r| r.to_string()).collect(),
        stores: vec![],
        name: String::new(),
        kind: String::new(),
        iss: ISSUER.into(),
        aud: "loyalty".into(),
        iat: now,
        nbf: None,
        exp: now + 600,
    }
}

/// Signs `claims` with `signer`'s key as the identity provider would, claims as given.
fn sign(signer_der: &[u8], kid: &str, claims: &Claims) -> String {
    let mut header = Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(signer_der)).expect("sign")
}

fn der(signer: &TokenSigner) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(signer.private_key_base64().expose()).expect("base64")
}

#[tokio::test]
async fn a_valid_token_with_the_right_reaches_the_handler_with_its_tenant() {
    let (signer, verifier) = provider("k1");
    let token = signer.mint(&Grant::new("acme", &["clients.read"])).expect("mint");
    let (outcome, calls) = call(&verifier, GET, Some(&token)).await;
    assert_eq!(outcome.expect("allowed"), "acme");
    assert_eq!(calls, 1);
    let (none, calls) = call(&verifier, GET, None).await;
    assert_eq!(none.expect_err("refused").code(), Code::Unauthenticated);
    assert_eq!(calls, 0);
}

#[tokio::test]
async fn expired_not_yet_valid_and_foreign_tokens_are_unauthenticated() {
    let (signer, verifier) = provider("k1");
    let key = der(&signer);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let cases = [
        ("expired", Claims { iat: now - 7200, exp: now - 3600, ..claims("acme", &["clients.read"]) }),
        ("not valid yet", Claims { nbf: Some(now + 3600), ..claims("acme", &["clients.read"]) }),
        ("issuer", Claims { iss: "https://evil.test".into(), ..claims("acme", &["clients.read"]) }),
        ("audience", Claims { aud: "another-product".into(), ..claims("acme", &["clients.read"]) }),
    ];
    for (what, c) in cases {
        let (outcome, calls) = call(&verifier, GET, Some(&sign(&key, "k1", &c))).await;
        let status = outcome.expect_err(what);
        assert_eq!(status.code(), Code::Unauthenticated, "{what}");
        assert!(status.message().contains(what), "{what}: {}", status.message());
        assert_eq!(calls, 0);
    }
}

#[tokio::test]
async fn only_the_keys_of_the_jwks_are_trusted_and_rotation_keeps_both_until_the_old_one_goes() {
    let (old, old_keys) = TokenSigner::generate("old", ISSUER).expect("key");
    let (new, new_keys) = TokenSigner::generate("new", ISSUER).expect("key");
    let (stranger, _) = TokenSigner::generate("old", ISSUER).expect("key"); // the same kid, another key
    let mut both = old_keys.clone();
    both.keys.extend(new_keys.keys.clone());
    let during = Verifier::from_jwks(&both, ISSUER, "loyalty", false).expect("verifier");
    let grant = Grant::new("acme", &["clients.read"]);
    for signer in [&old, &new] {
        let (outcome, _) = call(&during, GET, Some(&signer.mint(&grant).expect("mint"))).await;
        assert!(outcome.is_ok(), "both keys verify during the rotation");
    }
    let (forged, _) = call(&during, GET, Some(&stranger.mint(&grant).expect("mint"))).await;
    assert_eq!(forged.expect_err("forged").code(), Code::Unauthenticated);
    let after = Verifier::from_jwks(&new_keys, ISSUER, "loyalty", false).expect("verifier");
    let (retired, _) = call(&after, GET, Some(&old.mint(&grant).expect("mint"))).await;
    let status = retired.expect_err("the old key is gone");
    assert!(status.message().contains("does not trust"), "{}", status.message());
    // A shared-secret token (HS256) is no key of the set.
    let hs = jsonwebtoken::encode(&Header::default(), &claims("acme", &["*"]), &EncodingKey::from_secret(b"secret"))
        .expect("hs256");
    let (hs, _) = call(&after, GET, Some(&hs)).await;
    assert_eq!(hs.expect_err("hs256").code(), Code::Unauthenticated);
}

#[test]
fn the_development_key_is_trusted_only_in_development_mode() {
    let err = Verifier::from_jwks(&development_jwks(), "loyalty-dev", "loyalty", false).err().expect("refused");
    assert!(err.to_string().contains("development key"), "{err}");
    assert!(Verifier::from_jwks(&development_jwks(), "loyalty-dev", "loyalty", true).is_ok());
    let production = AuthSettings { issuer: ISSUER.into(), ..AuthSettings::default() };
    let err = Verifier::new(&production).err().expect("no keys").to_string();
    assert!(err.contains("auth.jwks_file"), "{err}");
    let missing_issuer = AuthSettings { jwks_file: "/nonexistent".into(), ..AuthSettings::default() };
    assert!(Verifier::new(&missing_issuer).is_err());
}

#[tokio::test]
async fn a_service_identity_names_its_tenant_and_only_it_may_lift_a_ledger_block() {
    let (signer, verifier) = provider("k1");
    let service = signer.mint(&Grant::service("client-service", &[SET_LEDGER_BLOCK])).expect("mint");
    let (outcome, _) = call_with(&verifier, request(BLOCK, Some(&service), Some("acme"))).await;
    assert_eq!(outcome.expect("the client service may"), "acme");
    // A tenant administrator holds every right of the tenant, but not this one.
    let admin = signer.mint(&Grant::new("acme", &["*", SET_LEDGER_BLOCK])).expect("mint");
    let (outcome, calls) = call(&verifier, BLOCK, Some(&admin)).await;
    assert_eq!(outcome.expect_err("a person's token").code(), Code::PermissionDenied);
    assert_eq!(calls, 0);
    // Only a service may name every tenant.
    let mut everyone = Grant::new("*", &["clients.read"]);
    everyone.kind = "user";
    let (outcome, _) = call(&verifier, GET, Some(&signer.mint(&everyone).expect("mint"))).await;
    assert_eq!(outcome.expect_err("a user for every tenant").code(), Code::Unauthenticated);
    let (outcome, _) = call_with(&verifier, request(BLOCK, Some(&service), Some("bad tenant!"))).await;
    assert_eq!(outcome.expect_err("a bad tenant header").code(), Code::InvalidArgument);
}

#[tokio::test]
async fn a_missing_right_is_permission_denied_and_unlisted_methods_are_refused_even_to_admins() {
    let (signer, verifier) = provider("k1");
    let reader = signer.mint(&Grant::new("acme", &["clients.read"])).expect("mint");
    let (outcome, calls) = call(&verifier, DELETE, Some(&reader)).await;
    let status = outcome.expect_err("refused");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(status.message().contains("clients.write"), "{}", status.message());
    assert_eq!(calls, 0, "the handler never ran");
    let admin = signer.mint(&Grant::new("acme", &["*"])).expect("mint");
    let (outcome, calls) = call(&verifier, "/loyalty.client.v1.ClientService/EraseClient", Some(&admin)).await;
    assert_eq!(outcome.expect_err("refused").code(), Code::PermissionDenied);
    assert_eq!(calls, 0);
}

#[tokio::test]
async fn health_and_reflection_need_no_token_and_the_layer_keeps_working_across_calls() {
    let (signer, verifier) = provider("k1");
    assert!(call(&verifier, "/grpc.health.v1.Health/Check", None).await.0.is_ok());
    assert!(call(&verifier, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", None).await.0.is_ok());
    let calls = Arc::new(AtomicUsize::new(0));
    let mut svc = stack(verifier, calls.clone());
    let token = signer.mint(&Grant::new("acme", &["clients.read"])).expect("mint");
    for _ in 0..3 {
        let ready = svc.ready().await.expect("ready");
        ready.call(request(GET, Some(&token), None)).await.expect("infallible");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}
