//! Starting services in-process for a test, as users reach them: over gRPC with a bearer token.
use loyalty_platform::auth::{ALL_RIGHTS, BearerToken, Grant};
use loyalty_platform::config::{AuthSettings, PlatformSettings};
use loyalty_platform::keys::TokenSigner;
use loyalty_platform::server::{RunningServer, Services};
use loyalty_platform::{Secret, auth};
use std::future::Future;
use std::net::SocketAddr;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// The issuer of test tokens.
pub const TEST_ISSUER: &str = "loyalty-test";

/// This test process's identity provider: a fresh Ed25519 key whose public half is the JWKS file
/// the services trust, as in production (no development key, `auth.development` off).
fn provider() -> anyhow::Result<&'static (TokenSigner, std::path::PathBuf)> {
    static PROVIDER: std::sync::OnceLock<Result<(TokenSigner, std::path::PathBuf), String>> =
        std::sync::OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            let made = (|| {
                let kid = format!("test-{}", uuid_like());
                let (signer, jwks) = TokenSigner::generate(&kid, TEST_ISSUER)?;
                let path = std::env::temp_dir().join(format!("loyalty-test-jwks-{kid}.json"));
                std::fs::write(&path, serde_json::to_vec(&jwks)?)?;
                Ok::<_, anyhow::Error>((signer, path))
            })();
            made.map_err(|e| format!("{e:#}"))
        })
        .as_ref()
        .map_err(|e| anyhow::anyhow!("the test identity provider: {e}"))
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

/// The signer of this process's test tokens.
pub fn signer() -> &'static TokenSigner {
    &provider().unwrap_or_else(|e| panic!("{e:#}")).0
}

/// Settings for one test: a fresh database, port 0, no metrics endpoint, the test provider's public
/// key; each service mints its own identity with the provider's key.
pub async fn test_settings() -> anyhow::Result<PlatformSettings> {
    let db = loyalty_localpg::test_database().await?;
    let (signer, jwks) = provider()?;
    let mut settings = PlatformSettings::default();
    settings.database.url = Secret::new(db.url);
    settings.database.max_size = 8;
    settings.server.listen = "127.0.0.1:0".into();
    settings.server.metrics_listen = String::new();
    settings.server.drain_timeout_ms = 2_000;
    settings.auth = AuthSettings {
        jwks_file: jwks.display().to_string(),
        issuer: TEST_ISSUER.into(),
        audience: String::new(),
        development: false,
    };
    settings.identity.signing_key = signer.private_key_base64();
    settings.identity.signing_kid = signer.kid().to_string();
    Ok(settings)
}

/// Adds a service token and the tenant header to every call.
#[derive(Clone)]
pub struct ServiceCall {
    bearer: tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    tenant: tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
}

impl tonic::service::Interceptor for ServiceCall {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("authorization", self.bearer.clone());
        request.metadata_mut().insert(auth::TENANT_HEADER, self.tenant.clone());
        Ok(request)
    }
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
        // RUST_LOG=warn (or finer) shows what the services log, in the test's output.
        let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into());
        let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter(filter).try_init();
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
        signer().mint(grant).unwrap_or_else(|e| panic!("minting a test token: {e}"))
    }

    /// The identity token of service `subject` acting for every tenant with `rights`.
    pub fn service_token(&self, subject: &str, rights: &[&str]) -> String {
        self.token_for(&Grant::service(subject, rights))
    }

    /// A channel that acts for `tenant` under a service identity token.
    pub fn as_service(&self, token: &str, tenant: &str) -> InterceptedService<Channel, ServiceCall> {
        let bearer = format!("Bearer {token}").parse().unwrap_or_else(|e| panic!("token is not ASCII: {e}"));
        let tenant = tenant.parse().unwrap_or_else(|e| panic!("tenant is not ASCII: {e}"));
        InterceptedService::new(self.channel.clone(), ServiceCall { bearer, tenant })
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
