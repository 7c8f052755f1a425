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
            .args([
                "dev",
                "up",
                "--listen",
                "127.0.0.1:0",
                "--metrics-listen",
                "",
                "--tracking-listen",
                "127.0.0.1:0",
                "--demo",
            ])
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
    let lines = tokio::time::timeout(Duration::from_secs(360), lines)
        .await
        .expect("ready within six minutes (the demo replays two years)")
        .expect("reader");
    assert_eq!(lines.last().map(String::as_str), Some("ready"), "output: {lines:?}");
    let endpoint =
        lines.iter().find_map(|l| l.strip_prefix("endpoint: ")).expect("the endpoint is printed").to_string();
    let token_path = lines.iter().find_map(|l| l.strip_prefix("token: ")).expect("the token path is printed");
    let token = std::fs::read_to_string(token_path).expect("token file");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(token_path).expect("token file").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the dev token is readable by its owner only");
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
    assert_eq!(listed.page.expect("page").total_size, 2020, "the demo clients and the web shop's 20 are there");
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

    // The CLI reaches the same API with the dev token: tables for people, JSON lines for scripts,
    // exit codes by outcome.
    let cli = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .args(["--endpoint", endpoint.as_str(), "--token-file", token_path])
            .output()
            .expect("loyalty runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, text, err) = cli(&["clients", "search", "sarunas", "--limit", "3"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(text.contains("Šarūnas") && text.contains("3 shown of"), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let column = |line: &str, word: &str| line.find(word).map(|b| line[..b].chars().count());
    let email_at = column(lines[0], "email").expect("an email column");
    assert!(lines[1..=3].iter().all(|l| l.chars().nth(email_at - 1) == Some(' ')), "columns line up:\n{text}");
    let (code, json, err) = cli(&["--json", "clients", "search", "sarunas", "--limit", "3"]);
    assert_eq!(code, Some(0), "{err}");
    let objects: Vec<serde_json::Value> =
        json.lines().map(|l| serde_json::from_str(l).expect("a JSON object a line")).collect();
    assert_eq!(objects.len(), 3, "{json}");
    assert!(objects.iter().all(|o| o["fullName"].as_str().is_some_and(|n| n.contains("Šarūnas"))), "{json}");

    let (code, text, err) = cli(&["cards", "list", &found.clients[0].id]);
    assert_eq!(code, Some(0), "{err}");
    assert!(text.contains("1 cards, 1 active") && text.contains("active"), "{text}");
    let (code, text, _) = cli(&["clients", "get", &first.id]);
    assert_eq!(code, Some(0));
    assert!(text.contains("status       member") && text.contains("email"), "statuses and channels in words: {text}");
    let registered = text.lines().find(|l| l.trim_start().starts_with("registered")).expect("the registration time");
    let when = registered.trim_start().trim_start_matches("registered").trim();
    assert!(
        when.len() == 16 && when.as_bytes()[10] == b' ' && when.as_bytes()[13] == b':',
        "a local date and time: {when}"
    );

    let key = format!("cli-test-{}", std::process::id());
    let adjust = ["points", "adjust", &first.id, "25", "--comment", "apology", "--idempotency-key", &key, "--json"];
    let (code, json, err) = cli(&adjust);
    assert_eq!(code, Some(0), "{err}");
    let answer: serde_json::Value = serde_json::from_str(json.trim()).expect("json");
    assert_eq!(
        answer["balance"]["available"].as_str().map(str::to_string),
        Some((balance.available + 25).to_string()),
        "{json}"
    );
    // The same key again is a retry: applied once.
    let (_, again, _) = cli(&adjust);
    let again: serde_json::Value = serde_json::from_str(again.trim()).expect("json");
    assert_eq!(again["balance"]["available"], answer["balance"]["available"], "a retry credits once");
    assert_eq!(again["replayed"], serde_json::Value::Bool(true));

    let (code, text, _) = cli(&["clients", "history", &first.id]);
    assert_eq!(code, Some(0));
    assert!(text.contains("consent by ") && text.contains("\n    channels.sms: "), "history in words: {text}");
    assert!(text.contains("\n    added_by: pos\n"), "enums as words: {text}");
    assert!(!text.contains('{') && !text.contains("utm"), "no raw JSON, no empty values: {text}");

    let (code, _, err) = cli(&["clients", "get", "not-an-id"]);
    assert_eq!(code, Some(3), "bad input: {err}");
    assert!(err.contains("client_id"), "the error names the field: {err}");
    let (code, _, err) = cli(&["--json", "clients", "get", "01900000-0000-7000-8000-000000000000"]);
    assert_eq!(code, Some(4), "not found: {err}");
    let report: serde_json::Value = serde_json::from_str(err.trim()).expect("errors are JSON too");
    assert_eq!(report["code"], "NotFound");
    let expired = Command::new(BIN)
        .args(["clients", "search", "x", "--endpoint", endpoint.as_str()])
        .args(["--token", "not.a.token"])
        .output()
        .expect("loyalty runs");
    assert_eq!(expired.status.code(), Some(5), "not allowed");
    assert!(String::from_utf8_lossy(&expired.stderr).contains("next:"), "says what to do next");

    // Segments: counts by filter text once the read model has followed the feeds, the demo's
    // saved segments, a new one, the catalogue in Lithuanian, a bad filter refused by position.
    // The segment service follows the demo's whole history (clients, then the import's 20):
    // on a loaded 2-core machine it has taken more than 20 s to reach the import.
    let mut everyone = String::new();
    for _ in 0..450 {
        everyone = cli(&["segments", "count"]).1;
        if everyone.starts_with("2020 clients") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(everyone.starts_with("2020 clients (facts as of "), "{everyone}");
    let (code, text, err) = cli(&["segments", "list"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        text.contains("Big spenders") && text.contains("dynamic") && text.contains("purchases.sum >= 100.00"),
        "{text}"
    );
    let create = [
        "--json",
        "segments",
        "create",
        "Kaunas shoppers",
        "--filter",
        r#"client.city = "Kaunas" and purchases.count >= 1"#,
    ];
    let (code, json, err) = cli(&create);
    assert_eq!(code, Some(0), "{err}");
    let created: serde_json::Value = serde_json::from_str(json.trim()).expect("json");
    let id = created["id"].as_str().expect("an id").to_string();
    // The demo's purchases may still be reaching the read model: the count and the listed size
    // agree once it has caught up.
    let listed_size = || {
        let (_, listed, _) = cli(&["--json", "segments", "list"]);
        let rows = listed.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok());
        rows.into_iter().find(|s| s["id"] == id.as_str()).and_then(|s| s["size"].as_str().map(str::to_string))
    };
    let (mut counted, mut listed) = (String::new(), None);
    for _ in 0..50 {
        let (code, text, _) = cli(&["segments", "count", "--segment", &id]);
        assert_eq!(code, Some(0));
        counted = text.split_whitespace().next().unwrap_or_default().to_string();
        listed = listed_size();
        if listed.as_deref() == Some(counted.as_str()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(counted.parse::<i64>().is_ok_and(|n| n > 0), "a count: {counted}");
    assert_eq!(Some(counted), listed, "the segment counts its members: {json}");
    let (code, text, _) = cli(&[
        "segments",
        "clients",
        r#"client.city = "Kaunas""#,
        "--facts",
        "client.city,purchases.count",
        "--limit",
        "3",
    ]);
    assert_eq!(code, Some(0));
    assert!(text.lines().next().is_some_and(|h| h.contains("client.city")) && text.contains("Kaunas"), "{text}");
    let (code, text, _) = cli(&["segments", "facts", "--language", "lt"]);
    assert_eq!(code, Some(0));
    assert!(text.contains("Kortelės numeris"), "labels in the tenant's language: {text}");
    let (code, _, err) = cli(&["segments", "count", "purchases.sum >= banana"]);
    assert_eq!(code, Some(3), "bad input: {err}");
    assert!(err.contains("filter_text"), "names the field: {err}");

    // Campaigns: the demo's draft and templates; a draft without a provider does not start.
    let (code, text, err) = cli(&["campaigns", "list"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(text.contains("Gruodžio naujienos") && text.contains("draft"), "{text}");
    let (code, text, _) = cli(&["campaigns", "templates"]);
    assert_eq!(code, Some(0));
    assert!(text.contains("Mėnesio naujienlaiškis") && text.contains("2 templates"), "{text}");
    // The demo's migration: the web shop's customers, with a report of what was refused.
    let (code, text, _) = cli(&["import", "jobs"]);
    assert_eq!(code, Some(0));
    assert!(
        text.contains("e-parduotuves-klientai.csv") && text.contains("succeeded") && text.contains("3 jobs"),
        "{text}"
    );
    let (_, json, _) = cli(&["--json", "import", "jobs"]);
    let jobs: Vec<serde_json::Value> = json.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let named = |name: &str| jobs.iter().find(|j| j["fileName"] == name).cloned().expect("the demo's job");
    let job = named("e-parduotuves-klientai.csv");
    assert_eq!((job["rowsImported"].as_str(), job["rowsFailed"].as_str()), (Some("20"), Some("2")), "{job}");
    // Then half of them's old cards and points, as the migration's card and balance files.
    for file in ["e-parduotuves-korteles.csv", "e-parduotuves-taskai.csv"] {
        let migrated = named(file);
        assert_eq!(
            (migrated["rowsImported"].as_str(), migrated["kind"].as_str().map(|k| k.starts_with("import_"))),
            (Some("10"), Some(true)),
            "{migrated}"
        );
    }
    let (code, text, _) = cli(&["import", "reports", job["id"].as_str().expect("id")]);
    assert_eq!(code, Some(0));
    assert!(text.contains("Pavardė") && text.contains("Gimimo data") && text.contains("4 rows reported"), "{text}");
    // Everyone out as a spreadsheet-ready CSV, the checksum verified by the CLI.
    let exported = std::env::temp_dir().join(format!("dev-up-export-{}.csv", std::process::id()));
    let (code, text, err) =
        cli(&["export", "clients", exported.to_str().expect("path"), "--columns", "client.first_name,client.city"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(text.contains("2020 clients") && text.contains("checksum verified"), "{text}");
    let csv = std::fs::read_to_string(&exported).expect("the export was written");
    assert_eq!(csv.lines().count(), 2021, "a header and every client");
    let _ = std::fs::remove_file(&exported);
    // The Vilnius clients as a printable list: the extension picks the format.
    let printed = std::env::temp_dir().join(format!("dev-up-export-{}.pdf", std::process::id()));
    let args = [
        "export",
        "clients",
        printed.to_str().expect("path"),
        "--filter",
        "client.city = \"Vilnius\"",
        "--language",
        "lt",
    ];
    let (code, text, err) = cli(&args);
    assert_eq!(code, Some(0), "{err}");
    assert!(text.contains("checksum verified"), "{text}");
    assert!(std::fs::read(&printed).expect("the PDF was written").starts_with(b"%PDF"));
    let _ = std::fs::remove_file(&printed);
    // The Vilnius clients' loyalty operations of the demo's history, as a workbook.
    let operations = std::env::temp_dir().join(format!("dev-up-operations-{}.xlsx", std::process::id()));
    let args = ["export", "operations", operations.to_str().expect("path"), "--filter", "client.city = \"Vilnius\""];
    let (code, text, err) = cli(&args);
    assert_eq!(code, Some(0), "{err}");
    let written: i64 = text.split_whitespace().nth(2).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(written > 100 && text.contains("operations") && text.contains("checksum verified"), "{text}");
    assert!(std::fs::read(&operations).expect("the workbook was written").starts_with(b"PK"));
    let _ = std::fs::remove_file(&operations);
    let (code, text, _) = cli(&["campaigns", "triggers"]);
    assert_eq!(code, Some(0));
    assert!(
        text.contains("Gimtadienio sveikinimas") && text.contains("birthday") && text.contains("1 triggers"),
        "{text}"
    );
    let (_, json, _) = cli(&["--json", "campaigns", "list"]);
    let draft: serde_json::Value = serde_json::from_str(json.lines().next().expect("a campaign")).expect("json");
    let id = draft["id"].as_str().expect("an id").to_string();
    let (code, _, err) = cli(&["campaigns", "start", &id]);
    assert_eq!(code, Some(6), "no email provider yet: {err}");
    assert!(err.contains("email channel has no provider"), "{err}");
    let (code, text, _) = cli(&["campaigns", "show", &id]);
    assert_eq!(code, Some(0));
    assert!(text.contains("audience     0"), "{text}");

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

    let refused = Command::new(BIN)
        .args(["dev", "reset", "--data-dir"])
        .arg(&data_dir)
        .stdin(Stdio::null())
        .output()
        .expect("reset");
    assert!(!refused.status.success() && data_dir.exists(), "reset asks first");
    let down = Command::new(BIN).args(["dev", "reset", "--yes", "--data-dir"]).arg(&data_dir).output().expect("reset");
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    assert!(!data_dir.exists());
}
