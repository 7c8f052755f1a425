//! The `main` of every service binary: `<binary> [serve]` runs the service (migrating its schema
//! first, under an advisory lock), `<binary> migrate` applies its migrations and exits (the Helm
//! pre-install/pre-upgrade hook). Both accept `--config <file.toml>`.
use crate::config::PlatformSettings;
use crate::server::Services;
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use std::process::ExitCode;

/// A service's settings: the platform's (`server`, `database`, `auth`, …) and its own.
pub trait ServiceSettings: DeserializeOwned + Clone + Send + Sync + 'static {
    fn platform(&self) -> &PlatformSettings;
    fn platform_mut(&mut self) -> &mut PlatformSettings;
}

impl ServiceSettings for PlatformSettings {
    fn platform(&self) -> &PlatformSettings {
        self
    }

    fn platform_mut(&mut self) -> &mut PlatformSettings {
        self
    }
}

/// Implements [`ServiceSettings`] and `with_platform` (the service's defaults on the given
/// platform settings: `loyalty dev up`, tests) for a service's `Settings` struct, which holds the
/// platform's settings in a field named `platform` (`#[serde(flatten)]`).
#[macro_export]
macro_rules! service_settings {
    ($settings:ty) => {
        impl $settings {
            /// The service's defaults on the given platform settings (`loyalty dev up`, tests).
            pub fn with_platform(platform: &$crate::config::PlatformSettings) -> Self {
                Self { platform: platform.clone(), ..Self::default() }
            }
        }

        impl $crate::service_main::ServiceSettings for $settings {
            fn platform(&self) -> &$crate::config::PlatformSettings {
                &self.platform
            }

            fn platform_mut(&mut self) -> &mut $crate::config::PlatformSettings {
                &mut self.platform
            }
        }
    };
}

/// How a service plugs into [`run`].
pub struct ServiceSpec<S> {
    /// "client", "card", "ledger", ...: the settings prefix and the default schema.
    pub name: &'static str,
    pub migrations: fn() -> refinery::Runner,
    /// Migrates the schema, adds the service's gRPC services and starts its background tasks.
    pub register: for<'a> fn(&'a S, &'a mut Services) -> BoxFuture<'a, anyhow::Result<()>>,
}

enum Mode {
    Serve,
    Migrate,
}

fn parse_args() -> Result<(Mode, Option<PathBuf>), String> {
    let mut mode = Mode::Serve;
    let mut config = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "serve" => mode = Mode::Serve,
            "migrate" => mode = Mode::Migrate,
            "--config" => config = Some(args.next().ok_or("--config needs a file")?.into()),
            other => {
                return Err(format!("unknown argument {other:?}; usage: [serve|migrate] [--config FILE]"));
            }
        }
    }
    Ok((mode, config))
}

/// Runs a service binary to completion.
pub fn run<S: ServiceSettings>(spec: ServiceSpec<S>) -> ExitCode {
    let (mode, config) = match parse_args() {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("{}: {e}", spec.name);
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}: starting the runtime: {e}", spec.name);
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run_async(&spec, mode, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "{} stopped", spec.name);
            eprintln!("{}: {e:#}", spec.name);
            ExitCode::FAILURE
        }
    }
}

async fn run_async<S: ServiceSettings>(
    spec: &ServiceSpec<S>,
    mode: Mode,
    config: Option<PathBuf>,
) -> anyhow::Result<()> {
    let settings: S = crate::config::load(spec.name, config.as_deref())?;
    let platform = settings.platform();
    let _telemetry = crate::telemetry::init(spec.name, &platform.telemetry)?;
    if let Mode::Migrate = mode {
        let schema = crate::service::schema_of(spec.name, platform);
        crate::db::migrate(&platform.database, &schema, Some((spec.migrations)())).await?;
        tracing::info!(schema, "migrations applied");
        return Ok(());
    }
    let mut services = Services::new();
    (spec.register)(&settings, &mut services).await?;
    let server = crate::server::start(&platform.server, &platform.auth, services).await?;
    server.serve_until_signal().await
}
