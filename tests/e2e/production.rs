//! The production shape, end to end: `deploy/config/jit.yaml` (no dev server, no sandbox)
//! with only what a cluster would change — addresses, certificates, the identity provider —
//! drives real jit-worker and jit-api processes. Temporal is reached over TLS with a
//! required client certificate (the TLS front the tests start), payloads are encrypted,
//! the worker is versioned, the API serves TLS and takes JWTs only. A ticket is asked for,
//! approved and relinquished over gRPC; the raw history holds no justification or e-mail.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use jit_devstack::{ManagedChild, TestPki, TlsProxy, free_port};
use jit_proto::v1 as pb;
use jit_proto::v1::ticket_service_client::TicketServiceClient;
use serde_yaml_ng::Value;
use tonic::transport::Channel;

use crate::api::{as_user, create_msg, fixture, jwks_server, token, wait_status};
use crate::support::{DEFAULT_POLICY, TestApp};

const T: Duration = Duration::from_secs(60);
const KEY: &str = "prod-1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const ISS: &str = "https://idp.test/";

/// Sets `path` (dotted) in a YAML mapping.
fn set(doc: &mut Value, path: &str, v: Value) {
    let mut at = doc;
    let keys: Vec<&str> = path.split('.').collect();
    for k in &keys[..keys.len() - 1] {
        at = at.get_mut(*k).unwrap_or_else(|| panic!("{path}: no {k}"));
    }
    let m = at.as_mapping_mut().expect("a mapping");
    m.insert(Value::from(keys[keys.len() - 1]), v);
}

fn s(p: &Path) -> Value {
    Value::from(p.display().to_string())
}

