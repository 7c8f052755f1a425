//! Per-RPC telemetry: a span named after the method (continuing the caller's W3C trace), and the
//! RED metrics `grpc_server_requests_total`, `grpc_server_errors_total` and
//! `grpc_server_request_duration_seconds`, exported on the Prometheus `/metrics` endpoint.
use futures::future::BoxFuture;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Instant;
use tonic::body::Body;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

const DURATION_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Starts the `/metrics` HTTP endpoint once per process (several services in one process share it).
pub fn install_exporter(listen: &str) -> anyhow::Result<()> {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    if listen.is_empty() || INSTALLED.get().is_some() {
        return Ok(());
    }
    let addr: SocketAddr = listen.parse().map_err(|e| anyhow::anyhow!("server.metrics_listen: {e}"))?;
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), DURATION_BUCKETS)?
        .install()?;
    let _ = INSTALLED.set(());
    Ok(())
}

/// Adds a span and RED metrics to every RPC.
#[derive(Clone, Copy, Debug, Default)]
pub struct ObserveLayer;

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = ObserveService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ObserveService { inner }
    }
}

#[derive(Clone)]
pub struct ObserveService<S> {
    inner: S,
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

impl<S> tower::Service<http::Request<Body>> for ObserveService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let method = req.uri().path().to_string();
        let span = tracing::info_span!("rpc", rpc.method = %method, otel.kind = "server", tenant = tracing::field::Empty, grpc.code = tracing::field::Empty);
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(req.headers()));
        let _ = span.set_parent(parent);
        let started = Instant::now();
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let future = {
            let _entered = span.enter();
            ready.call(req)
        };
        Box::pin(
            async move {
                let result = future.await;
                let code = match &result {
                    // Errors travel as trailers-only responses, with grpc-status in the headers;
                    // a response without it has started streaming successfully.
                    Ok(resp) => resp
                        .headers()
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<i32>().ok())
                        .unwrap_or(0),
                    Err(_) => tonic::Code::Unknown as i32,
                };
                record(&method, code, started.elapsed().as_secs_f64());
                result
            }
            .instrument(span),
        )
    }
}

fn record(method: &str, code: i32, seconds: f64) {
    let code_name = format!("{:?}", tonic::Code::from(code));
    tracing::Span::current().record("grpc.code", code_name.as_str());
    metrics::counter!("grpc_server_requests_total", "method" => method.to_string(), "code" => code_name).increment(1);
    if is_server_fault(code) {
        metrics::counter!("grpc_server_errors_total", "method" => method.to_string()).increment(1);
    }
    metrics::histogram!("grpc_server_request_duration_seconds", "method" => method.to_string()).record(seconds);
}

/// Errors that are the server's fault (what an error-rate alert should count).
fn is_server_fault(code: i32) -> bool {
    use tonic::Code;
    matches!(
        Code::from(code),
        Code::Unknown | Code::Internal | Code::Unavailable | Code::DeadlineExceeded | Code::DataLoss
    )
}
