//! The auth layer: who gets in, who is refused, and that a refused call reaches no handler.
use jsonwebtoken::{EncodingKey, Header};
use loyalty_platform::Principal;
use loyalty_platform::Secret;
use loyalty_platform::auth::{AuthLayer, Claims, Grant, RightsTable, TokenKeys};
use loyalty_platform::config::AuthSettings;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tonic::Code;
use tonic::body::Body;
use tower::{Layer, Service, ServiceExt};

const SECRET: &str = "test-secret";
const GET: &str = "/loyalty.client.v1.ClientService/GetClient";
const DELETE: &str = "/loyalty.client.v1.ClientService/DeleteClient";

fn keys(secret: &str) -> TokenKeys {
    TokenKeys::new(&AuthSettings { jwt_secret: Secret::new(secret.into()), issuer: String::new() })
}

fn rights() -> RightsTable {
    RightsTable::new()
        .service("loyalty.client.v1.ClientService", &[("GetClient", "clients.read"), ("DeleteClient", "clients.write")])
}

/// A handler that answers with the tenant it was shown and counts its calls.
fn stack(
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
    AuthLayer::new(keys(SECRET), rights()).layer(handler)
}

fn request(path: &str, token: Option<&str>) -> http::Request<Body> {
    let mut builder = http::Request::builder().uri(format!("http://localhost{path}"));
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder.body(Body::empty()).expect("request")
}

async fn call(path: &str, token: Option<&str>) -> (Result<String, tonic::Status>, usize) {
    let calls = Arc::new(AtomicUsize::new(0));
    let resp = stack(calls.clone()).oneshot(request(path, token)).await.expect("infallible");
    let outcome = match tonic::Status::from_header_map(resp.headers()) {
        Some(status) if status.code() != Code::Ok => Err(status),
        _ => Ok(resp.headers().get("x-tenant").map(|v| v.to_str().expect("ascii").to_string()).unwrap_or_default()),
    };
    (outcome, calls.load(Ordering::SeqCst))
}

fn token(rights: &[&str]) -> String {
    keys(SECRET).mint(&Grant::new("acme", rights)).expect("mint")
}

#[tokio::test]
async fn a_valid_token_with_the_right_reaches_the_handler_with_its_tenant() {
    let (outcome, calls) = call(GET, Some(&token(&["clients.read"]))).await;
    assert_eq!(outcome.expect("allowed"), "acme");
    assert_eq!(calls, 1);
}

#[tokio::test]
async fn no_token_is_unauthenticated_and_reaches_nothing() {
    let (outcome, calls) = call(GET, None).await;
    assert_eq!(outcome.expect_err("refused").code(), Code::Unauthenticated);
    assert_eq!(calls, 0);
}

#[tokio::test]
async fn an_expired_token_is_unauthenticated() {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = Claims {
        sub: "u1".into(),
        tenant: "acme".into(),
        rights: vec!["clients.read".into()],
        stores: vec![],
        name: String::new(),
        kind: String::new(),
        iss: String::new(),
        iat: now - 7200,
        exp: now - 3600,
    };
    let expired = jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(SECRET.as_bytes()))
        .expect("encode");
    let (outcome, calls) = call(GET, Some(&expired)).await;
    let status = outcome.expect_err("refused");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("expired"), "{}", status.message());
    assert_eq!(calls, 0);
}

#[tokio::test]
async fn a_token_signed_with_another_key_is_unauthenticated() {
    let forged = keys("someone-else").mint(&Grant::new("acme", &["*"])).expect("mint");
    let (outcome, calls) = call(GET, Some(&forged)).await;
    assert_eq!(outcome.expect_err("refused").code(), Code::Unauthenticated);
    assert_eq!(calls, 0);
    let (garbage, _) = call(GET, Some("not.a.jwt")).await;
    assert_eq!(garbage.expect_err("refused").code(), Code::Unauthenticated);
}

#[tokio::test]
async fn a_missing_right_is_permission_denied_and_changes_nothing() {
    let (outcome, calls) = call(DELETE, Some(&token(&["clients.read"]))).await;
    let status = outcome.expect_err("refused");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(status.message().contains("clients.write"), "{}", status.message());
    assert_eq!(calls, 0, "the handler never ran");
}

#[tokio::test]
async fn a_method_missing_from_the_rights_table_is_refused_even_to_admins() {
    let (outcome, calls) = call("/loyalty.client.v1.ClientService/EraseClient", Some(&token(&["*"]))).await;
    assert_eq!(outcome.expect_err("refused").code(), Code::PermissionDenied);
    assert_eq!(calls, 0);
}

#[tokio::test]
async fn health_and_reflection_need_no_token() {
    let (health, _) = call("/grpc.health.v1.Health/Check", None).await;
    assert!(health.is_ok());
    let (reflection, _) = call("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", None).await;
    assert!(reflection.is_ok());
}

#[tokio::test]
async fn the_layer_keeps_working_across_calls() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut svc = stack(calls.clone());
    for _ in 0..3 {
        let ready = svc.ready().await.expect("ready");
        ready.call(request(GET, Some(&token(&["clients.read"])))).await.expect("infallible");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}
