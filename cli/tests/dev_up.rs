//! `loyalty dev up` on a machine with no running Postgres reaches `ready`, serves health, and with
//! `--demo` has the demo chain loaded.
use loyalty_api::client::v1::ListClientsRequest;
use loyalty_api::client::v1::client_service_client::ClientServiceClient;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

const BIN: &str = env!("CARGO_BIN_EXE_loyalty");

/// grpcurl from PATH or .tools/bin (where `make test` installs it).
fn grpcurl() -> std::path::PathBuf {
    let local = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/bin/grpcurl");
    if local.exists() {
        return local;
    }
    std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("grpcurl")).find(|c| c.exists()))
        .unwrap_or_else(|| panic!("grpcurl is not installed: run `bash .ci/ensure-tools` (make test does)"))
}

/// Stops `dev up` (and with it its Postgres) when the test fails half-way, so a failed run leaves no
/// server behind holding the test's output pipe open.
struct StopOnDrop(Option<std::process::Child>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
            for _ in 0..300 {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

#[tokio::test]
async fn dev_up_starts_its_own_postgres_reaches_ready_and_serves_health() {
    let data_dir = std::env::temp_dir().join(format!("loyalty-devup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let mut child = StopOnDrop(Some(
        Command::new(BIN)
            .args(["dev", "up", "--listen", "127.0.0.1:0", "--metrics-listen", "", "--demo"])
            .arg("--pg-port")
            .arg(free_port().to_string())
            .arg("--data-dir")
            .arg(&data_dir)
            .env_remove("LOYALTY__DATABASE__URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("loyalty dev up starts"),
    ));
    let stdout = child.0.as_mut().and_then(|c| c.stdout.take()).expect("stdout");
    let lines = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("utf-8 output");
            let done = line == "ready";
            seen.push(line);
            if done {
                break;
            }
        }
        seen
    });
    let lines =
        tokio::time::timeout(Duration::from_secs(120), lines).await.expect("ready within two minutes").expect("reader");
    assert_eq!(lines.last().map(String::as_str), Some("ready"), "output: {lines:?}");
    let endpoint =
        lines.iter().find_map(|l| l.strip_prefix("endpoint: ")).expect("the endpoint is printed").to_string();
    let token_path = lines.iter().find_map(|l| l.strip_prefix("token: ")).expect("the token path is printed");
    let token = std::fs::read_to_string(token_path).expect("token file");
    assert_eq!(token.trim().split('.').count(), 3, "the dev token is a JWT");

    let channel =
        tonic::transport::Channel::from_shared(endpoint.clone()).expect("uri").connect().await.expect("connects");
    let mut health = HealthClient::new(channel.clone());
    let status =
        health.check(HealthCheckRequest { service: String::new() }).await.expect("health answers").into_inner().status;
    assert_eq!(status, ServingStatus::Serving as i32);

    // --demo loaded the demo chain through the API.
    let bearer = loyalty_platform::auth::BearerToken::new(token.trim()).expect("token");
    let mut clients = ClientServiceClient::with_interceptor(channel.clone(), bearer);
    let listed = clients.list_clients(ListClientsRequest::default()).await.expect("list").into_inner();
    assert_eq!(listed.page.expect("page").total_size, 2000, "the demo clients are there");
    let found = clients
        .list_clients(ListClientsRequest { query: "sarunas".into(), ..Default::default() })
        .await
        .expect("search")
        .into_inner();
    assert!(found.clients.iter().all(|c| c.first_name == "Šarūnas") && !found.clients.is_empty());
    let mut cards = loyalty_api::card::v1::card_service_client::CardServiceClient::with_interceptor(
        channel.clone(),
        loyalty_platform::auth::BearerToken::new(token.trim()).expect("token"),
    );
    let owned = cards
        .list_client_cards(loyalty_api::card::v1::ListClientCardsRequest { client_id: found.clients[0].id.clone() })
        .await
        .expect("cards")
        .into_inner();
    assert_eq!((owned.total_count, owned.active_count), (1, 1), "every demo client holds a card");
    let mut ledger = loyalty_api::ledger::v1::ledger_service_client::LedgerServiceClient::with_interceptor(
        channel.clone(),
        loyalty_platform::auth::BearerToken::new(token.trim()).expect("token"),
    );
    let some = clients.list_clients(ListClientsRequest::default()).await.expect("list").into_inner();
    let ids: Vec<String> = some.clients.iter().map(|c| c.id.clone()).collect();
    let balances = ledger
        .batch_get_balances(loyalty_api::ledger::v1::BatchGetBalancesRequest { client_ids: ids })
        .await
        .expect("balances")
        .into_inner()
        .balances;
    // Every fourth demo client has shopped; among fifty, some have points.
    let balance = balances.into_iter().find(|b| b.available > 0).expect("demo clients who shopped have points");
    let first = some.clients.iter().find(|c| c.id == balance.client_id).expect("that client").clone();

    // The CLI reaches the same API with the dev token.
    let out = Command::new(BIN)
        .args([
            "clients",
            "search",
            "sarunas",
            "--limit",
            "3",
            "--endpoint",
            endpoint.as_str(),
            "--token-file",
            token_path,
        ])
        .output()
        .expect("loyalty clients search");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("Šarūnas") && text.contains("3 shown of"), "{text}");
    let out = Command::new(BIN)
        .args(["cards", "list", &found.clients[0].id, "--endpoint", endpoint.as_str(), "--token-file", token_path])
        .output()
        .expect("loyalty cards list");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 cards, 1 active"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = Command::new(BIN)
        .args([
            "points",
            "adjust",
            &first.id,
            "25",
            "--comment",
            "apology",
            "--endpoint",
            endpoint.as_str(),
            "--token-file",
            token_path,
        ])
        .output()
        .expect("loyalty points adjust");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains(&format!("available {}", balance.available + 25)),
        "{shown}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = Command::new(BIN)
        .args(["clients", "get", "not-an-id", "--endpoint", endpoint.as_str(), "--token-file", token_path])
        .output()
        .expect("loyalty clients get");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("client_id"), "the error names the field");

    // Real grpcurl (v1.8, reflection v1alpha) sees the services and calls one with the dev token,
    // as the README shows.
    let grpcurl = grpcurl();
    let address = endpoint.trim_start_matches("http://").to_string();
    let listed = Command::new(&grpcurl).args(["-plaintext", &address, "list"]).output().expect("grpcurl list");
    let services = String::from_utf8_lossy(&listed.stdout);
    assert!(
        services.contains("loyalty.client.v1.ClientService") && services.contains("loyalty.card.v1.CardService"),
        "{services}"
    );
    let call = Command::new(&grpcurl)
        .args(["-plaintext", "-H", &format!("authorization: Bearer {}", token.trim())])
        .args(["-d", r#"{"query": "sarunas", "readMask": {"paths": ["full_name", "phone"]}}"#])
        .args([address.as_str(), "loyalty.client.v1.ClientService/ListClients"])
        .output()
        .expect("grpcurl call");
    let reply = String::from_utf8_lossy(&call.stdout);
    assert!(call.status.success() && reply.contains("Šarūnas"), "{reply}{}", String::from_utf8_lossy(&call.stderr));
    assert!(reply.contains("\"phone\"") && !reply.contains("registeredAt"), "only the masked fields: {reply}");

    // SIGTERM drains and exits cleanly.
    let mut child = child.0.take().expect("dev up is running");
    let killed = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().expect("kill");
    assert!(killed.success());
    let exit = tokio::task::spawn_blocking(move || child.wait()).await.expect("join").expect("wait");
    assert!(exit.success(), "dev up exits cleanly after SIGTERM: {exit}");

    let down = Command::new(BIN).args(["dev", "reset", "--data-dir"]).arg(&data_dir).output().expect("reset");
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    assert!(!data_dir.exists());
}
