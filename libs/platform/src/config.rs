//! Layered settings: built-in defaults < optional TOML file < environment.
//!
//! Environment variables: `LOYALTY__DATABASE__URL` applies to every service in the process;
//! `LOYALTY_<SERVICE>__DATABASE__URL` (e.g. `LOYALTY_LEDGER__DATABASE__MAX_SIZE=32`) to one service
//! and wins over the general one. The file is `--config <path>` or `LOYALTY_CONFIG`.
use crate::secret::Secret;
use anyhow::Context;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::path::Path;
use std::time::Duration;

/// The settings every service binary has. A service's own settings struct embeds these.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct PlatformSettings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub telemetry: TelemetrySettings,
    pub peers: PeerSettings,
    /// This service's own identity towards its peers.
    pub identity: crate::identity::IdentitySettings,
    pub outbox: OutboxSettings,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct OutboxSettings {
    /// Published events older than this are deleted (hourly). Read models replay from sequence 0
    /// when they rebuild, so keep at least the history they answer questions about (two years of
    /// purchases for the segment service's period facts).
    pub retention_days: u32,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self { retention_days: 730 }
    }
}

/// Where the other services answer. Empty means "this server": all services in one process
/// (`loyalty dev up`, tests). In Kubernetes: `LOYALTY__PEERS__CLIENT=http://loyalty-client:50051`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct PeerSettings {
    pub client: String,
    pub card: String,
    pub ledger: String,
    pub segment: String,
    pub messaging: String,
    pub importexport: String,
    /// CA certificate (PEM) that peers' TLS certificates are checked against, for `https://`
    /// endpoints; empty uses the system's roots.
    pub tls_ca_file: String,
}

impl PlatformSettings {
    /// The endpoint of peer `configured` (one of [`PeerSettings`]); empty resolves to this server's
    /// own `server.listen` address.
    pub fn peer_endpoint(&self, configured: &str) -> String {
        if !configured.is_empty() {
            return configured.to_string();
        }
        let listen = self.server.listen.replace("0.0.0.0", "127.0.0.1").replace("[::]", "[::1]");
        let scheme = if self.server.tls_cert_file.is_empty() { "http" } else { "https" };
        format!("{scheme}://{listen}")
    }

    /// A lazily connecting channel to peer `configured` (TLS for `https://` endpoints).
    pub fn peer_channel(&self, configured: &str) -> anyhow::Result<tonic::transport::Channel> {
        let endpoint = self.peer_endpoint(configured);
        let mut channel = tonic::transport::Channel::from_shared(endpoint.clone())
            .map_err(|e| anyhow::anyhow!("peers: {endpoint:?} is not an endpoint: {e}"))?;
        if endpoint.starts_with("https://") {
            let mut tls = tonic::transport::ClientTlsConfig::new().with_enabled_roots();
            if !self.peers.tls_ca_file.is_empty() {
                let pem = std::fs::read(&self.peers.tls_ca_file)
                    .with_context(|| format!("peers.tls_ca_file: reading {}", self.peers.tls_ca_file))?;
                tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
            }
            channel = channel.tls_config(tls).context("peers: TLS settings")?;
        }
        Ok(channel.connect_lazy())
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct ServerSettings {
    /// gRPC listen address.
    pub listen: String,
    /// Prometheus `/metrics` listen address; empty disables the endpoint.
    pub metrics_listen: String,
    /// Longest a unary call may take before DEADLINE_EXCEEDED.
    pub request_timeout_ms: u64,
    /// Requests served at once across all connections; more wait.
    pub max_concurrent_requests: usize,
    /// After SIGTERM, how long in-flight calls may finish before the process exits.
    pub drain_timeout_ms: u64,
    /// TLS on the gRPC listener: the certificate chain and private key (PEM). Empty serves
    /// plaintext (behind a mesh or on a private network).
    pub tls_cert_file: String,
    pub tls_key_file: String,
    /// With TLS on: a plaintext listener serving only gRPC health, for Kubernetes probes (which
    /// speak no TLS). Empty serves none.
    pub health_listen: String,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:50051".into(),
            metrics_listen: "0.0.0.0:9464".into(),
            request_timeout_ms: 30_000,
            max_concurrent_requests: 512,
            drain_timeout_ms: 20_000,
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
            health_listen: String::new(),
        }
    }
}

