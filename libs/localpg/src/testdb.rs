//! One fresh database per test.
use crate::cluster::{Cluster, ClusterOptions};
use anyhow::Context;
use std::sync::OnceLock;

/// A database created for one test. It is left behind when the test ends (the shared scratch
/// cluster lives in the temp directory); its name is random, so tests never see each other's rows.
#[derive(Clone, Debug)]
pub struct TestDatabase {
    /// URL of the fresh database.
    pub url: String,
    pub name: String,
}

/// Where test databases are created: an admin URL of a server.
fn server_url() -> anyhow::Result<String> {
    static SERVER: OnceLock<Result<String, String>> = OnceLock::new();
    SERVER
        .get_or_init(|| find_server().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow::anyhow!("no PostgreSQL for tests: {e}"))
}

fn find_server() -> anyhow::Result<String> {
    if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
        return Ok(url);
    }
    #[cfg(feature = "docker")]
    if let Some(url) = docker::start_if_engine_answers()? {
        return Ok(url);
    }
    let dir = std::env::temp_dir().join(format!("loyalty-test-pg-{}", scratch_owner()));
    let options = ClusterOptions { port: 54331, fast_unsafe: true, max_connections: 500 };
    let cluster = Cluster::ensure_started(&dir, &options).context("starting the scratch test cluster")?;
    Ok(cluster.url("postgres"))
}

fn scratch_owner() -> String {
    std::env::var("USER").unwrap_or_else(|_| "user".into())
}

/// Creates a fresh, empty database for one test and returns its URL. Fails, saying why, when no
/// PostgreSQL can be had: a test never skips itself.
pub async fn test_database() -> anyhow::Result<TestDatabase> {
    let admin_url = tokio::task::spawn_blocking(server_url).await??;
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let (client, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
        .await
        .with_context(|| format!("connecting to the test server {}", redact(&admin_url)))?;
    let driver = tokio::spawn(connection);
    client.batch_execute(&format!("CREATE DATABASE {name}")).await.context("creating the test database")?;
    drop(client);
    let _ = driver.await;
    Ok(TestDatabase { url: with_database(&admin_url, &name), name })
}

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end).unwrap_or(base.len());
    format!("{}/{database}{query}", &base[..path_start])
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => format!("{}***{}", &url[..s + 3], &url[at..]),
        _ => url.to_string(),
    }
}

#[cfg(feature = "docker")]
mod docker {
    use std::sync::OnceLock;
    use testcontainers::ContainerAsync;
    use testcontainers::runners::AsyncRunner;
    use testcontainers_modules::postgres::Postgres;

    /// Kept for the life of the test process.
    static CONTAINER: OnceLock<ContainerAsync<Postgres>> = OnceLock::new();

    fn engine_answers() -> bool {
        let socket = std::env::var("DOCKER_HOST")
            .ok()
            .and_then(|h| h.strip_prefix("unix://").map(str::to_string))
            .unwrap_or_else(|| "/var/run/docker.sock".into());
        std::os::unix::net::UnixStream::connect(socket).is_ok()
    }

    pub fn start_if_engine_answers() -> anyhow::Result<Option<String>> {
        if !engine_answers() {
            return Ok(None);
        }
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let url = runtime.block_on(async {
            let container = Postgres::default().start().await?;
            let port = container.get_host_port_ipv4(5432).await?;
            let _ = CONTAINER.set(container);
            Ok::<_, anyhow::Error>(format!("postgres://postgres:postgres@127.0.0.1:{port}/postgres"))
        })?;
        // The runtime that started the container must outlive it; tests run to process exit.
        std::mem::forget(runtime);
        Ok(Some(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_swapped_in_urls() {
        assert_eq!(with_database("postgres://u:p@h:5/postgres", "t1"), "postgres://u:p@h:5/t1");
        assert_eq!(with_database("postgres://h:5/postgres?sslmode=disable", "t1"), "postgres://h:5/t1?sslmode=disable");
        assert_eq!(with_database("postgres://h:5", "t1"), "postgres://h:5/t1");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://***@h/db");
    }
}
