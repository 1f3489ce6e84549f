//! Temporal over TLS with client certificates required (the dev server behind an mTLS front):
//! the right certificate works — a worker runs a ticket through it — and a missing or
//! foreign one is refused with an error that names the settings to check.

use std::time::Duration;

use jit_devstack::{TestPki, TlsProxy};
use jit_domain::Phase;

use crate::support::{DEFAULT_POLICY, TestApp};

const T: Duration = Duration::from_secs(60);

/// TLS with the test CA and no client certificate.
fn no_cert_tls(pki: &TestPki) -> jit_temporal::Tls {
    jit_temporal::Tls {
        ca: Some(std::fs::read(&pki.ca).expect("pem")),
        client: None,
        server_name: Some("localhost".into()),
    }
}

fn target(addr: &str, tls: Option<jit_temporal::Tls>) -> jit_temporal::Target {
    let mut t = jit_temporal::Target::plain(addr, "default", "jit-tls-test", Duration::ZERO);
    t.tls = tls;
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_reaches_temporal_over_mtls_and_a_wrong_certificate_is_named() {
    let stack = jit_devstack::TestStack::shared();
    let pki = TestPki::generate(&stack.logs.join("pki-mtls")).expect("a test PKI");
    let upstream = stack
        .temporal_address
        .trim_start_matches("http://")
        .parse()
        .expect("the dev server's address");
    let proxy = TlsProxy::start(&pki, upstream)
        .await
        .expect("the TLS front");
    let front = format!("https://127.0.0.1:{}", proxy.addr.port());
    let read = |p: &std::path::Path| std::fs::read(p).expect("pem");
    let tls = |cert: &std::path::Path, key: &std::path::Path| jit_temporal::Tls {
        ca: Some(read(&pki.ca)),
        client: Some((read(cert), read(key))),
        server_name: Some("localhost".into()),
    };

    // The right certificate: a client gets through.
    let client = jit_temporal::connect(&target(
        &front,
        Some(tls(&pki.client_cert, &pki.client_key)),
    ))
    .await
    .expect("the CA's client certificate is accepted");
    client
        .count_workflows("WorkflowType = 'TicketWorkflow'", Default::default())
        .await
        .expect("a call through the TLS front");

    // No client certificate, or one from another CA: refused, naming what to check.
    let mut no_cert = tls(&pki.client_cert, &pki.client_key);
    no_cert.client = None;
    let e = jit_temporal::connect(&target(&front, Some(no_cert)))
        .await
        .expect_err("no client certificate")
        .to_string();
    assert!(
        e.contains(&front) && e.contains("no client certificate (JIT_TEMPORAL_TLS_CERT)"),
        "{e}"
    );
    let e = jit_temporal::connect(&target(
        &front,
        Some(tls(&pki.stranger_cert, &pki.stranger_key)),
    ))
    .await
    .expect_err("a foreign client certificate")
    .to_string();
    assert!(
        e.contains("client certificate JIT_TEMPORAL_TLS_CERT"),
        "{e}"
    );
    eprintln!("a foreign client certificate: {e}");
    // Trusting another CA, the front's certificate is refused: the error names the CA
    // setting. An expired client certificate is refused like a foreign one.
    let mut wrong_ca = tls(&pki.client_cert, &pki.client_key);
    wrong_ca.ca = Some(read(&pki.other_ca));
    let e = jit_temporal::connect(&target(&front, Some(wrong_ca)))
        .await
        .expect_err("the front's certificate is not signed by that CA")
        .to_string();
    assert!(e.contains("TLS with JIT_TEMPORAL_TLS_CA"), "{e}");
    eprintln!("a wrong CA: {e}");
    let e = jit_temporal::connect(&target(
        &front,
        Some(tls(&pki.expired_cert, &pki.expired_key)),
    ))
    .await
    .expect_err("an expired client certificate")
    .to_string();
    assert!(
        e.contains("client certificate JIT_TEMPORAL_TLS_CERT"),
        "{e}"
    );
    eprintln!("an expired client certificate: {e}");
    // An API key is no client certificate: refused, and the error says a key was sent.
    let mut keyed = target(&front, Some(no_cert_tls(&pki)));
    keyed.api_key = Some("k-123".into());
    let e = jit_temporal::connect(&keyed)
        .await
        .expect_err("an API key where a client certificate is required")
        .to_string();
    assert!(e.contains("API key JIT_TEMPORAL_API_KEY"), "{e}");
    // A namespace the server does not have is named as such.
    let mut lost = target(&front, Some(tls(&pki.client_cert, &pki.client_key)));
    lost.namespace = "no-such-namespace".into();
    let e = jit_temporal::connect(&lost)
        .await
        .expect_err("an unknown namespace")
        .to_string();
    assert!(
        e.contains("no namespace \"no-such-namespace\" (JIT_TEMPORAL_NAMESPACE"),
        "{e}"
    );
    // Plain text to a TLS frontend: refused too, saying it was plain.
    let e = jit_temporal::connect(&target(&front.replace("https", "http"), None))
        .await
        .expect_err("plain text")
        .to_string();
    assert!(e.contains("plain text; set JIT_TEMPORAL_TLS_*"), "{e}");

    // A worker configured by JIT_TEMPORAL_TLS_* runs a ticket through the front.
    let s = |p: &std::path::Path| p.display().to_string();
    let app = TestApp::with_policy_env(
        "mtls",
        DEFAULT_POLICY,
        vec![
            ("JIT_TEMPORAL_ADDRESS".into(), front.clone()),
            ("JIT_TEMPORAL_TLS_CA".into(), s(&pki.ca)),
            ("JIT_TEMPORAL_TLS_CERT".into(), s(&pki.client_cert)),
            ("JIT_TEMPORAL_TLS_KEY".into(), s(&pki.client_key)),
            ("JIT_TEMPORAL_TLS_SERVER_NAME".into(), "localhost".into()),
        ],
    )
    .await;
    let req = app.request("mtls", "bob", "bob");
    let h = app.start(&req).await;
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.approve(&h, "carol").await.expect("carol approves");
    app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 1);
    assert!(
        app.worker_log_text().contains(&front),
        "the worker says it runs against the TLS front:\n{}",
        app.worker_log_text()
    );
    drop(app);

    // A worker configured the SDK's way — a temporal.toml profile naming the client
    // certificate, TEMPORAL_* variables for the address and the CA's bytes — does the same.
    let dir = stack.logs.join("sdk-profile");
    std::fs::create_dir_all(&dir).expect("profile folder");
    let toml = dir.join("temporal.toml");
    std::fs::write(
        &toml,
        format!(
            "[profile.prod]\nnamespace = \"default\"\n[profile.prod.tls]\nclient_cert_path = {:?}\nclient_key_path = {:?}\nserver_name = \"localhost\"\n",
            s(&pki.client_cert),
            s(&pki.client_key)
        ),
    )
    .expect("temporal.toml");
    let ca = String::from_utf8(read(&pki.ca)).expect("PEM is text");
    let port = proxy.addr.port().to_string();
    let app = TestApp::with_policy_env(
        "mtls-sdk",
        DEFAULT_POLICY,
        vec![
            // The harness's own JIT_TEMPORAL_ADDRESS (the plain dev server) would win.
            ("JIT_TEMPORAL_ADDRESS".into(), String::new()),
            ("TEMPORAL_ADDRESS".into(), format!("127.0.0.1:{port}")),
            ("TEMPORAL_CONFIG_FILE".into(), s(&toml)),
            ("TEMPORAL_PROFILE".into(), "prod".into()),
            ("TEMPORAL_TLS_SERVER_CA_CERT_DATA".into(), ca),
        ],
    )
    .await;
    let req = app.request("mtls-sdk", "bob", "bob");
    let h = app.start(&req).await;
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    app.approve(&h, "carol").await.expect("carol approves");
    app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    assert!(
        app.worker_log_text().contains(&format!("127.0.0.1:{port}")),
        "the worker runs against the TLS front:\n{}",
        app.worker_log_text()
    );
    drop(proxy);
}