impl ServerSettings {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub fn drain_timeout(&self) -> Duration {
        Duration::from_millis(self.drain_timeout_ms)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    /// `postgres://user:password@host:port/database`.
    pub url: Secret<String>,
    /// The schema this service owns; defaults to the service name.
    pub schema: String,
    /// Pool size.
    pub max_size: usize,
    /// How long a caller waits for a pooled connection.
    pub wait_timeout_ms: u64,
    /// "disable" (default) or "verify-full": TLS with the server's certificate checked against
    /// `ca_file` and its name against the host of the URL.
    pub tls_mode: String,
    /// CA certificate (PEM) the server's certificate is checked against; empty uses the system's
    /// roots.
    pub ca_file: String,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: Secret::new("postgres://postgres@127.0.0.1:5432/loyalty".into()),
            schema: String::new(),
            max_size: 16,
            wait_timeout_ms: 5_000,
            tls_mode: "disable".into(),
            ca_file: String::new(),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    /// JWKS file with the public keys tokens are signed with (several at once for rotation).
    pub jwks_file: String,
    /// The `iss` every token must carry.
    pub issuer: String,
    /// The `aud` every token must carry; "loyalty" when empty.
    pub audience: String,
    /// Development mode: with no `jwks_file`, trust the development key (`loyalty dev up`). A
    /// service refuses to start with the development key otherwise.
    pub development: bool,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct TelemetrySettings {
    /// `tracing` filter, e.g. "info,loyalty_ledger=debug".
    pub log_filter: String,
    /// "json" (default, one object a line) or "text".
    pub log_format: String,
    /// OTLP gRPC endpoint (e.g. "http://otel-collector:4317"); empty disables trace export.
    pub otlp_endpoint: String,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self { log_filter: "info".into(), log_format: "json".into(), otlp_endpoint: String::new() }
    }
}

/// Loads `T` for `service` from defaults, the file (if any) and the environment. A bad value fails
/// with the key's path and the reason.
pub fn load<T: DeserializeOwned>(service: &str, file: Option<&Path>) -> anyhow::Result<T> {
    let mut builder = config::Config::builder();
    let file = file.map(Path::to_path_buf).or_else(|| std::env::var_os("LOYALTY_CONFIG").map(Into::into));
    if let Some(path) = &file {
        builder = builder.add_source(config::File::from(path.as_path()).format(config::FileFormat::Toml));
    }
    let service_prefix = format!("LOYALTY_{}", service.to_uppercase().replace('-', "_"));
    for prefix in ["LOYALTY", service_prefix.as_str()] {
        builder = builder.add_source(
            config::Environment::with_prefix(prefix).prefix_separator("__").separator("__").try_parsing(true),
        );
    }
    let raw = builder.build().with_context(|| format!("reading settings of the {service} service"))?;
    raw.try_deserialize().map_err(|e| anyhow::anyhow!("settings of the {service} service: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_override_defaults_and_errors_name_the_key() {
        let dir = std::env::temp_dir().join(format!("loyalty-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let good = dir.join("good.toml");
        std::fs::write(&good, "[database]\nmax_size = 4\n[server]\nlisten = \"127.0.0.1:6000\"\n").expect("write");
        let s: PlatformSettings = load("configtest", Some(&good)).expect("loads");
        assert_eq!(s.database.max_size, 4);
        assert_eq!(s.server.listen, "127.0.0.1:6000");
        assert_eq!(s.server.request_timeout_ms, 30_000, "unset keys keep their defaults");

        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "[database]\nmax_size = \"many\"\n").expect("write");
        let err = load::<PlatformSettings>("configtest", Some(&bad)).expect_err("refused").to_string();
        assert!(err.contains("database.max_size"), "error names the key: {err}");
    }
}
