//! The gRPC API end to end: a Python client generated from `proto/` alone drives a ticket and
//! every error path; 100 parallel creates from 10 callers (with retries) make 100 tickets;
//! JWTs are checked against a JWKS; services act for users only with a grant; the `jit`
//! CLI covers the lifecycle.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use jiff::Timestamp;
use jit_config::{ApiSettings, JwtConfig};
use jit_domain::Phase;
use jit_proto::v1 as pb;
use jit_proto::v1::ticket_service_client::TicketServiceClient;
use tonic::transport::Channel;

use crate::support::{DEFAULT_POLICY, TestApp};

const T: Duration = Duration::from_secs(60);

/// A jit-api serving this test's task queue and policy, in this process, on a free port.
pub struct ApiServer {
    pub addr: SocketAddr,
    /// The chat endpoints' address, when served.
    pub http: Option<SocketAddr>,
    /// Where `/metrics` is served, when it is.
    pub metrics: Option<SocketAddr>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

impl ApiServer {
    pub async fn start(app: &TestApp, dev_auth: bool, jwt: Option<JwtConfig>) -> ApiServer {
        Self::start_with(app, dev_auth, jwt, None).await
    }

    pub async fn start_with(
        app: &TestApp,
        dev_auth: bool,
        jwt: Option<JwtConfig>,
        tls: Option<jit_config::TlsConfig>,
    ) -> ApiServer {
        Self::configured(app, |s| {
            s.dev_auth = dev_auth;
            s.jwt = jwt;
            s.tls = tls;
        })
        .await
    }

    /// The API with this test's queue and policy, then `adjust`ed.
    pub async fn configured(app: &TestApp, adjust: impl FnOnce(&mut ApiSettings)) -> ApiServer {
        let mut settings = jit_e2e::api_settings(
            &app.stack.temporal_address,
            &app.stack.namespace,
            &app.task_queue,
            &app.policy_file,
        );
        adjust(&mut settings);
        let api = jit_api::Api::build(settings).await.expect("the API starts");
        let addr = api.local_addr().unwrap();
        let http = api.http_addr();
        let metrics = api.metrics_address();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            api.run_until_stopped(async move {
                let _ = stopped.await;
            })
            .await
        });
        ApiServer {
            addr,
            http,
            metrics,
            stop: Some(stop),
        }
    }

    pub async fn client(&self) -> TicketServiceClient<Channel> {
        TicketServiceClient::connect(format!("http://{}", self.addr))
            .await
            .expect("connected to the API")
    }
}

