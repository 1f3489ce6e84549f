//! Payload encryption end to end: a ticket run by a worker and an API with codec keys leaves
//! no justification, e-mail or display name in the raw history (`temporal workflow show -o
//! json`); through the API's codec server (`--codec-endpoint`) an admin reads it decoded; a
//! key rotation keeps old tickets readable; a missing key is an error that names the key and
//! the setting, and the ticket carries on once the key is back.

use std::time::Duration;

use base64::Engine;
use jit_config::CodecKeys;
use jit_proto::v1 as pb;

use crate::api::{ApiServer, as_user, create_msg, fixture, jwks_server, token, wait_status};
use crate::support::{DEFAULT_POLICY, TestApp};

const T: Duration = Duration::from_secs(60);

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// `<id>:<32 random bytes, base64>`.
fn new_key(id: &str) -> String {
    format!("{id}:{}", b64().encode(rand::random::<[u8; 32]>()))
}

fn keys(text: &str) -> Option<CodecKeys> {
    Some(CodecKeys::parse(text).expect("test keys"))
}

fn found(json: &str, needles: &[&str]) -> Vec<String> {
    jit_devstack::history::readable(json, needles)
}

/// `temporal workflow show -o json` of `workflow_id`, with `extra` options (the codec).
fn show(app: &TestApp, workflow_id: &str, extra: &[&str]) -> String {
    let s = app.stack;
    jit_devstack::history::show_json(
        &s.tools.temporal,
        &s.temporal_address,
        &s.namespace,
        workflow_id,
        extra,
    )
    .expect("temporal workflow show")
}

/// The ids of every workflow on the test's task queue (ticket, lease, governor, ...).
fn workflows(app: &TestApp) -> Vec<String> {
    let s = app.stack;
    let query = format!("TaskQueue = '{}'", app.task_queue);
    jit_devstack::history::list_ids(&s.tools.temporal, &s.temporal_address, &s.namespace, &query)
        .expect("temporal workflow list")
}

/// Bob asks (with `justification`), carol approves: the ticket id once it is active.
async fn active_ticket(
    app: &TestApp,
    api: &ApiServer,
    request: &str,
    justification: &str,
) -> String {
    let c = api.client().await;
    let mut msg = create_msg(app, request, 1);
    msg.justification = justification.into();
    let t = c
        .clone()
        .create_ticket(as_user("dev:bob", msg))
        .await
        .expect("created")
        .into_inner()
        .ticket
        .expect("a ticket");
    wait_status(
        &c,
        "dev:bob",
        &t.ticket_id,
        pb::TicketStatus::PendingApproval,
    )
    .await;
    // A refusal's message was encrypted by the worker; the API opens it for the caller.
    let own = c
        .clone()
        .approve_ticket(as_user(
            "dev:bob",
            pb::ApproveTicketRequest {
                ticket_id: t.ticket_id.clone(),
                comment: String::new(),
            },
        ))
        .await
        .expect_err("bob may not approve his own ticket");
    assert!(
        own.message().contains("bob is the requester"),
        "{}",
        own.message()
    );
    c.clone()
        .approve_ticket(as_user(
            "dev:carol",
            pb::ApproveTicketRequest {
                ticket_id: t.ticket_id.clone(),
                comment: "ok".into(),
            },
        ))
        .await
        .expect("carol approves");
    wait_status(&c, "dev:bob", &t.ticket_id, pb::TicketStatus::Active).await;
    t.ticket_id
}

async fn post(url: &str, auth: Option<&str>, body: &serde_json::Value) -> (u16, String) {
    let mut r = reqwest::Client::new().post(url).json(body);
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    let resp = r.send().await.expect("the codec server answers");
    (
        resp.status().as_u16(),
        resp.text().await.unwrap_or_default(),
    )
}

