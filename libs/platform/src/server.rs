//! The server bootstrap every service uses: health, reflection, per-RPC telemetry, a global
//! concurrency limit, request timeouts, auth, and a graceful drain on SIGTERM.
//!
//! [`start`] binds (port 0 works) and returns the bound address at once, so tests and
//! `loyalty dev up` start servers in-process and read the port back.
use crate::auth::{AuthLayer, RightsTable};
use crate::config::{AuthSettings, ServerSettings};
use crate::feed_ops::{FeedOperationsApi, ParkedFeed};
use crate::input::InputLayer;
use crate::keys::Verifier;
use crate::metrics::ObserveLayer;
use anyhow::Context;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic_health::ServingStatus;
use tower::limit::GlobalConcurrencyLimitLayer;

/// The gRPC services one server hosts (one in a pod, all six under `loyalty dev up`), with the right
/// each method needs.
#[derive(Default)]
pub struct Services {
    routes: tonic::service::RoutesBuilder,
    rights: RightsTable,
    names: Vec<&'static str>,
    draining: CancellationToken,
    parked: Vec<Arc<dyn ParkedFeed>>,
}

impl Services {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tonic service; `rights` lists every method of it with the right it needs.
    pub fn add<S>(&mut self, service: S, rights: &[(&str, &'static str)]) -> &mut Self
    where
        S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.routes.add_service(service);
        self.rights = std::mem::take(&mut self.rights).service(S::NAME, rights);
        self.names.push(S::NAME);
        self
    }

    /// Lists a feed consumer's parked events in this server's `FeedOperations`.
    pub fn add_parked(&mut self, feed: Arc<dyn ParkedFeed>) {
        self.parked.push(feed);
    }

    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    /// Cancelled when the server starts to drain. Calls that never end on their own (live
    /// `WatchEvents` streams) end on it, so a stopping replica does not wait out the drain timeout
    /// and its followers reconnect (to another replica) at once.
    pub fn draining(&self) -> CancellationToken {
        self.draining.clone()
    }
}

/// A server that is accepting calls.
pub struct RunningServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
    drain: std::time::Duration,
    draining: CancellationToken,
}

impl RunningServer {
    /// Reports NOT_SERVING, stops accepting, lets in-flight calls finish (up to the drain timeout).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.draining.cancel();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match tokio::time::timeout(self.drain, &mut self.task).await {
            Ok(joined) => joined.context("server task")?.context("server"),
            Err(_) => {
                tracing::warn!("drain timeout reached; abandoning in-flight calls");
                self.task.abort();
                Ok(())
            }
        }
    }

    /// Serves until SIGTERM or Ctrl-C, then drains.
    pub async fn serve_until_signal(self) -> anyhow::Result<()> {
        shutdown_signal().await;
        tracing::info!("shutdown signal received; draining");
        self.stop().await
    }
}

/// A bound, not yet serving, listener: its address is known before the services are built, so
/// services in one process can call each other (`peers` default to this address).
pub struct Bound {
    pub addr: SocketAddr,
    listener: tokio::net::TcpListener,
}

/// Binds `settings.listen` (port 0 picks a free port).
pub async fn bind(settings: &ServerSettings) -> anyhow::Result<Bound> {
    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .with_context(|| format!("server.listen: cannot bind {}", settings.listen))?;
    Ok(Bound { addr: listener.local_addr()?, listener })
}

/// Binds `settings.listen` and starts serving `services`.
pub async fn start(
    settings: &ServerSettings,
    auth: &AuthSettings,
    services: Services,
) -> anyhow::Result<RunningServer> {
    serve(bind(settings).await?, settings, auth, services).await
}

