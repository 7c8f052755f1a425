//! The `main` of every service binary: `<binary> [serve]` runs the service, `<binary> migrate`
//! applies its migrations and exits (the Helm pre-install/pre-upgrade hook). Both accept
//! `--config <file.toml>`.
use crate::config::PlatformSettings;
use crate::server::Services;
use futures::future::BoxFuture;
use std::path::PathBuf;
use std::process::ExitCode;

/// How a service plugs into [`run`].
pub struct ServiceSpec {
    /// "client", "card", "ledger", ...: the settings prefix and the default schema.
    pub name: &'static str,
    pub migrations: fn() -> refinery::Runner,
    /// Adds the service's gRPC services (and starts its background tasks).
    pub register: for<'a> fn(&'a PlatformSettings, &'a mut Services) -> BoxFuture<'a, anyhow::Result<()>>,
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
pub fn run(spec: ServiceSpec) -> ExitCode {
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

async fn run_async(spec: &ServiceSpec, mode: Mode, config: Option<PathBuf>) -> anyhow::Result<()> {
    let mut settings: PlatformSettings = crate::config::load(spec.name, config.as_deref())?;
    if settings.database.schema.is_empty() {
        settings.database.schema = spec.name.replace('-', "_");
    }
    let _telemetry = crate::telemetry::init(spec.name, &settings.telemetry)?;
    crate::db::migrate(&settings.database, &settings.database.schema, Some((spec.migrations)())).await?;
    if let Mode::Migrate = mode {
        tracing::info!(schema = settings.database.schema, "migrations applied");
        return Ok(());
    }
    let mut services = Services::new();
    (spec.register)(&settings, &mut services).await?;
    let server = crate::server::start(&settings.server, &settings.auth, services).await?;
    server.serve_until_signal().await
}
