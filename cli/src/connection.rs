//! Where the suite is and who is calling: the endpoint and the bearer token every command uses.
use anyhow::Context;
use loyalty_platform::auth::BearerToken;
use std::path::PathBuf;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

#[derive(clap::Args, Clone)]
pub struct Connection {
    /// gRPC endpoint of the suite.
    #[arg(long, env = "LOYALTY_ENDPOINT", default_value = "http://127.0.0.1:50051", global = true)]
    pub endpoint: String,
    /// Bearer token; defaults to the file given by --token-file.
    #[arg(long, env = "LOYALTY_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// File holding the token (the one `loyalty dev up` writes).
    #[arg(long, default_value = ".data/dev-token", global = true)]
    pub token_file: PathBuf,
}

pub type Authed = InterceptedService<Channel, BearerToken>;

impl Connection {
    pub fn bearer(&self) -> anyhow::Result<BearerToken> {
        let token = match &self.token {
            Some(t) => t.clone(),
            None => std::fs::read_to_string(&self.token_file).with_context(|| {
                format!(
                    "no token: {} cannot be read; start the suite with `make dev` (it writes the token there), or pass --token",
                    self.token_file.display()
                )
            })?,
        };
        BearerToken::new(token.trim())
    }

    pub async fn channel(&self) -> anyhow::Result<Channel> {
        Channel::from_shared(self.endpoint.clone())?.connect().await.map_err(|e| {
            anyhow::Error::new(tonic::Status::unavailable(format!("cannot reach the suite at {}: {e}", self.endpoint)))
        })
    }

    /// A channel that sends the token with every call.
    pub async fn authed(&self) -> anyhow::Result<Authed> {
        Ok(InterceptedService::new(self.channel().await?, self.bearer()?))
    }
}

/// An idempotency key for a write: the one given (to retry a write safely), else a new one.
pub fn key(given: &Option<String>) -> String {
    given.clone().unwrap_or_else(|| format!("cli-{}", uuid::Uuid::now_v7()))
}
