//! TLS a security team accepts: the gRPC listener serves TLS with the chart's certificate, and
//! Postgres connections verify the server's certificate and name (`verify-full`) against a CA.
//! Certificates are made for the test by the `openssl` program.
use loyalty_platform::Secret;
use loyalty_platform::config::{AuthSettings, DatabaseSettings, ServerSettings};
use loyalty_platform::server::Services;
use std::path::{Path, PathBuf};
use std::process::Command;

fn openssl(args: &[&str], dir: &Path) {
    let out =
        Command::new("openssl").args(args).current_dir(dir).output().expect("openssl is installed (.ci/ensure-tools)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA and a server certificate it signed, for 127.0.0.1 and localhost: (ca, cert, key).
fn certificates(name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("loyalty-tls-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=loyalty test CA",
        ],
        &dir,
    );
    openssl(
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
        &dir,
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")
        .expect("ext");
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ],
        &dir,
    );
    (dir.join("ca.pem"), dir.join("server.pem"), dir.join("server.key"))
}

#[tokio::test]
async fn the_grpc_listener_serves_tls_and_refuses_plaintext() {
    let (ca, cert, key) = certificates("grpc");
    let health_port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let settings = ServerSettings {
        health_listen: format!("127.0.0.1:{health_port}"),
        listen: "127.0.0.1:0".into(),
        metrics_listen: String::new(),
        tls_cert_file: cert.display().to_string(),
        tls_key_file: key.display().to_string(),
        ..Default::default()
    };
    let auth = AuthSettings { development: true, ..Default::default() };
    let server = loyalty_platform::server::start(&settings, &auth, Services::new()).await.expect("serves TLS");
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(std::fs::read(&ca).expect("ca")))
        .domain_name("localhost");
    let channel = tonic::transport::Channel::from_shared(format!("https://127.0.0.1:{}", server.addr.port()))
        .expect("uri")
        .tls_config(tls)
        .expect("tls")
        .connect()
        .await
        .expect("a TLS client connects");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await.expect("health");
    assert_eq!(status.into_inner().status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);
    let plain = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{}", server.addr.port()))
        .expect("uri")
        .connect()
        .await;
    let refused = match plain {
        Err(_) => true,
        Ok(channel) => tonic_health::pb::health_client::HealthClient::new(channel)
            .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
            .await
            .is_err(),
    };
    assert!(refused, "no plaintext call gets through");
    // Probes (which speak no TLS) ask health on its own plaintext port.
    let probe = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{health_port}"))
        .expect("uri")
        .connect()
        .await
        .expect("health port");
    let status = tonic_health::pb::health_client::HealthClient::new(probe)
        .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
        .await
        .expect("plaintext health");
    assert_eq!(status.into_inner().status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);
    server.stop().await.expect("stops");
}

/// A private cluster of its own with TLS on, its server certificate signed by `ca`.
fn cluster_with_tls(cert: &Path, key: &Path) -> loyalty_localpg::Cluster {
    let dir = std::env::temp_dir().join(format!("loyalty-tls-pg-{}", std::process::id()));
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let options = loyalty_localpg::ClusterOptions { port, fast_unsafe: true, max_connections: 20 };
    let cluster = loyalty_localpg::Cluster::ensure_started(&dir, &options).expect("a private cluster");
    let data = cluster.dir.join("data").canonicalize().expect("data dir");
    for (from, to) in [(cert, "server.crt"), (key, "server.key")] {
        std::fs::copy(from, data.join(to)).expect("copy");
        let postgres = Command::new("id").args(["-u", "postgres"]).output().ok().filter(|o| o.status.success());
        if let Some(uid) = postgres.and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<u32>().ok()) {
            std::os::unix::fs::chown(data.join(to), Some(uid), None).expect("chown");
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(data.join(to), std::fs::Permissions::from_mode(0o600)).expect("mode");
    }
    cluster
}

#[tokio::test]
async fn postgres_connections_verify_the_server_against_the_ca() {
    let (ca, cert, key) = certificates("pg");
    let cluster = tokio::task::spawn_blocking(move || cluster_with_tls(&cert, &key)).await.expect("join");
    let plain = DatabaseSettings { url: Secret::new(cluster.url("postgres")), ..Default::default() };
    let admin = loyalty_platform::db::connect(&plain, "public").await.expect("plain admin connection");
    admin.batch_execute("ALTER SYSTEM SET ssl = on").await.expect("ssl on");
    admin.batch_execute("SELECT pg_reload_conf()").await.expect("reload");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let verified =
        DatabaseSettings { tls_mode: "verify-full".into(), ca_file: ca.display().to_string(), ..plain.clone() };
    let db = loyalty_platform::db::connect(&verified, "public").await.expect("a verified TLS connection");
    let row = db.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).await.expect("ssl row");
    assert!(row.get::<_, bool>(0), "the session is encrypted");
    let pool = loyalty_platform::db::pool(&verified, "public").expect("pool");
    let pooled = pool.get().await.expect("the pool connects over TLS too");
    pooled.query_one("SELECT 1", &[]).await.expect("and queries");

    let (other_ca, _, _) = certificates("pg-other");
    let wrong = DatabaseSettings { ca_file: other_ca.display().to_string(), ..verified.clone() };
    assert!(loyalty_platform::db::connect(&wrong, "public").await.is_err(), "a server another CA signed is refused");
    let unknown = DatabaseSettings { tls_mode: "prefer".into(), ..verified };
    let Err(err) = loyalty_platform::db::pool(&unknown, "public") else { panic!("prefer is refused") };
    assert!(err.to_string().contains("database.tls_mode"), "{err}");
    let _ = loyalty_localpg::Cluster::stop(&cluster.dir);
}
