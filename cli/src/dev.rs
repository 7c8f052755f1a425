//! `loyalty dev up | down | reset`: the whole suite in one process, for development and demos.
use crate::suite;
use anyhow::Context;
use loyalty_localpg::{Cluster, ClusterOptions};
use loyalty_platform::Secret;
use loyalty_platform::auth::{ALL_RIGHTS, Grant, TokenKeys};
use loyalty_platform::config::PlatformSettings;
use loyalty_platform::server::Services;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Subcommand)]
pub enum DevCommand {
    /// Start every implemented service on one gRPC endpoint, with a private Postgres unless
    /// LOYALTY__DATABASE__URL is set. Prints the endpoint, the token path and `ready`.
    Up(UpArgs),
    /// Stop the private Postgres.
    Down(DirArgs),
    /// Stop the private Postgres and delete all local data.
    Reset(DirArgs),
}

#[derive(clap::Args)]
pub struct DirArgs {
    /// Where the private Postgres and the dev token live.
    #[arg(long, default_value = ".data")]
    pub data_dir: PathBuf,
}

#[derive(clap::Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// gRPC listen address (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub listen: String,
    /// Prometheus /metrics listen address; empty disables it.
    #[arg(long, default_value = "127.0.0.1:9464")]
    pub metrics_listen: String,
    /// Port of the private Postgres.
    #[arg(long, default_value_t = 54329)]
    pub pg_port: u16,
    /// Load the demo retail chain once (skipped when it was loaded before).
    #[arg(long)]
    pub demo: bool,
    /// Tenant of the dev admin token.
    #[arg(long, default_value = loyalty_testkit::demo::TENANT)]
    pub tenant: String,
}

pub async fn run(command: DevCommand) -> anyhow::Result<()> {
    match command {
        DevCommand::Up(args) => up(args).await,
        DevCommand::Down(args) => {
            let stopped = Cluster::stop(&args.data_dir.join("postgres"))?;
            println!("{}", if stopped { "postgres stopped" } else { "postgres was not running" });
            Ok(())
        }
        DevCommand::Reset(args) => reset(&args.data_dir),
    }
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
    let mut settings: PlatformSettings = loyalty_platform::config::load("dev", None)?;
    settings.telemetry.log_format = "text".into();
    let _telemetry = loyalty_platform::telemetry::init("loyalty-dev", &settings.telemetry)?;
    std::fs::create_dir_all(&args.dir.data_dir)?;
    if std::env::var_os("LOYALTY__DATABASE__URL").is_none() {
        let dir = args.dir.data_dir.join("postgres");
        let options = ClusterOptions { port: args.pg_port, ..ClusterOptions::default() };
        let cluster = tokio::task::spawn_blocking(move || Cluster::ensure_started(&dir, &options)).await??;
        create_database(&cluster.url("postgres"), "loyalty").await?;
        settings.database.url = Secret::new(cluster.url("loyalty"));
        println!("postgres: 127.0.0.1:{} (data in {})", cluster.port, cluster.dir.display());
    }
    settings.server.listen = args.listen.clone();
    settings.server.metrics_listen = args.metrics_listen.clone();

    let bound = loyalty_platform::server::bind(&settings.server).await?;
    settings.server.listen = bound.addr.to_string();
    let mut services = Services::new();
    suite::register_all(&settings, &mut services).await?;
    let names = services.names().to_vec();
    let server = loyalty_platform::server::serve(bound, &settings.server, &settings.auth, services).await?;
    let endpoint = format!("http://{}", server.addr);

    let token_path = args.dir.data_dir.join("dev-token");
    let token = TokenKeys::new(&settings.auth).mint(&Grant {
        subject: "dev-admin",
        name: "Dev admin",
        ttl: Duration::from_secs(30 * 86_400),
        ..Grant::new(&args.tenant, &[ALL_RIGHTS])
    })?;
    std::fs::write(&token_path, format!("{token}\n")).with_context(|| format!("writing {}", token_path.display()))?;

    if args.demo {
        load_demo_once(&args.dir.data_dir, &endpoint, &token).await?;
    }
    println!("services: {}", if names.is_empty() { "(none implemented yet)".to_string() } else { names.join(", ") });
    println!("endpoint: {endpoint}");
    println!("token: {}", token_path.display());
    println!("ready");
    std::io::stdout().flush()?;
    server.serve_until_signal().await
}

async fn load_demo_once(data_dir: &Path, endpoint: &str, token: &str) -> anyhow::Result<()> {
    let marker = data_dir.join("demo-loaded");
    if marker.exists() {
        println!("demo: already loaded ({} exists)", marker.display());
        return Ok(());
    }
    let report = suite::load_demo(endpoint, token).await?;
    for line in &report {
        println!("demo: {line}");
    }
    if report.is_empty() {
        println!("demo: no implemented service takes demo data yet");
    }
    std::fs::write(&marker, report.join("\n"))?;
    Ok(())
}

async fn create_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let (client, connection) = tokio_postgres::connect(admin_url, tokio_postgres::NoTls)
        .await
        .context("connecting to the private Postgres")?;
    tokio::spawn(connection);
    let exists = client.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name]).await?.is_some();
    if !exists {
        client.batch_execute(&format!("CREATE DATABASE {name}")).await.context("creating the database")?;
    }
    Ok(())
}

fn reset(data_dir: &Path) -> anyhow::Result<()> {
    let pg = data_dir.join("postgres");
    Cluster::stop(&pg)?;
    // The cluster's data may live elsewhere behind a link (see loyalty-localpg).
    let link = pg.join("data");
    if let Ok(target) = std::fs::read_link(&link) {
        std::fs::remove_dir_all(&target).with_context(|| format!("removing {}", target.display()))?;
    }
    if data_dir.exists() {
        std::fs::remove_dir_all(data_dir).with_context(|| format!("removing {}", data_dir.display()))?;
    }
    println!("removed {}", data_dir.display());
    Ok(())
}