async fn grpc(port: u16, ca: &Path) -> TicketServiceClient<Channel> {
    let channel = Channel::from_shared(format!("https://localhost:{port}"))
        .unwrap()
        .tls_config(
            tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(
                    std::fs::read(ca).unwrap(),
                ))
                .domain_name("localhost"),
        )
        .unwrap()
        .connect()
        .await
        .expect("the API over TLS");
    TicketServiceClient::new(channel)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_production_config_runs_a_ticket_over_mtls_with_the_codec_and_jwts() {
    let mut app = TestApp::with_policy("prod", DEFAULT_POLICY).await;
    // The harness's plain-text worker must not take this queue's work.
    app.kill_worker();
    let stack = app.stack;
    let dir = stack.logs.join(format!("prod-{}", app.task_queue));
    std::fs::create_dir_all(&dir).unwrap();
    let pki = TestPki::generate(&dir.join("pki")).expect("a test PKI");
    let upstream = stack
        .temporal_address
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let front = TlsProxy::start(&pki, upstream)
        .await
        .expect("the mTLS front");
    let jwk: serde_json::Value = serde_json::from_str(&fixture("jwt-test-key.jwk.json")).unwrap();
    let jwks = jwks_server(serde_json::json!({ "keys": [jwk] })).await;
    std::fs::write(dir.join("codec-keys"), format!("{KEY}\n")).unwrap();
    std::fs::copy(&app.policy_file, dir.join("policy.yaml")).unwrap();

    // deploy/config/jit.yaml, with what a cluster would put there.
    let text =
        std::fs::read_to_string(jit_devstack::repo_root().join("deploy/config/jit.yaml")).unwrap();
    let mut cfg: Value = serde_yaml_ng::from_str(&text).unwrap();
    assert!(cfg.get("sandbox").is_none() && cfg["temporal"].get("dev_server").is_none());
    let (grpc_port, http_port, health_port) = (
        free_port().unwrap(),
        free_port().unwrap(),
        free_port().unwrap(),
    );
    let deployment = format!("jit-prod-{}", std::process::id());
    for (path, v) in [
        (
            "temporal.address",
            Value::from(format!("127.0.0.1:{}", front.addr.port())),
        ),
        ("temporal.namespace", Value::from(stack.namespace.clone())),
        ("temporal.tls.ca", s(&pki.ca)),
        ("temporal.tls.cert", s(&pki.client_cert)),
        ("temporal.tls.key", s(&pki.client_key)),
        ("temporal.tls.server_name", Value::from("localhost")),
        ("api.ip", Value::from("127.0.0.1")),
        ("api.port", Value::from(grpc_port)),
        ("api.http_port", Value::from(http_port)),
        ("api.metrics", Value::from("off")),
        ("api.jwt.issuer", Value::from(ISS)),
        ("api.jwt.jwks_url", Value::from(jwks.clone())),
        ("api.tls.cert", s(&pki.server_cert)),
        ("api.tls.key", s(&pki.server_key)),
        ("worker.task_queue", Value::from(app.task_queue.clone())),
        ("worker.metrics", Value::from("off")),
        (
            "worker.health",
            Value::from(format!("127.0.0.1:{health_port}")),
        ),
        ("worker.deployment.name", Value::from(deployment.clone())),
        (
            "worker.reconcile.permission_sets",
            Value::Sequence(Vec::new()),
        ),
    ] {
        set(&mut cfg, path, v);
    }
    let config = dir.join("jit.yaml");
    std::fs::write(&config, serde_yaml_ng::to_string(&cfg).unwrap()).unwrap();

    // The processes get the secrets from files and, as in a pod, nothing else of ours but
    // where AWS is (the sandbox behind the fault proxy).
    let command = |bin: &str| {
        let mut c = Command::new(bin);
        for k in jit_config::SDK_VARS {
            c.env_remove(k);
        }
        c.arg("--config")
            .arg(&config)
            .env("JIT_CODEC_KEYS_FILE", dir.join("codec-keys"))
            .env("JIT_AWS_ENDPOINT_URL", stack.proxy.url())
            .env("JIT_AWS_REGION", &stack.region)
            .env("JIT_BUILD_ID", "v1")
            .env("RUST_LOG", "info")
            .env_remove("AWS_ACCESS_KEY_ID");
        c
    };
    // `cargo xtask test` hands over the binaries `cargo xtask dist --debug` made (the dist
    // layout); a plain `cargo test` runs the test package's builds of the same code.
    let bin = |dist_name: &str, own: &str| match std::env::var_os("JIT_DIST_DIR") {
        Some(d) => {
            let p = std::path::PathBuf::from(d).join(dist_name);
            assert!(p.exists(), "JIT_DIST_DIR has no {dist_name}");
            p.display().to_string()
        }
        None => own.to_owned(),
    };
    let worker_bin = bin("jit-worker", env!("CARGO_BIN_EXE_e2e-worker"));
    let api_bin = bin("jit-api", env!("CARGO_BIN_EXE_e2e-api"));
    eprintln!("production-shaped run of {worker_bin} and {api_bin}");
    let _worker = ManagedChild::spawn(
        "worker",
        command(&worker_bin),
        &dir.join("worker.log"),
        true,
    )
    .unwrap();
    let mut api =
        ManagedChild::spawn("api", command(&api_bin), &dir.join("api.log"), true).unwrap();
    crate::versioning::make_current(&app, &deployment, "v1");
    let deadline = Instant::now() + T;
    while tokio::net::TcpStream::connect(("127.0.0.1", grpc_port))
        .await
        .is_err()
    {
        assert!(
            api.exited().is_none() && Instant::now() < deadline,
            "jit-api did not start:\n{}",
            api.log_tail(20)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Ready: polling, and Temporal answers through the mTLS front.
    let ready = format!("http://127.0.0.1:{health_port}/readyz");
    let deadline = Instant::now() + T;
    while !reqwest::get(&ready)
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "the worker never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let c = grpc(grpc_port, &pki.ca).await;
    let jwt = |sub: &str| token("jwt-test-key", "jwt-test-key", ISS, "jit", sub, 300);
    let refused = c
        .clone()
        .get_caller(as_user("dev:bob", pb::GetCallerRequest {}))
        .await
        .expect_err("no dev tokens in production");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    let justification = "prod drill PROD-4242 for the payments outage";
    let mut msg = create_msg(&app, "prod-1", 1);
    msg.justification = justification.into();
    let t = c
        .clone()
        .create_ticket(as_user(&jwt("bob"), msg))
        .await
        .expect("bob asks")
        .into_inner()
        .ticket
        .unwrap();
    let id = t.ticket_id.clone();
    wait_status(&c, &jwt("bob"), &id, pb::TicketStatus::PendingApproval).await;
    c.clone()
        .approve_ticket(as_user(
            &jwt("carol"),
            pb::ApproveTicketRequest {
                ticket_id: id.clone(),
                comment: "ok".into(),
            },
        ))
        .await
        .expect("carol approves");
    wait_status(&c, &jwt("bob"), &id, pb::TicketStatus::Active).await;
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 1);
    c.clone()
        .relinquish_ticket(as_user(
            &jwt("bob"),
            pb::RelinquishTicketRequest {
                ticket_id: id.clone(),
                reason: "done".into(),
            },
        ))
        .await
        .expect("bob is done");
    wait_status(&c, &jwt("bob"), &id, pb::TicketStatus::Relinquished).await;
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 0, "revoked");

    // The raw history, read past the front with no codec: no plaintext PII.
    let raw = jit_devstack::history::show_json(
        &stack.tools.temporal,
        &stack.temporal_address,
        &stack.namespace,
        &format!("ticket-{id}"),
        &[],
    )
    .expect("temporal workflow show");
    let pii = [justification, "bob@example.com", "carol@example.com"];
    let found = jit_devstack::history::readable(&raw, &pii);
    assert!(found.is_empty(), "plaintext in the raw history: {found:?}");
    assert_eq!(
        jit_devstack::history::readable(&raw, &["binary/encrypted"]).len(),
        1,
        "payloads are encrypted"
    );
    // An admin reads it through the API's codec server (the UI's and the CLI's way).
    let decoded = jit_devstack::history::show_json(
        &stack.tools.temporal,
        &stack.temporal_address,
        &stack.namespace,
        &format!("ticket-{id}"),
        &[
            "--codec-endpoint",
            &format!("http://127.0.0.1:{http_port}/codec"),
            "--codec-auth",
            &format!("Bearer {}", jwt("erin")),
        ],
    )
    .expect("temporal workflow show --codec-endpoint");
    assert_eq!(
        jit_devstack::history::readable(&decoded, &[justification]),
        vec![justification.to_owned()]
    );
    let log = std::fs::read_to_string(dir.join("worker.log")).unwrap();
    assert!(
        log.contains(&format!("{deployment}.v1 (auto-upgrade)"))
            && log.contains(&format!("127.0.0.1:{}", front.addr.port())),
        "{log}"
    );
}
