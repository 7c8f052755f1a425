//! The Helm chart and the kustomize manifests render, lint clean, and give every enabled service
//! what ops teams rely on. Needs `helm` (v4) and `kubectl`: on PATH or in .tools/bin, where
//! `.ci/ensure-tools` (run by `make test`) puts them.
use serde_yaml::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The services that exist today; each must be fully operable in every rendering.
const SERVICES: [&str; 6] = ["client", "card", "ledger", "segment", "messaging", "importexport"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

fn tool(name: &str) -> PathBuf {
    let local = root().join(".tools/bin").join(name);
    if local.exists() {
        return local;
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|c| c.exists()))
        .unwrap_or_default();
    on_path.unwrap_or_else(|| panic!("{name} is not installed: run `bash .ci/ensure-tools` (make test does)"))
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(tool(program)).args(args).current_dir(root()).output().expect("runs");
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn objects(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|doc| Value::deserialize(doc).expect("valid YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

use serde::Deserialize as _;

fn template(extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["template", "loyalty", "helm/loyalty-suite"];
    args.extend_from_slice(extra);
    objects(&run("helm", &args))
}

fn kind(o: &Value) -> &str {
    o["kind"].as_str().unwrap_or_default()
}

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or_default()
}

fn of<'a>(objects: &'a [Value], k: &str, n: &str) -> &'a Value {
    objects.iter().find(|o| kind(o) == k && name(o) == n).unwrap_or_else(|| {
        panic!("no {k} {n} among {:?}", objects.iter().map(|o| (kind(o), name(o))).collect::<Vec<_>>())
    })
}

/// What every enabled service must have, in any rendering.
fn assert_operable(objects: &[Value], service: &str, object_name: &str) {
    let deployment = of(objects, "Deployment", object_name);
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        assert!(container[probe]["grpc"]["port"].as_u64().is_some(), "{service}: {probe} is a gRPC probe");
    }
    assert!(container["readinessProbe"]["grpc"]["service"].as_str().is_some_and(|s| s.starts_with("loyalty.")));
    assert!(container["resources"]["requests"]["cpu"].as_str().is_some(), "{service}: CPU request");
    assert!(container["resources"]["limits"]["memory"].as_str().is_some(), "{service}: memory limit");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], Value::Bool(true), "{service}: non-root");
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], Value::Bool(true));
    assert_eq!(container["securityContext"]["allowPrivilegeEscalation"], Value::Bool(false));
    let grace = pod["terminationGracePeriodSeconds"].as_u64().expect("grace period");
    let drain_ms: u64 = container["env"]
        .as_sequence()
        .expect("env")
        .iter()
        .find(|e| e["name"] == "LOYALTY__SERVER__DRAIN_TIMEOUT_MS")
        .and_then(|e| e["value"].as_str())
        .and_then(|v| v.parse().ok())
        .expect("drain timeout env");
    let pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"].as_u64().expect("preStop sleep");
    assert!(grace > drain_ms / 1000 + pre_stop, "{service}: grace {grace}s covers preStop {pre_stop}s + drain");
    assert!(pod["topologySpreadConstraints"].as_sequence().is_some_and(|t| !t.is_empty()));
    let svc = of(objects, "Service", object_name);
    let ports: Vec<&str> =
        svc["spec"]["ports"].as_sequence().expect("ports").iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(&ports[..2], ["grpc", "metrics"], "{service}: the gRPC and metrics ports");
    assert!(ports[2..].iter().all(|p| *p == "http"), "{service}: {ports:?}");
    of(objects, "PodDisruptionBudget", object_name);
    of(objects, "ServiceAccount", object_name);
    of(objects, "ConfigMap", object_name);
    let policy = of(objects, "NetworkPolicy", object_name);
    let rules = policy["spec"]["ingress"].as_sequence().map(|i| i.len()).unwrap_or(0);
    assert_eq!(rules, ports.len(), "{service}: a NetworkPolicy rule per port");
    let job = of(objects, "Job", &format!("{object_name}-migrate"));
    assert_eq!(job["spec"]["template"]["spec"]["containers"][0]["args"][0], "migrate");
    // Only public keys and the service's own identity: no shared signing secret anywhere.
    assert_eq!(env(container, "LOYALTY__AUTH__JWKS_FILE").as_deref(), Some("/etc/loyalty-auth/jwks.json"));
    assert!(
        env(container, "LOYALTY__AUTH__ISSUER").is_some_and(|i| !i.is_empty()),
        "{service}: the issuer is required"
    );
    assert_eq!(env(container, "LOYALTY__IDENTITY__TOKEN_FILE").as_deref(), Some("/etc/loyalty-identity/token"));
    assert!(env(container, "LOYALTY__AUTH__JWT_SECRET").is_none(), "{service}: no HS256 secret");
    let volumes = pod["volumes"].as_sequence().expect("volumes");
    let identity = volumes.iter().find(|v| v["name"] == "identity").expect("the identity volume");
    assert_eq!(identity["secret"]["secretName"], format!("{object_name}-identity"));
    assert!(volumes.iter().any(|v| v["name"] == "jwks" && v["configMap"]["name"] == "loyalty-jwks"));
}