pub(crate) fn as_user<T>(token: &str, msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

/// Polls GetTicket as `bearer` until ticket `id` has status `want`; the ticket then.
pub(crate) async fn wait_status(
    c: &TicketServiceClient<Channel>,
    bearer: &str,
    id: &str,
    want: pb::TicketStatus,
) -> pb::Ticket {
    let deadline = std::time::Instant::now() + T;
    loop {
        let got = c
            .clone()
            .get_ticket(as_user(
                bearer,
                pb::GetTicketRequest {
                    ticket_id: id.into(),
                },
            ))
            .await;
        if let Ok(t) = &got
            && t.get_ref().ticket.as_ref().map(|t| t.status) == Some(want as i32)
        {
            return got.unwrap().into_inner().ticket.unwrap_or_default();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "ticket {id} never became {want:?}: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(crate) fn create_msg(app: &TestApp, request_id: &str, hours: i64) -> pb::CreateTicketRequest {
    jit_e2e::create_request(
        request_id,
        app.account.as_str(),
        "ReadOnly",
        hours * 3600,
        "investigating INC-9",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_client_from_the_proto_alone_drives_a_ticket_and_meets_every_error() {
    let app = TestApp::new("api-python").await;
    let api = ApiServer::start(&app, true, None).await;
    let root = jit_devstack::repo_root();
    let work = app.stack.logs.join(format!("py-{}", app.task_queue));
    std::fs::create_dir_all(&work).unwrap();
    let out = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("tests/e2e/grpc_client.py"))
        .arg(root.join("proto"))
        .arg(api.addr.to_string())
        .arg(app.account.as_str())
        .arg(&work)
        .output()
        .expect("python runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the Python client failed:\n{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();

    assert_eq!(s("health"), "0801", "health: SERVING");
    assert_eq!(v["reflection_lists_ticket_service"], true);
    assert_eq!(v["created"], true);
    assert_eq!(v["retry_same_ticket"], true);
    assert!(
        s("reuse_other_body").starts_with("ALREADY_EXISTS: request_id:"),
        "{v}"
    );
    assert!(
        s("self_approval").starts_with("PERMISSION_DENIED: not allowed: bob is the requester"),
        "{v}"
    );
    assert_eq!(s("vote_effect"), "counted; approved");
    let watched: Vec<&str> = v["watched"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x.as_str())
        .collect();
    assert_eq!(watched.last(), Some(&"TICKET_STATUS_ACTIVE"), "{watched:?}");
    assert!(watched.len() >= 2, "saw the changes: {watched:?}");
    assert_eq!(s("status"), "TICKET_STATUS_ACTIVE");
    assert_eq!(v["voters"], serde_json::json!(["carol"]));
    let expires_in = v["expires_in"].as_i64().unwrap();
    assert!((3500..=3600).contains(&expires_in), "{expires_in}");
    assert!(s("policy_hash").starts_with("sha256:"));
    assert!(
        v["listed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| *x == v["ticket_id"]),
        "{v}"
    );
    assert!(
        s("no_token").starts_with("UNAUTHENTICATED: no credentials"),
        "{v}"
    );
    assert!(s("bad_token").starts_with("UNAUTHENTICATED: "), "{v}");
    assert!(
        s("bad_account").starts_with("INVALID_ARGUMENT: targets[0].account_id: "),
        "{v}"
    );
    assert_eq!(s("no_duration"), "INVALID_ARGUMENT: duration: missing");
    assert!(
        s("unknown_ticket").starts_with("NOT_FOUND: ticket_id: "),
        "{v}"
    );
    assert!(
        s("stranger_reads").starts_with("PERMISSION_DENIED: frank is neither a party"),
        "{v}"
    );
    assert!(
        s("cancel_active").starts_with("FAILED_PRECONDITION: "),
        "{v}"
    );
    assert_eq!(
        s("service_without_grant"),
        "PERMISSION_DENIED: bob may not ask for access for alice: no services rule grants it"
    );
    assert!(
        ["TICKET_STATUS_REVOKING", "TICKET_STATUS_RELINQUISHED"]
            .contains(&s("relinquished").as_str()),
        "{v}"
    );
    let h = app
        .client
        .get_workflow_handle::<jit_contract::ticket::Workflow>(format!(
            "ticket-{}",
            s("ticket_id")
        ));
    assert_eq!(app.outcome(&h, T).await.phase, Phase::Relinquished);
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_parallel_creates_from_ten_callers_make_a_hundred_tickets_and_retries_none() {
    let app = TestApp::new("api-parallel").await;
    let api = ApiServer::start(&app, true, None).await;
    let mut calls = Vec::new();
    for caller in 0..10 {
        for n in 0..10 {
            // Callers that are not directory users: the tickets are rejected at once, which is
            // all this test needs (it is about creation).
            let token = format!("dev:caller-{caller}");
            let msg = create_msg(&app, &format!("req-{n}"), 1);
            let mut c = api.client().await;
            calls.push(tokio::spawn(async move {
                let first = c
                    .create_ticket(as_user(&token, msg.clone()))
                    .await
                    .expect("created")
                    .into_inner();
                // A retry with the same request id (as after a lost answer).
                let retry = c
                    .create_ticket(as_user(&token, msg))
                    .await
                    .expect("retried")
                    .into_inner();
                (first, retry)
            }));
        }
    }
    let mut ids = BTreeSet::new();
    for c in calls {
        let (first, retry) = c.await.unwrap();
        let id = first.ticket.unwrap().ticket_id;
        assert!(first.created);
        assert!(!retry.created, "a retry never creates");
        assert_eq!(retry.ticket.unwrap().ticket_id, id);
        ids.insert(id);
    }
    assert_eq!(ids.len(), 100, "100 distinct tickets");
    // And Temporal holds exactly 100 tickets on this test's queue.
    let query = format!(
        "WorkflowType = 'TicketWorkflow' AND TaskQueue = '{}'",
        app.task_queue
    );
    let deadline = std::time::Instant::now() + T;
    loop {
        use futures::StreamExt;
        let n = app
            .client
            .list_workflows(&query, Default::default())
            .filter(|r| std::future::ready(r.is_ok()))
            .count()
            .await;
        if n == 100 {
            break;
        }
        assert!(n < 100, "{n} tickets: a duplicate was created");
        assert!(std::time::Instant::now() < deadline, "only {n} listed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Serves `keys` as a JWKS on a free port; its URL.
pub(crate) async fn jwks_server(keys: serde_json::Value) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let keys = keys.clone();
            async move { axum::Json(keys) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/jwks.json")
}

pub(crate) fn fixture(name: &str) -> String {
    std::fs::read_to_string(jit_devstack::repo_root().join("tests/fixtures").join(name)).unwrap()
}

pub(crate) fn token(
    key: &str,
    kid: &str,
    iss: &str,
    aud: &str,
    sub: &str,
    exp_from_now: i64,
) -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.into());
    let now = Timestamp::now().as_second();
    let claims = serde_json::json!({
        "iss": iss, "aud": aud, "sub": sub, "iat": now, "exp": now + exp_from_now,
    });
    let key = EncodingKey::from_ed_pem(fixture(&format!("{key}.pem")).as_bytes()).unwrap();
    encode(&header, &claims, &key).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwts_are_checked_for_signature_issuer_audience_and_expiry() {
    let app = TestApp::new("api-jwt").await;
    let jwk: serde_json::Value = serde_json::from_str(&fixture("jwt-test-key.jwk.json")).unwrap();
    let url = jwks_server(serde_json::json!({ "keys": [jwk] })).await;
    let (iss, aud) = ("https://idp.test/", "jit");
    let jwt = JwtConfig {
        issuer: iss.into(),
        audience: aud.into(),
        jwks_url: url,
    };
    let api = ApiServer::start(&app, false, Some(jwt)).await;
    let mut c = api.client().await;
    let whoami = |t: String| {
        let mut c = c.clone();
        async move {
            c.get_caller(as_user(&t, pb::GetCallerRequest {}))
                .await
                .map(|r| r.into_inner())
        }
    };
    let ok = whoami(token(
        "jwt-test-key",
        "jwt-test-key",
        iss,
        aud,
        "carol",
        300,
    ))
    .await
    .expect("a good token");
    assert_eq!(
        (ok.subject.as_str(), ok.authenticated_by.as_str()),
        ("carol", "jwt")
    );
    let refused = [
        (
            token("jwt-test-key", "jwt-test-key", iss, aud, "carol", -300),
            "ExpiredSignature",
        ),
        (
            token(
                "jwt-test-key",
                "jwt-test-key",
                "https://evil.test/",
                aud,
                "carol",
                300,
            ),
            "InvalidIssuer",
        ),
        (
            token("jwt-test-key", "jwt-test-key", iss, "other", "carol", 300),
            "InvalidAudience",
        ),
        // Signed by a key the JWKS does not hold, claiming to be the good one.
        (
            token("jwt-other-key", "jwt-test-key", iss, aud, "carol", 300),
            "InvalidSignature",
        ),
        (
            token("jwt-other-key", "jwt-other-key", iss, aud, "carol", 300),
            "unknown signing key",
        ),
        ("dev:carol".to_owned(), "not in dev mode"),
    ];
    for (t, why) in refused {
        let e = whoami(t).await.expect_err("refused");
        assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e:?}");
        assert!(
            e.message().contains(why),
            "{} should say {why}",
            e.message()
        );
    }
    // A JWT caller creates a ticket as themselves.
    let t = token("jwt-test-key", "jwt-test-key", iss, aud, "bob", 300);
    let r = c
        .create_ticket(as_user(&t, create_msg(&app, "jwt-1", 1)))
        .await
        .expect("created")
        .into_inner();
    assert_eq!(r.ticket.unwrap().requester, "bob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_asks_for_users_only_with_a_policy_grant() {
    let policy = format!(
        "{DEFAULT_POLICY}services:\n  - {{ name: portal, subjects: [portal], users: [alice, bob] }}\n"
    );
    let app = TestApp::with_policy("api-service", &policy).await;
    let api = ApiServer::start(&app, true, None).await;
    let mut c = api.client().await;
    let who = c
        .get_caller(as_user("dev:portal", pb::GetCallerRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(who.may_act_for, vec!["alice", "bob"]);
    let mut msg = create_msg(&app, "svc-1", 1);
    msg.requester = "alice".into();
    let r = c
        .create_ticket(as_user("dev:portal", msg.clone()))
        .await
        .expect("the portal may ask for alice")
        .into_inner();
    let t = r.ticket.unwrap();
    assert_eq!(t.requester, "alice");
    msg.requester = "frank".into();
    let e = c
        .create_ticket(as_user("dev:portal", msg.clone()))
        .await
        .expect_err("not for frank");
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
    assert_eq!(
        e.message(),
        "portal may not ask for access for frank: no services rule grants it"
    );
    // The ticket is alice's: she can cancel it, the service cannot.
    let e = c
        .cancel_ticket(as_user(
            "dev:portal",
            pb::CancelTicketRequest {
                ticket_id: t.ticket_id.clone(),
                reason: String::new(),
            },
        ))
        .await
        .expect_err("the service is not the requester");
    assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
    let h = app
        .client
        .get_workflow_handle::<jit_contract::ticket::Workflow>(format!("ticket-{}", t.ticket_id));
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    c.cancel_ticket(as_user(
        "dev:alice",
        pb::CancelTicketRequest {
            ticket_id: t.ticket_id,
            reason: "not needed".into(),
        },
    ))
    .await
    .expect("alice cancels");
    assert_eq!(app.outcome(&h, T).await.phase, Phase::Cancelled);
}

/// Runs the `jit` CLI against `api` as `user`; (exit code, stdout, stderr).
fn jit(api: &ApiServer, user: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_e2e-jit"))
        .args(args)
        .env("JIT_SERVER", format!("http://{}", api.addr))
        .env("JIT_TOKEN", format!("dev:{user}"))
        .env("JIT_CLI_CONFIG", "/nonexistent")
        .output()
        .expect("jit runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_covers_the_whole_lifecycle() {
    let app = TestApp::new("api-cli").await;
    let api = ApiServer::start(&app, true, None).await;
    let account = app.account.to_string();
    let (code, out, err) = jit(&api, "bob", &["whoami"]);
    assert_eq!((code, out.trim()), (0, "bob (by dev token)"), "{err}");
    // Server and token from the config file when neither flags nor environment give them.
    let cfg = app.stack.logs.join(format!("cli-{}.yaml", app.task_queue));
    std::fs::write(
        &cfg,
        format!("server: http://{}\ntoken: dev:gina\n", api.addr),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_e2e-jit"))
        .arg("whoami")
        .env("JIT_CLI_CONFIG", &cfg)
        .env_remove("JIT_SERVER")
        .env_remove("JIT_TOKEN")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "gina (by dev token)"
    );
    // Flags win over the file.
    let o = Command::new(env!("CARGO_BIN_EXE_e2e-jit"))
        .args(["whoami", "--token", "dev:erin"])
        .env("JIT_CLI_CONFIG", &cfg)
        .env_remove("JIT_SERVER")
        .env_remove("JIT_TOKEN")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "erin (by dev token)"
    );

    let (code, out, err) = jit(
        &api,
        "bob",
        &[
            "request",
            "--account",
            &account,
            "--permission-set",
            "ReadOnly",
            "--duration",
            "2h",
            "--reason",
            "INC-11: debugging the deploy",
            "--request-id",
            "cli-1",
            "--output",
            "json",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let t: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = t["ticket_id"].as_str().unwrap().to_owned();
    assert_eq!(t["status"], "evaluating");

    // carol sees it waiting for her, approves; bob watches it become active.
    let h = app
        .client
        .get_workflow_handle::<jit_contract::ticket::Workflow>(format!("ticket-{id}"));
    app.wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
        .await;
    crate::wait_listed(
        &app,
        &format!("JitPendingApprovers = 'carol' AND WorkflowId = 'ticket-{id}'"),
    )
    .await;
    let (code, out, err) = jit(&api, "carol", &["pending"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&id) && out.contains("pending approval"),
        "{out}"
    );
    let (code, _, err) = jit(&api, "bob", &["approve", &id]);
    assert_eq!(code, 1, "self-approval refused");
    assert!(
        err.starts_with("jit: not allowed: bob is the requester"),
        "{err}"
    );
    let (code, out, err) = jit(&api, "carol", &["approve", &id, "--comment", "go"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("counted; approved"), "{out}");
    app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    let (code, out, err) = jit(&api, "bob", &["status", &id]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("active, expires in 1h 59m") || out.contains("active, expires in 2h"),
        "{out}"
    );
    assert!(out.contains("carol approved in step sre: go"), "{out}");

    let (code, out, err) = jit(&api, "bob", &["extend", &id, "--by", "1h"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("extended"), "{out}");
    let (code, _, err) = jit(&api, "bob", &["extend", &id, "--by", "22h"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("jit: not allowed: extending by 22h would make 25h"),
        "{err}"
    );
    let (code, out, err) = jit(&api, "bob", &["list", "--status", "active"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("TICKET") && out.contains(&id), "{out}");
    let (code, _, err) = jit(&api, "bob", &["cancel", &id]);
    assert_eq!(code, 1);
    assert!(err.starts_with("jit: not now: "), "{err}");
    let (code, out, err) = jit(&api, "bob", &["done", &id, "--reason", "fixed"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("revoking") || out.contains("relinquished"),
        "{out}"
    );
    assert_eq!(app.outcome(&h, T).await.phase, Phase::Relinquished);
    assert_eq!(app.assignment_count("bob", "ReadOnly").await, 0);

    // catalog: what bob may ask for, by the policy and the directory.
    let (code, out, err) = jit(&api, "bob", &["catalog", "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    let c: serde_json::Value = serde_json::from_str(&out).unwrap();
    let sets: BTreeSet<&str> = c["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["account_id"] == account.as_str())
        .filter_map(|t| t["permission_set"].as_str())
        .collect();
    assert_eq!(sets, BTreeSet::from(["Developer", "ReadOnly"]), "{out}");
    if std::env::var("JIT_RECORD_HISTORIES").as_deref() == Ok("1") {
        use futures::StreamExt;
        let query = format!(
            "WorkflowType = 'CatalogWorkflow' AND TaskQueue = '{}'",
            app.task_queue
        );
        let found: Vec<_> = app
            .client
            .list_workflows(&query, Default::default())
            .collect()
            .await;
        let id = found
            .into_iter()
            .find_map(Result::ok)
            .expect("the catalog workflow")
            .id()
            .to_owned();
        app.maybe_record_workflow(&id, "catalog").await;
    }

    // revoke by an approver, deny, delegate.
    let (_, out, _) = jit(
        &api,
        "alice",
        &[
            "request",
            "--account",
            &account,
            "--permission-set",
            "Developer",
            "--duration",
            "1h",
            "--reason",
            "deploying the hotfix",
            "--output",
            "json",
        ],
    );
    let id2 = serde_json::from_str::<serde_json::Value>(&out).unwrap()["ticket_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let h2 = app
        .client
        .get_workflow_handle::<jit_contract::ticket::Workflow>(format!("ticket-{id2}"));
    app.wait_for(&h2, T, |t| t.phase == Phase::PendingApproval)
        .await;
    let (code, _, err) = jit(
        &api,
        "carol",
        &["delegate", &id2, "--to", "dave", "--for", "1h"],
    );
    assert_eq!(code, 0, "{err}");
    let (_, out, err) = jit(&api, "dave", &["deny", &id2, "--reason", "not today"]);
    assert!(out.starts_with("counted; denied"), "{out}{err}");
    assert!(out.contains("dave denied in step sre: not today"), "{out}");
    assert_eq!(app.outcome(&h2, T).await.phase, Phase::Denied);

    // And a request that waits (with a live line) until access is active.
    let api_addr = api.addr;
    let waiter = tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_e2e-jit"))
            .args([
                "request",
                "--account",
                &account,
                "--permission-set",
                "ReadOnly",
                "--duration",
                "1h",
                "--reason",
                "waiting for access",
                "--wait",
            ])
            .env("JIT_SERVER", format!("http://{api_addr}"))
            .env("JIT_TOKEN", "dev:frank")
            .env("JIT_CLI_CONFIG", "/nonexistent")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    });
    let deadline = std::time::Instant::now() + T;
    let id3 = loop {
        let (_, out, _) = jit(&api, "carol", &["pending", "--output", "json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        if let Some(t) = v
            .as_array()
            .and_then(|a| a.iter().find(|t| t["requester"] == "frank"))
        {
            break t["ticket_id"].as_str().unwrap().to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "frank's ticket never pending"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The watch looks every 250 ms (and coalesces what changed in between): give it time to
    // see the pending state before it ends.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (code, _, err) = jit(&api, "dave", &["approve", &id3]);
    assert_eq!(code, 0, "{err}");
    let lines = waiter.await.unwrap();
    assert!(
        lines.contains("pending approval (step sre): waiting for carol, dave"),
        "{lines}"
    );
    assert!(
        lines
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .contains("active, expires in"),
        "{lines}"
    );
    let (code, _, err) = jit(&api, "erin", &["revoke", &id3, "--reason", "audit"]);
    assert_eq!(code, 0, "admins revoke: {err}");
    let h3 = app
        .client
        .get_workflow_handle::<jit_contract::ticket::Workflow>(format!("ticket-{id3}"));
    assert_eq!(app.outcome(&h3, T).await.phase, Phase::Revoked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_served_when_configured() {
    let app = TestApp::new("api-tls").await;
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = app.stack.logs.join(format!("tls-{}", app.task_queue));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert_pem, key_pem) = (cert.cert.pem(), cert.key_pair.serialize_pem());
    std::fs::write(dir.join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &key_pem).unwrap();
    let tls = jit_config::TlsConfig {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    let api = ApiServer::start_with(&app, true, None, Some(tls)).await;
    let port = api.addr.port();
    let channel = Channel::from_shared(format!("https://localhost:{port}"))
        .unwrap()
        .tls_config(
            tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(&cert_pem))
                .domain_name("localhost"),
        )
        .unwrap()
        .connect()
        .await
        .expect("a TLS connection");
    let who = TicketServiceClient::new(channel)
        .get_caller(as_user("dev:bob", pb::GetCallerRequest {}))
        .await
        .expect("answered over TLS")
        .into_inner();
    assert_eq!(who.subject, "bob");
    // Plaintext is not spoken there.
    let plain = TicketServiceClient::connect(format!("http://127.0.0.1:{port}")).await;
    let refused = match plain {
        Err(_) => true,
        Ok(mut c) => c
            .get_caller(as_user("dev:bob", pb::GetCallerRequest {}))
            .await
            .is_err(),
    };
    assert!(refused, "a plaintext call to the TLS port must fail");

    // The CLI over TLS: with the CA it gets through; without it the system's roots refuse
    // the self-signed certificate, and the error says how it tried.
    std::fs::write(dir.join("ca.pem"), &cert_pem).unwrap();
    let cli = |extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_e2e-jit"))
            .arg("whoami")
            .args(extra)
            .env("JIT_SERVER", format!("https://localhost:{port}"))
            .env("JIT_TOKEN", "dev:bob")
            .env("JIT_CLI_CONFIG", "/nonexistent")
            .env_remove("JIT_CA_FILE")
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).trim().to_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let ca = dir.join("ca.pem").display().to_string();
    let (code, out, err) = cli(&["--ca-file", &ca]);
    assert_eq!((code, out.as_str()), (0, "bob (by dev token)"), "{err}");
    let (code, _, err) = cli(&[]);
    assert_ne!(code, 0);
    assert!(
        err.contains("the system's roots; --ca-file for a private CA"),
        "{err}"
    );
    let (code, _, err) = cli(&["--ca-file", "/nonexistent/ca.pem"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("--ca-file (JIT_CA_FILE) /nonexistent/ca.pem: cannot read"),
        "{err}"
    );
}
