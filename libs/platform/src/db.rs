//! The Postgres pool, transactions and the migration runner.
use crate::config::DatabaseSettings;
use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::NoTls;
use tokio_postgres_rustls::MakeRustlsConnect;

pub use deadpool_postgres::{Pool as PgPool, Transaction};

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// A schema name is put into SQL text, so only plain lower-case identifiers are accepted.
pub fn check_schema_name(schema: &str) -> anyhow::Result<()> {
    let ok = !schema.is_empty()
        && schema.len() <= 48
        && schema.starts_with(|c: char| c.is_ascii_lowercase())
        && schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    anyhow::ensure!(ok, "database.schema: {schema:?} is not a plain lower-case identifier");
    Ok(())
}

/// Connection settings of `db` with the search path set to `schema`, so a service's SQL names its
/// own tables without a prefix.
pub fn pg_config(db: &DatabaseSettings, schema: &str) -> anyhow::Result<tokio_postgres::Config> {
    check_schema_name(schema)?;
    let mut config: tokio_postgres::Config =
        db.url.expose().parse().context("database.url: not a valid Postgres URL")?;
    config.options(format!("-c search_path={schema}"));
    if config.get_application_name().is_none() {
        config.application_name(format!("loyalty-{schema}"));
    }
    config.connect_timeout(Duration::from_secs(10));
    Ok(config)
}

/// How connections to Postgres are secured (`database.tls_mode`).
#[derive(Clone)]
pub enum Tls {
    Disabled,
    /// TLS with the server's certificate and host name verified (libpq's `verify-full`).
    VerifyFull(MakeRustlsConnect),
}

/// The TLS connector `db` asks for.
pub fn tls(db: &DatabaseSettings) -> anyhow::Result<Tls> {
    match db.tls_mode.as_str() {
        "" | "disable" => Ok(Tls::Disabled),
        "verify-full" => {
            let mut roots = rustls::RootCertStore::empty();
            anyhow::ensure!(
                !db.ca_file.is_empty(),
                "database.ca_file: verify-full needs the CA certificate (PEM) the server's certificate is signed by"
            );
            use rustls::pki_types::pem::PemObject;
            let certs = rustls::pki_types::CertificateDer::pem_file_iter(&db.ca_file)
                .with_context(|| format!("database.ca_file: reading {}", db.ca_file))?;
            for cert in certs {
                let cert = cert.with_context(|| format!("database.ca_file: {} holds a bad certificate", db.ca_file))?;
                roots.add(cert).context("database.ca_file: a certificate rustls refuses")?;
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .context("TLS protocol versions")?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Tls::VerifyFull(MakeRustlsConnect::new(config)))
        }
        other => anyhow::bail!("database.tls_mode: {other:?} is not one of disable, verify-full"),
    }
}

/// A pool of connections whose search path is `schema`.
pub fn pool(db: &DatabaseSettings, schema: &str) -> anyhow::Result<Pool> {
    let config = pg_config(db, schema)?;
    let recycling = ManagerConfig { recycling_method: RecyclingMethod::Fast };
    let manager = match tls(db)? {
        Tls::Disabled => Manager::from_config(config, NoTls, recycling),
        Tls::VerifyFull(tls) => Manager::from_config(config, tls, recycling),
    };
    Pool::builder(manager)
        .max_size(db.max_size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_millis(db.wait_timeout_ms)))
        .create_timeout(Some(Duration::from_secs(10)))
        .build()
        .context("building the database pool")
}

/// Opens a connection outside the pool (LISTEN, session advisory locks, migrations).
pub async fn connect(db: &DatabaseSettings, schema: &str) -> anyhow::Result<tokio_postgres::Client> {
    let config = pg_config(db, schema)?;
    let client = match tls(db)? {
        Tls::Disabled => {
            let (client, connection) = config.connect(NoTls).await.context("connecting to the database")?;
            tokio::spawn(drive(connection));
            client
        }
        Tls::VerifyFull(tls) => {
            let (client, connection) = config.connect(tls).await.context("connecting to the database over TLS")?;
            tokio::spawn(drive(connection));
            client
        }
    };
    Ok(client)
}

async fn drive<S, T>(connection: tokio_postgres::Connection<S, T>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    if let Err(error) = connection.await {
        tracing::warn!(%error, "database connection ended");
    }
}