/// Starts serving `services` on a bound listener.
pub async fn serve(
    bound: Bound,
    settings: &ServerSettings,
    auth: &AuthSettings,
    services: Services,
) -> anyhow::Result<RunningServer> {
    let verifier = Verifier::new(auth)?;
    if auth.development {
        tracing::warn!("auth.development is on: the development key is trusted; never in production");
    }
    crate::metrics::install_exporter(&settings.metrics_listen)?;
    let Bound { addr, listener } = bound;
    let mut services = services;
    if !services.parked.is_empty() {
        let feeds = std::mem::take(&mut services.parked);
        let api =
            loyalty_api::events::v1::feed_operations_server::FeedOperationsServer::new(FeedOperationsApi::new(feeds));
        services.add(api, crate::feed_ops::RIGHTS);
    }

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    for name in services.names() {
        health_reporter.set_service_status(*name, ServingStatus::Serving).await;
    }
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(loyalty_api::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    // grpcurl 1.8 and many tools still speak v1alpha.
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(loyalty_api::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    let layers = tower::ServiceBuilder::new()
        .layer(ObserveLayer)
        .layer(GlobalConcurrencyLimitLayer::new(settings.max_concurrent_requests.max(1)))
        .layer(AuthLayer::new(verifier, services.rights))
        .layer(InputLayer::new()?);
    let names: Vec<&'static str> = services.names.clone();
    let draining = services.draining.clone();
    let mut builder = tonic::transport::Server::builder();
    let tls = !settings.tls_cert_file.is_empty() || !settings.tls_key_file.is_empty();
    if tls {
        builder = builder.tls_config(server_tls(settings)?).context("server TLS settings")?;
    }
    if tls && !settings.health_listen.is_empty() {
        serve_plain_health(&settings.health_listen, health_service.clone(), draining.clone()).await?;
    }
    let router = builder
        .timeout(settings.request_timeout())
        .layer(layers)
        .add_routes(services.routes.routes())
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);

    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let signal = async move {
        let _ = stop_rx.await;
        // Probes see NOT_SERVING first, so the load balancer stops sending new calls.
        for name in names {
            health_reporter.set_service_status(name, ServingStatus::NotServing).await;
        }
        health_reporter.set_service_status("", ServingStatus::NotServing).await;
    };
    // Without TCP_NODELAY, small replies wait for the peer's delayed ACK (~40 ms each).
    let incoming = tonic::transport::server::TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(std::time::Duration::from_secs(60)));
    let task = tokio::spawn(router.serve_with_incoming_shutdown(incoming, signal));
    tracing::info!(%addr, "serving gRPC");
    Ok(RunningServer { addr, stop: Some(stop_tx), task, drain: settings.drain_timeout(), draining })
}

/// Health alone in plaintext beside a TLS listener, for probes that speak no TLS.
async fn serve_plain_health<S>(listen: &str, health: S, draining: CancellationToken) -> anyhow::Result<()>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("server.health_listen: cannot bind {listen}"))?;
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let router = tonic::transport::Server::builder().add_service(health);
    tokio::spawn(async move {
        if let Err(error) = router.serve_with_incoming_shutdown(incoming, draining.cancelled_owned()).await {
            tracing::warn!(%error, "the health listener stopped");
        }
    });
    Ok(())
}

/// The listener's certificate and key (`server.tls_cert_file`, `server.tls_key_file`).
fn server_tls(settings: &ServerSettings) -> anyhow::Result<tonic::transport::ServerTlsConfig> {
    anyhow::ensure!(
        !settings.tls_cert_file.is_empty() && !settings.tls_key_file.is_empty(),
        "server.tls_cert_file and server.tls_key_file go together"
    );
    let cert = std::fs::read(&settings.tls_cert_file)
        .with_context(|| format!("server.tls_cert_file: reading {}", settings.tls_cert_file))?;
    let key = std::fs::read(&settings.tls_key_file)
        .with_context(|| format!("server.tls_key_file: reading {}", settings.tls_key_file))?;
    Ok(tonic::transport::ServerTlsConfig::new().identity(tonic::transport::Identity::from_pem(cert, key)))
}

/// Completes on SIGTERM (Kubernetes) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
