//! `loyalty dev up | down | reset`: the whole suite in one process, for development and demos.
use crate::output::Output;
use crate::suite;
use anyhow::Context;
use loyalty_localpg::{Cluster, ClusterOptions};
use loyalty_platform::Secret;
use loyalty_platform::auth::{ALL_RIGHTS, Grant, OPERATE_FEEDS};
use loyalty_platform::config::PlatformSettings;
use loyalty_platform::keys::{DEVELOPMENT_KID, TokenSigner};
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
    /// Stop the private Postgres and delete all local data (asks first, unless --yes).
    Reset(ResetArgs),
}

#[derive(clap::Args)]
pub struct DirArgs {
    /// Where the private Postgres and the dev token live.
    #[arg(long, default_value = ".data")]
    pub data_dir: PathBuf,
}

#[derive(clap::Args)]
pub struct ResetArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// Delete without asking.
    #[arg(long)]
    pub yes: bool,
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
    /// The messaging service's tracking links (open pixel, clicks, unsubscribe) listen address.
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub tracking_listen: String,
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

pub async fn run(command: DevCommand, out: &Output) -> anyhow::Result<()> {
    match command {
        DevCommand::Up(args) => up(args).await,
        DevCommand::Down(args) => {
            let stopped = Cluster::stop(&args.data_dir.join("postgres"))?;
            out.value(
                serde_json::json!({ "stopped": stopped }),
                if stopped { "postgres stopped" } else { "postgres was not running" },
            );
            Ok(())
        }
        DevCommand::Reset(args) => reset(&args, out),
    }
}

/// Development mode: the development key signs and is trusted, and each service mints its own
/// identity with it.
fn development(settings: &mut PlatformSettings) {
    let signer = TokenSigner::development();
    settings.auth.development = true;
    settings.auth.jwks_file = String::new();
    settings.identity.signing_key = signer.private_key_base64();
    settings.identity.signing_kid = DEVELOPMENT_KID.to_string();
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
    let mut settings: PlatformSettings = loyalty_platform::config::load("dev", None)?;
    settings.telemetry.log_format = "text".into();
    development(&mut settings);
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
    suite::register_all(&settings, &mut services, &args.tracking_listen).await?;
    let names = services.names().to_vec();
    let server = loyalty_platform::server::serve(bound, &settings.server, &settings.auth, services).await?;
    let endpoint = format!("http://{}", server.addr);

    let token_path = args.dir.data_dir.join("dev-token");
    let rights = [ALL_RIGHTS, OPERATE_FEEDS];
    let grant = Grant {
        subject: "dev-admin",
        name: "Dev admin",
        ttl: Duration::from_secs(30 * 86_400),
        ..Grant::new(&args.tenant, &rights)
    };
    let token = TokenSigner::development().mint(&grant)?;
    write_private(&token_path, &format!("{token}\n"))?;

    if args.demo {
        load_demo_once(&args.dir.data_dir, &endpoint, &token).await?;
    }
    println!("services: {}", names.join(", "));
    println!("endpoint: {endpoint}");
    println!("token: {}", token_path.display());
    println!("ready");
    std::io::stdout().flush()?;
    server.serve_until_signal().await
}

/// Writes `text` to `path`, readable and writable by its owner only (a token is a credential).
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

async fn load_demo_once(data_dir: &Path, endpoint: &str, token: &str) -> anyhow::Result<()> {
    let marker = data_dir.join("demo-loaded");
    if marker.exists() {
        println!("demo: already loaded ({} exists)", marker.display());
        return Ok(());
    }
    let report = crate::demo::load_demo(endpoint, token).await?;
    for line in &report {
        println!("demo: {line}");
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

/// Asks on the terminal before deleting; `--yes` answers for scripts.
fn confirmed(data_dir: &Path, yes: bool) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    eprint!(
        "This deletes {} (the local Postgres with all its data, and the dev token). Type yes to go on: ",
        data_dir.display()
    );
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

fn reset(args: &ResetArgs, out: &Output) -> anyhow::Result<()> {
    let data_dir = &args.dir.data_dir;
    if !data_dir.exists() {
        out.value(
            serde_json::json!({ "removed": false }),
            &format!("nothing to remove: {} does not exist", data_dir.display()),
        );
        return Ok(());
    }
    anyhow::ensure!(
        !std::fs::symlink_metadata(data_dir)?.file_type().is_symlink(),
        "{} is a link; remove what it points to yourself",
        data_dir.display()
    );
    if !confirmed(data_dir, args.yes)? {
        anyhow::bail!("nothing removed (answer yes, or pass --yes)");
    }
    let pg = data_dir.join("postgres");
    Cluster::stop(&pg)?;
    // The cluster's data may live outside the data directory behind a link, in the one place
    // loyalty-localpg puts it; a link anywhere else is removed, not followed.
    let link = pg.join("data");
    if let (Ok(target), Ok(pg)) = (std::fs::read_link(&link), pg.canonicalize())
        && target == loyalty_localpg::outside_data_dir(&pg)
    {
        std::fs::remove_dir_all(&target).with_context(|| format!("removing {}", target.display()))?;
    }
    std::fs::remove_dir_all(data_dir).with_context(|| format!("removing {}", data_dir.display()))?;
    out.value(serde_json::json!({ "removed": true }), &format!("removed {}", data_dir.display()));
    Ok(())
}