/// The value of env variable `name` of a container, when it is set by value.
fn env(container: &Value, name: &str) -> Option<String> {
    container["env"]
        .as_sequence()?
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str())
        .map(String::from)
}

#[test]
fn tls_to_peers_and_postgres_is_a_value_away_and_probes_still_answer() {
    let objects = template(&["--set", "global.tls.grpc.enabled=true", "--set", "global.tls.database.mode=verify-full"]);
    for service in SERVICES {
        let name = format!("loyalty-{service}");
        assert_operable(&objects, service, &name);
        let pod = &of(&objects, "Deployment", &name)["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        assert_eq!(env(container, "LOYALTY__SERVER__TLS_CERT_FILE").as_deref(), Some("/etc/loyalty-tls/tls.crt"));
        assert_eq!(env(container, "LOYALTY__DATABASE__TLS_MODE").as_deref(), Some("verify-full"));
        assert_eq!(env(container, "LOYALTY__DATABASE__CA_FILE").as_deref(), Some("/etc/loyalty-db-ca/ca.crt"));
        assert_eq!(
            container["readinessProbe"]["grpc"]["port"], 50052,
            "{service}: probes ask the plaintext health port"
        );
        assert_eq!(env(container, "LOYALTY__SERVER__HEALTH_LISTEN").as_deref(), Some("0.0.0.0:50052"));
        let job = &of(&objects, "Job", &format!("{name}-migrate"))["spec"]["template"]["spec"];
        assert!(
            job["volumes"].as_sequence().is_some_and(|v| v.iter().any(|v| v["name"] == "db-ca")),
            "{service}: migrations verify Postgres too"
        );
    }
    let card = &of(&objects, "Deployment", "loyalty-card")["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(env(card, "LOYALTY__PEERS__CLIENT").as_deref(), Some("https://loyalty-client:50051"));
    let wrong = Command::new(tool("helm"))
        .args(["template", "loyalty", "helm/loyalty-suite", "--set", "global.tls.database.mode=prefer"])
        .current_dir(root())
        .output()
        .expect("runs");
    assert!(!wrong.status.success(), "a TLS mode the services refuse is refused by the chart");
}

#[test]
fn the_chart_lints_clean_with_default_and_production_values() {
    run("helm", &["lint", "--strict", "helm/loyalty-suite"]);
    run("helm", &["lint", "--strict", "helm/loyalty-suite", "-f", "helm/loyalty-suite/ci/production-values.yaml"]);
}

#[test]
fn every_enabled_service_has_probes_resources_budgets_scaling_policy_and_runs_as_non_root() {
    let objects = template(&[]);
    for service in SERVICES {
        assert_operable(&objects, service, &format!("loyalty-{service}"));
        of(&objects, "HorizontalPodAutoscaler", &format!("loyalty-{service}"));
    }
    let card = &of(&objects, "Deployment", "loyalty-card")["spec"]["template"]["spec"]["containers"][0]["env"];
    let peer =
        card.as_sequence().expect("env").iter().find(|e| e["name"] == "LOYALTY__PEERS__CLIENT").expect("peer env");
    assert_eq!(
        peer["value"], "http://loyalty-client:50051",
        "the card service reaches the client service by its Service"
    );
    let job = of(&objects, "Job", "loyalty-client-migrate");
    assert!(job["metadata"]["annotations"]["helm.sh/hook"].as_str().is_some_and(|h| h.contains("pre-upgrade")));
    assert!(!objects.iter().any(|o| kind(o) == "ServiceMonitor"), "ServiceMonitor is opt-in");
}

#[test]
fn messaging_serves_its_public_links_port_and_reads_its_sealing_key_from_a_secret() {
    let objects = template(&[]);
    let service = of(&objects, "Service", "loyalty-messaging");
    let ports: Vec<_> =
        service["spec"]["ports"].as_sequence().expect("ports").iter().map(|p| p["name"].clone()).collect();
    assert!(ports.iter().any(|p| p == "http"), "the tracking port is on the Service: {ports:?}");
    let policy = of(&objects, "NetworkPolicy", "loyalty-messaging");
    let rules = policy["spec"]["ingress"].as_sequence().expect("rules");
    let public = rules.iter().find(|r| r["ports"][0]["port"] == "http").expect("a rule for the links");
    assert!(public.get("from").is_none(), "recipients click from anywhere: {public:?}");
    let client = of(&objects, "Service", "loyalty-client");
    assert_eq!(client["spec"]["ports"].as_sequence().expect("ports").len(), 2, "only messaging has the port");
    let env = &of(&objects, "Deployment", "loyalty-messaging")["spec"]["template"]["spec"]["containers"][0]["env"];
    let key = env
        .as_sequence()
        .expect("env")
        .iter()
        .find(|e| e["name"] == "LOYALTY_MESSAGING__MESSAGING__SECRETS_KEY")
        .expect("the sealing key");
    assert_eq!(key["valueFrom"]["secretKeyRef"]["name"], "loyalty-messaging-keys");
}

#[test]
fn import_export_writes_its_files_to_a_volume_of_their_size() {
    let objects = template(&[]);
    let tmp_of = |name: &str| {
        let spec = &of(&objects, "Deployment", name)["spec"]["template"]["spec"];
        let volumes = spec["volumes"].as_sequence().expect("volumes").clone();
        volumes.into_iter().find(|v| v["name"] == "tmp").expect("a tmp volume")["emptyDir"]["sizeLimit"].clone()
    };
    assert_eq!(tmp_of("loyalty-importexport"), "4Gi", "an XLSX of a million rows needs ~250 MB of temp files");
    assert_eq!(tmp_of("loyalty-client"), "64Mi");
    let env = &of(&objects, "Deployment", "loyalty-importexport")["spec"]["template"]["spec"]["containers"][0]["env"];
    let dir =
        env.as_sequence().expect("env").iter().find(|e| e["name"] == "LOYALTY_IMPORTEXPORT__IMPORTEXPORT__TEMP_DIR");
    assert_eq!(dir.expect("the temp dir")["value"], "/tmp/exports", "inside the volume");
}

#[test]
fn production_values_render_pinned_images_monitors_and_larger_budgets() {
    let objects = template(&["-f", "helm/loyalty-suite/ci/production-values.yaml"]);
    for service in SERVICES {
        assert_operable(&objects, service, &format!("loyalty-{service}"));
    }
    assert_eq!(
        of(&objects, "HorizontalPodAutoscaler", "loyalty-card")["spec"]["minReplicas"],
        4,
        "each service scales alone"
    );
    let deployment = of(&objects, "Deployment", "loyalty-client");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.internal/loyalty/loyalty-client:0.1.0"
    );
    assert_eq!(of(&objects, "HorizontalPodAutoscaler", "loyalty-client")["spec"]["maxReplicas"], 30);
    assert_eq!(of(&objects, "PodDisruptionBudget", "loyalty-client")["spec"]["minAvailable"], 2);
    of(&objects, "ServiceMonitor", "loyalty-client");
    let config = of(&objects, "ConfigMap", "loyalty-client")["data"]["config.toml"].as_str().expect("config");
    assert!(config.contains("[server]") && config.contains("max_concurrent_requests = 1024"), "{config}");
}

#[test]
fn a_service_can_run_its_own_image() {
    let objects = template(&[
        "--set",
        "services.card.image.repository=mirror.local/card",
        "--set",
        "services.card.image.tag=hotfix-7",
    ]);
    let image =
        |name: &str| of(&objects, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]["image"].clone();
    assert_eq!(image("loyalty-card"), "mirror.local/card:hotfix-7");
    assert_eq!(
        image("loyalty-client"),
        "ghcr.io/loyalty-suite/loyalty-client:0.1.0",
        "the others keep the global image"
    );
}

#[test]
fn disabling_a_service_removes_every_object_of_it() {
    let objects = template(&["--set", "services.client.enabled=false"]);
    assert_operable(&objects, "card", "loyalty-card");
    let card_env =
        of(&objects, "Deployment", "loyalty-card")["spec"]["template"]["spec"]["containers"][0]["env"].clone();
    assert!(!card_env.as_sequence().expect("env").iter().any(|e| e["name"] == "LOYALTY__PEERS__CLIENT"));
    let left: Vec<_> = objects
        .iter()
        .filter(|o| name(o).contains("client") || o["metadata"]["labels"]["app.kubernetes.io/name"] == "client")
        .map(|o| (kind(o).to_string(), name(o).to_string()))
        .collect();
    assert!(left.is_empty(), "objects of a disabled service remain: {left:?}");
}

#[test]
fn values_that_break_the_schema_are_refused() {
    let out = Command::new(tool("helm"))
        .args(["template", "loyalty", "helm/loyalty-suite", "--set", "serviceDefaults.replicas=0"])
        .current_dir(root())
        .output()
        .expect("runs");
    assert!(!out.status.success(), "replicas=0 must be refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("replicas"));
}

#[test]
fn the_kustomize_base_is_the_chart_rendered_with_defaults() {
    let committed = std::fs::read_to_string(root().join("k8s/base/loyalty-suite.yaml")).expect("base");
    let fresh = run("helm", &["template", "loyalty", "helm/loyalty-suite"]);
    assert_eq!(objects(&committed), objects(&fresh), "k8s/base is stale: run .ci/render-k8s");
}

#[test]
fn both_kustomize_overlays_build_operable_objects() {
    let dev = objects(&run("kubectl", &["kustomize", "k8s/overlays/dev"]));
    for service in SERVICES {
        assert_operable(&dev, service, &format!("loyalty-{service}"));
    }
    assert!(!dev.iter().any(|o| kind(o) == "HorizontalPodAutoscaler"), "dev runs without autoscaling");
    assert_eq!(of(&dev, "Deployment", "loyalty-client")["spec"]["replicas"], 1);
    assert!(dev.iter().all(|o| o["metadata"]["namespace"] == "loyalty-dev"));

    let prod = objects(&run("kubectl", &["kustomize", "k8s/overlays/prod"]));
    for service in SERVICES {
        assert_operable(&prod, service, &format!("loyalty-{service}"));
    }
    assert_eq!(of(&prod, "HorizontalPodAutoscaler", "loyalty-client")["spec"]["minReplicas"], 3);
    let image = &of(&prod, "Deployment", "loyalty-client")["spec"]["template"]["spec"]["containers"][0]["image"];
    assert_eq!(image, "registry.example.internal/loyalty/loyalty-client:0.1.0");
}

#[test]
fn the_dockerfile_lints_clean() {
    run("hadolint", &["Dockerfile"]);
}
