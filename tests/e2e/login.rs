//! `jit login` against a real OpenID provider (npm `oidc-provider`, started by the test on a
//! free loopback port): the device flow with a person confirming the code in the provider's
//! pages, the token saved with 0600, the CLI driving a ticket over TLS with it, and the
//! token refreshed when it expires.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use jit_domain::Phase;

use crate::api::ApiServer;
use crate::support::TestApp;

const T: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jit_login_uses_the_device_flow_and_the_cli_drives_a_ticket_over_tls() {
    let app = TestApp::new("login").await;
    let root = jit_devstack::repo_root();
    let dir = app.stack.logs.join(format!("login-{}", app.task_queue));
    std::fs::create_dir_all(&dir).unwrap();
    // Access tokens live 3 s: every later command finds it (nearly) expired and refreshes.
    let idp =
        jit_devstack::OidcProvider::start(&root, Duration::from_secs(3), &dir.join("idp.log"))
            .expect("the OpenID provider");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.key_pair.serialize_pem()).unwrap();
    let api = ApiServer::configured(&app, |s| {
        s.dev_auth = false;
        s.jwt = Some(jit_config::JwtConfig {
            issuer: idp.issuer.clone(),
            audience: "jit".into(),
            jwks_url: idp.jwks_url.clone(),
        });
        s.tls = Some(jit_config::TlsConfig {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        });
    })
    .await;
    let server = format!("https://localhost:{}", api.addr.port());
    let home = dir.join("config");
    let jit = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_e2e-jit"));
        c.args(args)
            .env("XDG_CONFIG_HOME", &home)
            .env("JIT_CLI_CONFIG", "/nonexistent")
            .env("JIT_SERVER", &server)
            .env("JIT_CA_FILE", dir.join("cert.pem"))
            .env_remove("JIT_TOKEN");
        c
    };
    let run = |args: &[&str]| {
        let o = jit(args).output().unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };

    // Not logged in: refused, saying why.
    let (code, _, err) = run(&["whoami"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("unauthenticated") || err.contains("token"),
        "{err}"
    );

    // jit login: the CLI prints where to go; "bob" confirms in the provider's pages.
    let mut login = jit(&["login", "--issuer", &idp.issuer])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(login.stderr.take().unwrap()).lines();
    let first = lines.next().expect("a line").unwrap();
    let url = first
        .strip_prefix("To sign in, open ")
        .unwrap_or_else(|| panic!("{first}"))
        .trim()
        .to_owned();
    assert!(url.starts_with(&format!("{}/device", idp.issuer)), "{url}");
    let approved = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/oidc/approve_device.py"))
        .args([&url, "bob"])
        .output()
        .unwrap();
    assert!(
        approved.status.success(),
        "{}",
        String::from_utf8_lossy(&approved.stderr)
    );
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = login.wait().unwrap();
    assert!(status.success(), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.starts_with("logged in as bob")),
        "{rest:?}"
    );
    let saved = home.join("jit/token.json");
    let mode = std::fs::metadata(&saved).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the token is the user's only");
    let folder = std::fs::metadata(home.join("jit"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(folder, 0o700);
    let token_of = || {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
        v["access_token"].as_str().unwrap().to_owned()
    };
    let first_token = token_of();

    // The saved login drives a ticket over TLS; the access token expired meanwhile and was
    // refreshed.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (code, out, err) = run(&["whoami"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("bob (by "), "{out}");
    assert_ne!(token_of(), first_token, "refreshed");
    let account = app.account.to_string();
    let (code, out, err) = run(&[
        "request",
        "--account",
        &account,
        "--permission-set",
        "ReadOnly",
        "--duration",
        "1h",
        "--reason",
        "INC-12: checking the logs",
        "--request-id",
        "login-1",
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let t: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = t["ticket_id"].as_str().unwrap().to_owned();
    let h = app
        .client
        .get_workflow_handle::<jit_contract::ticket::Workflow>(format!("ticket-{id}"));
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.approve(&h, "carol").await.expect("carol approves");
    app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    let (code, out, err) = run(&["done", &id]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(app.outcome(&h, T).await.phase, Phase::Relinquished);
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 0);

    // A wrong issuer is named; logout forgets the token.
    let (code, _, err) = run(&["login", "--issuer", "http://127.0.0.1:9"]);
    assert_ne!(code, 0);
    assert!(err.contains("discovery document"), "{err}");
    let (code, _, err) = run(&["logout"]);
    assert_eq!(code, 0, "{err}");
    assert!(!saved.exists());
}