/// The encrypted payloads of a raw history, as a codec server's request body.
fn encrypted_payloads(raw: &str) -> serde_json::Value {
    fn walk(v: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
        match v {
            serde_json::Value::Object(o) => {
                let enc = o
                    .get("metadata")
                    .and_then(|m| m.get("encoding"))
                    .and_then(|e| e.as_str());
                if enc == Some(&b64().encode("binary/encrypted")) {
                    out.push(v.clone());
                }
                o.values().for_each(|x| walk(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&serde_json::from_str(raw).unwrap(), &mut out);
    serde_json::json!({ "payloads": out })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histories_hold_no_plaintext_and_admins_read_them_through_the_codec_server() {
    let (k1, k2) = (new_key("k1"), new_key("k2"));
    let mut app = TestApp::with_policy_env(
        "codec",
        DEFAULT_POLICY,
        vec![("JIT_CODEC_KEYS".into(), k1.clone())],
    )
    .await;
    let api = ApiServer::configured(&app, |s| {
        s.codec_keys = keys(&k1);
        s.http_listen = Some("127.0.0.1:0".into());
        s.codec_origins = vec!["http://ui.test:8233".into()];
    })
    .await;
    let reason = format!("codec check {}: prod DB locks", rand::random::<u32>());
    let t1 = active_ticket(&app, &api, "codec-1", &reason).await;
    let wf1 = format!("ticket-{t1}");
    let pii = [
        reason.as_str(),
        "bob@example.com",
        "Bob Baker",
        "carol@example.com",
    ];

    // Raw: nothing readable, in any workflow the ticket touched.
    let ids = workflows(&app);
    assert!(
        ids.contains(&wf1) && ids.len() >= 2,
        "ticket and lease: {ids:?}"
    );
    for id in &ids {
        let raw = show(&app, id, &[]);
        assert_eq!(found(&raw, &pii), Vec::<String>::new(), "plaintext in {id}");
    }
    let raw1 = show(&app, &wf1, &[]);
    assert!(
        raw1.contains(&b64().encode("k1")),
        "the key id is in the metadata"
    );

    // Through the codec server (dev mode: open), the justification reads again.
    let http = api.http.expect("the HTTP port");
    let endpoint = format!("http://{http}/codec");
    let decoded = show(&app, &wf1, &["--codec-endpoint", &endpoint]);
    assert_eq!(found(&decoded, &[&reason]), vec![reason.clone()], "decoded");
    eprintln!("decoded, readable again: {:?}", found(&decoded, &pii));

    // CORS: the configured UI origin only.
    let preflight = |origin: &'static str| {
        let url = format!("{endpoint}/decode");
        async move {
            reqwest::Client::new()
                .request(reqwest::Method::OPTIONS, url)
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "authorization,content-type",
                )
                .send()
                .await
                .expect("preflight")
                .headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap().to_owned())
        }
    };
    assert_eq!(
        preflight("http://ui.test:8233").await.as_deref(),
        Some("http://ui.test:8233")
    );
    assert_eq!(preflight("http://evil.test").await, None);

    // With JWTs: admins only.
    let jwk: serde_json::Value = serde_json::from_str(&fixture("jwt-test-key.jwk.json")).unwrap();
    let (iss, aud) = ("https://idp.test/", "jit");
    let url = jwks_server(serde_json::json!({ "keys": [jwk] })).await;
    let jwt_api = ApiServer::configured(&app, |s| {
        s.dev_auth = false;
        s.jwt = Some(jit_config::JwtConfig {
            issuer: iss.into(),
            audience: aud.into(),
            jwks_url: url,
        });
        s.codec_keys = keys(&k1);
        s.http_listen = Some("127.0.0.1:0".into());
    })
    .await;
    let jwt_decode = format!("http://{}/codec/decode", jwt_api.http.unwrap());
    let body = encrypted_payloads(&raw1);
    assert!(!body["payloads"].as_array().unwrap().is_empty());
    let (code, text) = post(&jwt_decode, None, &body).await;
    assert_eq!(code, 401, "{text}");
    let bearer = |sub: &str| {
        format!(
            "Bearer {}",
            token("jwt-test-key", "jwt-test-key", iss, aud, sub, 300)
        )
    };
    let (code, text) = post(&jwt_decode, Some(&bearer("carol")), &body).await;
    assert_eq!(code, 403, "{text}");
    assert!(text.contains("carol may not read payloads"), "{text}");
    let (code, text) = post(&jwt_decode, Some(&bearer("erin")), &body).await;
    assert_eq!(code, 200, "{text}");
    assert_eq!(found(&text, &[&reason]), vec![reason.clone()]);
    let erin = bearer("erin");
    let cli = show(
        &app,
        &wf1,
        &[
            "--codec-endpoint",
            &format!("http://{}/codec", jwt_api.http.unwrap()),
            "--codec-auth",
            &erin,
        ],
    );
    assert_eq!(
        found(&cli, &[&reason]),
        vec![reason.clone()],
        "the CLI with --codec-auth"
    );

    // Rotation: k2 first, k1 kept. New payloads use k2; the old ticket still reads.
    assert!(app.terminate_worker(T).await.success());
    app.set_worker_env(vec![("JIT_CODEC_KEYS".into(), format!("{k2},{k1}"))]);
    app.start_worker();
    let rotated = ApiServer::configured(&app, |s| {
        s.codec_keys = keys(&format!("{k2},{k1}"));
        s.http_listen = Some("127.0.0.1:0".into());
    })
    .await;
    let reason2 = format!("{reason} (after rotation)");
    let t2 = active_ticket(&app, &rotated, "codec-2", &reason2).await;
    let raw2 = show(&app, &format!("ticket-{t2}"), &[]);
    assert!(
        raw2.contains(&b64().encode("k2")),
        "new payloads use the newest key"
    );
    assert_eq!(found(&raw2, &[&reason2]), Vec::<String>::new());
    let c = rotated.client().await;
    let old = wait_status(&c, "dev:bob", &t1, pb::TicketStatus::Active).await;
    assert_eq!(
        old.justification, reason,
        "the old ticket reads with the old key"
    );

    // A codec server without k1: the error names the key and the setting.
    let only_k2 = ApiServer::configured(&app, |s| {
        s.codec_keys = keys(&k2);
        s.http_listen = Some("127.0.0.1:0".into());
    })
    .await;
    let (code, text) = post(
        &format!("http://{}/codec/decode", only_k2.http.unwrap()),
        None,
        &body,
    )
    .await;
    assert_eq!(code, 422, "{text}");
    assert!(
        text.contains("key \"k1\"") && text.contains("JIT_CODEC_KEYS"),
        "{text}"
    );

    // A worker without k1: the old ticket's task fails, naming k1 (in the log and the
    // history); given the key back, the ticket carries on and ends.
    assert!(app.terminate_worker(T).await.success());
    app.set_worker_env(vec![("JIT_CODEC_KEYS".into(), k2.clone())]);
    app.start_worker();
    let mut c1 = c.clone();
    let ended = tokio::spawn(async move {
        c1.relinquish_ticket(as_user(
            "dev:bob",
            pb::RelinquishTicketRequest {
                ticket_id: t1.clone(),
                reason: "done".into(),
            },
        ))
        .await
    });
    let deadline = std::time::Instant::now() + T;
    while !app
        .worker_log_text()
        .contains("which this process does not have")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker never named the missing key:\n{}",
            app.worker_log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = app.worker_log_text();
    assert!(
        log.contains("\\\"k1\\\"") || log.contains("\"k1\""),
        "{log}"
    );
    assert!(
        !ended.is_finished(),
        "the ticket waits for its key, it does not fail"
    );
    assert!(app.terminate_worker(T).await.success());
    app.set_worker_env(vec![("JIT_CODEC_KEYS".into(), format!("{k2},{k1}"))]);
    app.start_worker();
    ended
        .await
        .unwrap()
        .expect("relinquished once the key is back");
    let c = rotated.client().await;
    wait_status(
        &c,
        "dev:bob",
        wf1.trim_start_matches("ticket-"),
        pb::TicketStatus::Relinquished,
    )
    .await;
    assert_eq!(
        app.assignment_count("bob", "ReadOnly").await,
        1,
        "t2 still active"
    );
}