/// Runs `work` in one transaction and commits it; rolls back when `work` fails. Every write path
/// uses this, publishing its events inside `work` with [`crate::outbox::publish`], so a change and
/// its event commit together or not at all.
///
/// ```text
/// in_tx(&pool, |tx| Box::pin(async move { store::insert(tx, &client).await?; publish(tx, ev).await }))
/// ```
pub async fn in_tx<T, E, F>(pool: &Pool, work: F) -> Result<T, E>
where
    F: for<'t> FnOnce(&'t Transaction<'t>) -> BoxFuture<'t, Result<T, E>>,
    E: From<anyhow::Error>,
{
    let mut conn = pool.get().await.context("taking a database connection").map_err(E::from)?;
    let tx = conn.transaction().await.context("beginning a transaction").map_err(E::from)?;
    let value = work(&tx).await?;
    crate::outbox::commit(tx).await.context("committing").map_err(E::from)?;
    Ok(value)
}

/// Applies the platform tables, then the service's own migrations, into `schema`, under an
/// advisory lock so that replicas starting together migrate one at a time. Running it again is a
/// no-op.
pub async fn migrate(db: &DatabaseSettings, schema: &str, service: Option<refinery::Runner>) -> anyhow::Result<()> {
    let mut client = connect(db, schema).await?;
    let lock_key = format!("loyalty.migrate.{schema}");
    client.execute("SELECT pg_advisory_lock(hashtext($1))", &[&lock_key]).await.context("taking the migration lock")?;
    let result = apply_migrations(&mut client, schema, service).await;
    // The lock also goes with the connection; unlocking keeps the session reusable if it ever is.
    let _ = client.execute("SELECT pg_advisory_unlock(hashtext($1))", &[&lock_key]).await;
    result
}

async fn apply_migrations(
    client: &mut tokio_postgres::Client,
    schema: &str,
    service: Option<refinery::Runner>,
) -> anyhow::Result<()> {
    client
        .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        .await
        .with_context(|| format!("creating schema {schema}"))?;
    let mut platform = embedded::migrations::runner();
    platform.set_migration_table_name("platform_migrations");
    platform.run_async(client).await.with_context(|| format!("platform migrations in {schema}"))?;
    if let Some(mut runner) = service {
        runner.set_migration_table_name("service_migrations");
        runner.run_async(client).await.with_context(|| format!("service migrations in {schema}"))?;
    }
    Ok(())
}

/// Statements on hot paths: prepared once per connection and reused (one round trip instead of
/// two). Work on a pooled connection or a transaction of one.
pub mod cached {
    use deadpool_postgres::GenericClient;
    use tokio_postgres::Row;
    use tokio_postgres::types::ToSql;

    pub async fn query(
        db: &impl GenericClient,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        let statement = db.prepare_cached(sql).await?;
        db.query(&statement, params).await
    }

    pub async fn query_opt(
        db: &impl GenericClient,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, tokio_postgres::Error> {
        let statement = db.prepare_cached(sql).await?;
        db.query_opt(&statement, params).await
    }

    pub async fn query_one(
        db: &impl GenericClient,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, tokio_postgres::Error> {
        let statement = db.prepare_cached(sql).await?;
        db.query_one(&statement, params).await
    }

    pub async fn execute(
        db: &impl GenericClient,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, tokio_postgres::Error> {
        let statement = db.prepare_cached(sql).await?;
        db.execute(&statement, params).await
    }
}

/// Waits until this replica holds the session advisory lock `key` (within the connection's
/// schema) on `leader`, trying every 250 ms: true once it leads, false when `stop` came first. The
/// lock goes with the connection, so a replica that dies hands the lead over at once.
pub async fn wait_for_lead(
    leader: &tokio_postgres::Client,
    key: &str,
    stop: &tokio_util::sync::CancellationToken,
) -> anyhow::Result<bool> {
    loop {
        let won: bool = leader
            .query_one("SELECT pg_try_advisory_lock(hashtext(current_schema() || '.' || $1))", &[&key])
            .await
            .with_context(|| format!("trying the lock {key}"))?
            .get(0);
        if won {
            return Ok(true);
        }
        tokio::select! {
            _ = stop.cancelled() => return Ok(false),
            _ = tokio::time::sleep(std::time::Duration::from_millis(250)) => {}
        }
    }
}
