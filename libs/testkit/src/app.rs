//! Starting services in-process for a test, as users reach them: over gRPC with a bearer token.
use loyalty_platform::Secret;
use loyalty_platform::auth::{ALL_RIGHTS, BearerToken, Grant, TokenKeys};
use loyalty_platform::config::PlatformSettings;
use loyalty_platform::server::{RunningServer, Services};
use std::future::Future;
use std::net::SocketAddr;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Settings for one test: a fresh database, port 0, no metrics endpoint, a random signing key.
pub async fn test_settings() -> anyhow::Result<PlatformSettings> {
    let db = loyalty_localpg::test_database().await?;
    let mut settings = PlatformSettings::default();
    settings.database.url = Secret::new(db.url);
    settings.database.max_size = 8;
    settings.server.listen = "127.0.0.1:0".into();
    settings.server.metrics_listen = String::new();
    settings.server.drain_timeout_ms = 2_000;
    settings.auth.jwt_secret = Secret::new(format!("test-{}", db.name));
    Ok(settings)
}

/// Services running in this process for one test.
pub struct TestApp {
    pub addr: SocketAddr,
    pub settings: PlatformSettings,
    channel: Channel,
    server: Option<RunningServer>,
}

impl TestApp {
    /// Starts what `build` returns (it migrates and wires the services against the given settings)
    /// on an ephemeral port.
    pub async fn start<F, Fut>(build: F) -> anyhow::Result<TestApp>
    where
        F: FnOnce(PlatformSettings) -> Fut,
        Fut: Future<Output = anyhow::Result<Services>>,
    {
        let settings = test_settings().await?;
        Self::start_with(settings, build).await
    }

    /// Like [`TestApp::start`] with settings the test prepared (a shared database, say).
    pub async fn start_with<F, Fut>(settings: PlatformSettings, build: F) -> anyhow::Result<TestApp>
    where
        F: FnOnce(PlatformSettings) -> Fut,
        Fut: Future<Output = anyhow::Result<Services>>,
    {
        let mut settings = settings;
        let bound = loyalty_platform::server::bind(&settings.server).await?;
        // Services reach their peers in this process at the bound address.
        settings.server.listen = bound.addr.to_string();
        let services = build(settings.clone()).await?;
        let server = loyalty_platform::server::serve(bound, &settings.server, &settings.auth, services).await?;
        let addr = server.addr;
        let channel = Channel::from_shared(format!("http://{addr}"))?.connect().await?;
        Ok(TestApp { addr, settings, channel, server: Some(server) })
    }

    /// A token for `tenant` with exactly `rights`.
    pub fn token(&self, tenant: &str, rights: &[&str]) -> String {
        self.token_for(&Grant::new(tenant, rights))
    }

    /// A token limited to `stores` (CL-11).
    pub fn store_token(&self, tenant: &str, rights: &[&str], stores: &[&str]) -> String {
        let mut grant = Grant::new(tenant, rights);
        grant.stores = stores;
        self.token_for(&grant)
    }

    pub fn token_for(&self, grant: &Grant<'_>) -> String {
        TokenKeys::new(&self.settings.auth).mint(grant).unwrap_or_else(|e| panic!("minting a test token: {e}"))
    }

    /// An admin token of `tenant`: every right.
    pub fn admin_token(&self, tenant: &str) -> String {
        self.token(tenant, &[ALL_RIGHTS])
    }

    /// The plain channel (health, reflection, calls without a token).
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// A channel that sends `token` with every call; wrap it in any generated client:
    /// `ClientServiceClient::new(app.authed(&token))`.
    pub fn authed(&self, token: &str) -> InterceptedService<Channel, BearerToken> {
        let bearer = BearerToken::new(token).unwrap_or_else(|e| panic!("token is not ASCII: {e}"));
        InterceptedService::new(self.channel.clone(), bearer)
    }

    /// Stops the server, draining in-flight calls.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        match self.server.take() {
            Some(server) => server.stop().await,
            None => Ok(()),
        }
    }
}
