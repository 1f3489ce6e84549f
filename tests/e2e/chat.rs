//! Chat end to end against a recording fake Slack Web API (real HTTP) and a fake Teams
//! webhook: the vote message reaches the approvers (escaped), requests signed by independent
//! code (Python's hmac) are accepted, forged / stale / replayed / malformed ones are refused
//! and change nothing, a click by someone who may not approve gets a clear ephemeral error,
//! an approval from Slack activates the access and the message shows it; Deny asks for a
//! reason in a modal; Teams links work once, for their own approver only, after sign-in.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use jit_devstack::FakeSlack;
use jit_domain::{Justification, Phase};
use serde_json::{Value, json};

use crate::api::ApiServer;
use crate::support::{Handle, TestApp};

const T: Duration = Duration::from_secs(60);
const SIGNING: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const LINKS: &str = "link-signing-key-for-tests";

/// Engineers may ask for ReadOnly; one SRE approves; messages go to approvers directly and
/// to Teams.
const POLICY: &str = r#"
admins: { users: [erin] }
eligibility:
  - { name: engineers, groups: [engineers], accounts: ["*"], permission_sets: [ReadOnly] }
plans:
  - name: standard
    accounts: ["*"]
    permission_sets: ["*"]
    steps:
      - { name: sre, groups: [sre], quorum: 1 }
    max_duration: 12h
    max_total: 24h
    approval_timeout: 24h
    notify: { direct: true, teams: true }
"#;

struct Chat {
    app: TestApp,
    slack: FakeSlack,
    api: ApiServer,
    http: SocketAddr,
    /// The worker's `/metrics`.
    metrics: String,
}

async fn chat(name: &str) -> Chat {
    chat_with(name, POLICY).await
}

async fn chat_with(name: &str, policy: &str) -> Chat {
    let slack = FakeSlack::start(&[
        ("U_BOB", "bob@example.com"),
        ("U_CAROL", "carol@example.com"),
        ("U_DAVE", "dave@example.com"),
        ("U_FRANK", "frank@example.com"),
    ])
    .await
    .unwrap();
    let http_port = jit_devstack::free_port().unwrap();
    let http: SocketAddr = format!("127.0.0.1:{http_port}").parse().unwrap();
    let (mut env, metrics) = crate::support::metrics_env();
    env.extend([
        ("JIT_SLACK_BOT_TOKEN".to_owned(), "xoxb-test".to_owned()),
        ("JIT_SLACK_API_URL".to_owned(), slack.api_url.clone()),
        ("JIT_TEAMS_WEBHOOK_URL".to_owned(), slack.teams_url.clone()),
        ("JIT_LINK_SECRET".to_owned(), LINKS.to_owned()),
        ("JIT_PUBLIC_URL".to_owned(), format!("http://{http}")),
    ]);
    let app = TestApp::with_policy_env(name, policy, env).await;
    let chat_settings = jit_config::ChatSettings {
        slack: Some(jit_config::SlackSettings {
            api_url: slack.api_url.clone(),
            bot_token: jit_config::Secret::new("xoxb-test"),
            signing_secret: Some(jit_config::Secret::new(SIGNING)),
            audit_channel: None,
        }),
        teams: None,
        public_url: Some(format!("http://{http}")),
        link_secret: Some(jit_config::Secret::new(LINKS)),
    };
    let api = ApiServer::configured(&app, |s| {
        s.http_listen = Some(http.to_string());
        s.chat = chat_settings;
        s.metrics = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    assert_eq!(api.http, Some(http));
    Chat {
        app,
        slack,
        api,
        http,
        metrics,
    }
}

/// Signs like Slack, with Python's own hmac (code independent of ours).
fn python_sign(ts: i64, body: &str, secret: &str) -> String {
    let out = Command::new(jit_devstack::repo_root().join(".venv/bin/python"))
        .args([
            "-c",
            "import hmac, hashlib, sys; print('v0=' + hmac.new(sys.argv[1].encode(), ('v0:' + sys.argv[2] + ':' + sys.argv[3]).encode(), hashlib.sha256).hexdigest())",
            secret,
            &ts.to_string(),
            body,
        ])
        .output()
        .expect("python signs");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn form(payload: &Value) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
}

impl Chat {
    /// Posts `body` to the Slack endpoint with these headers; (status, text).
    async fn post_raw(&self, body: &str, ts: Option<i64>, sig: Option<&str>) -> (u16, String) {
        let mut r = reqwest::Client::new()
            .post(format!("http://{}/slack/interactions", self.http))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned());
        if let Some(ts) = ts {
            r = r.header("x-slack-request-timestamp", ts.to_string());
        }
        if let Some(sig) = sig {
            r = r.header("x-slack-signature", sig);
        }
        let resp = r.send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// A properly signed interaction; (status, text).
    async fn click(&self, payload: &Value) -> (u16, String) {
        let body = form(payload);
        let ts = jiff::Timestamp::now().as_second();
        let sig = python_sign(ts, &body, SIGNING);
        self.post_raw(&body, Some(ts), Some(&sig)).await
    }

    fn button(&self, user: &str, action: &str, ticket: &str, response: &str) -> Value {
        json!({
            "type": "block_actions",
            "user": {"id": user},
            "trigger_id": format!("trigger-{response}"),
            "response_url": format!("{}/{response}", self.slack.response_base),
            "actions": [{"action_id": action, "value": ticket, "block_id": "vote"}],
        })
    }

    /// The ephemeral answer posted to `response_url` `id`.
    async fn answer(&self, id: &str) -> String {
        let deadline = std::time::Instant::now() + T;
        loop {
            if let Some(a) = self
                .slack
                .calls("response_url")
                .into_iter()
                .find(|c| c["response_id"] == id)
            {
                assert_eq!(a["response_type"], "ephemeral", "{a}");
                return a["text"].as_str().unwrap_or_default().to_owned();
            }
            assert!(std::time::Instant::now() < deadline, "no answer {id}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The link titled `title` (`Approve (dave)`) on ticket `id`'s Teams card, once it came.
    async fn teams_link(&self, id: &str, title: &str) -> String {
        eventually("the Teams card", || {
            self.slack
                .calls("teams")
                .iter()
                .any(|b| b.to_string().contains(id))
        })
        .await;
        let card = self
            .slack
            .calls("teams")
            .into_iter()
            .rfind(|b| b.to_string().contains(id))
            .unwrap();
        card["attachments"][0]["content"]["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["title"] == title)
            .unwrap()["url"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn start(&self, suffix: &str) -> (Handle, String) {
        self.start_for(suffix, "ReadOnly").await
    }

    async fn start_for(&self, suffix: &str, permission_set: &str) -> (Handle, String) {
        let mut req = self.app.request(suffix, "bob", "bob");
        req.targets[0].permission_set =
            jit_domain::PermissionSetName::parse(permission_set).unwrap();
        req.justification =
            Justification::parse("INC-7 <!channel> & <https://evil.example|click>").unwrap();
        let h = self.app.start(&req).await;
        self.app
            .wait_for(&h, T, |t| t.phase == Phase::PendingApproval)
            .await;
        // The approvers have been told (the announcement is an activity of its own).
        let id = req.ticket_id.to_string();
        eventually("the approvers are told", || {
            ["chat.postMessage", "teams"].iter().any(|m| {
                self.slack
                    .calls(m)
                    .iter()
                    .any(|b| b.to_string().contains(&id))
            })
        })
        .await;
        (h, id)
    }
}

async fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + T;
    while !f() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvers_vote_from_slack_and_teams_through_the_same_rules() {
    let c = chat("chat").await;
    let (h, id) = c.start("slack").await;

    // The vote message reached both approvers directly, escaped, with the three buttons.
    let for_ticket = |m: &Value| m["blocks"].to_string().contains(&id);
    eventually("vote messages to carol and dave", || {
        let posts = c.slack.calls("chat.postMessage");
        ["U_CAROL", "U_DAVE"]
            .iter()
            .all(|u| posts.iter().any(|m| m["channel"] == *u && for_ticket(m)))
    })
    .await;
    let msg = c
        .slack
        .calls("chat.postMessage")
        .into_iter()
        .find(|m| m["channel"] == "U_CAROL" && for_ticket(m))
        .unwrap();
    let blocks = msg["blocks"].to_string();
    assert!(
        blocks.contains("&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;")
            && !blocks.contains("<!channel>"),
        "escaped: {blocks}"
    );
    for a in ["approve", "deny", "delegate"] {
        assert!(
            blocks.contains(&format!("\"action_id\":\"{a}\"")),
            "{blocks}"
        );
    }
    // Teams got a card with each approver's own links.
    let card = c
        .slack
        .calls("teams")
        .into_iter()
        .last()
        .expect("a Teams card");
    let links: Vec<String> = card["attachments"][0]["content"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["url"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        links.len(),
        4,
        "approve and deny for carol and dave: {card}"
    );
    // Each delivery is counted by channel.
    let body = crate::support::scrape_until(&c.metrics, |b| {
        let v = |s: &str| crate::support::series_value(b, s).unwrap_or(0.0);
        v("jit_chat_deliveries_total{channel=\"slack\",result=\"ok\"}") >= 2.0
            && v("jit_chat_deliveries_total{channel=\"teams\",result=\"ok\"}") >= 1.0
    })
    .await;
    assert!(!body.contains("result=\"failed\""), "{body}");

    // Refused and changing nothing: forged, stale, malformed, replayed.
    let payload = c.button("U_CAROL", "approve", &id, "r0");
    let body = form(&payload);
    let now = jiff::Timestamp::now().as_second();
    let forged = python_sign(now, &body, "not-the-secret");
    assert_eq!(c.post_raw(&body, Some(now), Some(&forged)).await.0, 401);
    let stale = python_sign(now - 600, &body, SIGNING);
    let (code, text) = c.post_raw(&body, Some(now - 600), Some(&stale)).await;
    assert_eq!(code, 401, "{text}");
    assert!(text.contains("stale"), "{text}");
    assert_eq!(c.post_raw(&body, None, None).await.0, 401, "unsigned");
    let junk = "payload=%7Bnot-json";
    let junk_sig = python_sign(now, junk, SIGNING);
    assert_eq!(c.post_raw(junk, Some(now), Some(&junk_sig)).await.0, 400);
    let t = c.app.status(&h).await;
    assert!(t.approval.unwrap().votes.is_empty(), "nothing counted");
    // The API counted each refusal by endpoint and answer.
    let api_metrics = format!("http://{}/metrics", c.api.metrics.expect("API metrics"));
    let body = crate::support::scrape_until(&api_metrics, |b| {
        let v = |s: &str| crate::support::series_value(b, s).unwrap_or(0.0);
        v("jit_api_chat_requests_total{endpoint=\"slack\",status=\"401\"}") >= 3.0
            && v("jit_api_chat_requests_total{endpoint=\"slack\",status=\"400\"}") >= 1.0
    })
    .await;
    assert!(!body.contains("endpoint=\"other\""), "{body}");

    // Someone who may not approve, and the requester: clear ephemeral errors, no vote.
    assert_eq!(
        c.click(&c.button("U_FRANK", "approve", &id, "r1")).await.0,
        200
    );
    let a = c.answer("r1").await;
    assert!(
        a.starts_with("not allowed: frank is not an approver of step sre"),
        "{a}"
    );
    assert_eq!(
        c.click(&c.button("U_BOB", "approve", &id, "r2")).await.0,
        200
    );
    let a = c.answer("r2").await;
    assert!(a.starts_with("not allowed: bob is the requester"), "{a}");
    // A Teams link used by the wrong person, or forged.
    // Links are in order: approve/deny for each approver, by name.
    let link_for = |who: &str, d: &str| {
        card["attachments"][0]["content"]["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["title"] == format!("{d} ({who})"))
            .unwrap()["url"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (code, text) = post_link(c.http, &link_for("dave", "Approve"), "dev:carol").await;
    assert_eq!(code, 403, "{text}");
    assert!(text.contains("this link is for dave"), "{text}");
    let mut bad = link_for("carol", "Approve");
    bad.push('0');
    assert_eq!(post_link(c.http, &bad, "dev:carol").await.0, 403);
    let page = reqwest::get(link_for("carol", "Approve")).await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains("Sign in to vote"));
    let t = c.app.status(&h).await;
    assert!(
        t.approval.unwrap().votes.is_empty(),
        "still nothing counted"
    );

    // carol approves from Slack: the access is granted and the message says so.
    assert_eq!(
        c.click(&c.button("U_CAROL", "approve", &id, "r3")).await.0,
        200
    );
    assert_eq!(c.answer("r3").await, "counted; approved");
    // The same request again is a replay.
    let (code, text) = {
        let body = form(&c.button("U_CAROL", "approve", &id, "r3b"));
        let ts = jiff::Timestamp::now().as_second();
        let sig = python_sign(ts, &body, SIGNING);
        assert_eq!(c.post_raw(&body, Some(ts), Some(&sig)).await.0, 200);
        c.post_raw(&body, Some(ts), Some(&sig)).await
    };
    assert_eq!(code, 401, "{text}");
    assert!(text.contains("replayed"), "{text}");
    c.app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    assert_eq!(c.app.assignment_count("bob", "ReadOnly").await, 1);
    eventually(
        "the message shows the access active, without buttons",
        || {
            c.slack.calls("chat.update").iter().any(|u| {
                let b = u["blocks"].to_string();
                b.contains(&id)
                    && b.contains("Active until")
                    && b.contains("carol approved")
                    && !b.contains("\"action_id\":\"approve\"")
            })
        },
    )
    .await;
    eventually("bob heard it is active", || {
        c.slack.calls("chat.postMessage").iter().any(|m| {
            m["channel"] == "U_BOB"
                && m["text"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("Access is active")
        })
    })
    .await;
    // A Teams link of the decided ticket counts for nothing.
    let (code, text) = post_link(c.http, &link_for("dave", "Approve"), "dev:dave").await;
    assert_eq!(code, 403, "{text}");
    assert!(text.contains("not waiting for approval"), "{text}");
    c.app
        .maybe_record_history(&h, "chat-approved-from-slack")
        .await;

    // A second ticket: dave approves with his Teams link; the link works once.
    let (h2, id2) = c.start("teams").await;
    let link2 = c.teams_link(&id2, "Approve (dave)").await;
    let (code, text) = post_link(c.http, &link2, "dev:dave").await;
    assert_eq!((code, text.as_str()), (200, "counted; approved"));
    let (code, text) = post_link(c.http, &link2, "dev:dave").await;
    assert_eq!(code, 409, "{text}");
    assert!(text.contains("already used"), "{text}");
    c.app.wait_for(&h2, T, |t| t.phase == Phase::Active).await;

    // A third: carol denies from Slack; the modal insists on a reason.
    let (h3, id3) = c.start("deny").await;
    assert_eq!(
        c.click(&c.button("U_CAROL", "deny", &id3, "r4")).await.0,
        200
    );
    eventually("the deny form opened", || {
        c.slack
            .calls("views.open")
            .iter()
            .any(|v| v["view"]["private_metadata"] == id3.as_str())
    })
    .await;
    let submit = |reason: &str| {
        json!({
            "type": "view_submission",
            "user": {"id": "U_CAROL"},
            "view": {"callback_id": "deny", "private_metadata": id3,
                     "state": {"values": {"reason": {"reason": {"value": reason}}}}},
        })
    };
    let (code, text) = c.click(&submit("  ")).await;
    assert_eq!(code, 200);
    assert!(text.contains("\"response_action\":\"errors\""), "{text}");
    let (code, text) = c.click(&submit("no incident open")).await;
    assert_eq!(
        (code, text.as_str()),
        (200, "{\"response_action\":\"clear\"}")
    );
    let out = c.app.outcome(&h3, T).await;
    assert_eq!(out.phase, Phase::Denied);
    assert!(out.reason.unwrap().contains("no incident open"));
    let _ = &c.api;
}

/// Developer access: the vote message goes to a channel only.
const CHANNELED: &str = r#"
eligibility:
  - { name: engineers, groups: [engineers], accounts: ["*"], permission_sets: [Developer] }
plans:
  - name: channeled
    accounts: ["*"]
    permission_sets: ["*"]
    steps:
      - { name: sre, groups: [sre], quorum: 1 }
    max_duration: 12h
    max_total: 24h
    approval_timeout: 24h
    notify: { channel: C_ACCESS, direct: false }
"#;

/// A jit-api process (the real binary) for this test's queue and chat settings: the process
/// and its HTTP address.
async fn api_process(c: &Chat, name: &str) -> (jit_devstack::ManagedChild, SocketAddr) {
    let grpc = jit_devstack::free_port().unwrap();
    let http: SocketAddr = format!("127.0.0.1:{}", jit_devstack::free_port().unwrap())
        .parse()
        .unwrap();
    let setup = jit_e2e::ApiSetup {
        temporal_address: &c.app.stack.temporal_address,
        namespace: &c.app.stack.namespace,
        task_queue: &c.app.task_queue,
        policy_file: &c.app.policy_file,
        grpc_port: grpc,
        http_port: http.port(),
    };
    let mut cmd = jit_e2e::api_command(env!("CARGO_BIN_EXE_e2e-api"), &setup);
    cmd.env("JIT_SLACK_BOT_TOKEN", "xoxb-test")
        .env("JIT_SLACK_API_URL", &c.slack.api_url)
        .env("JIT_SLACK_SIGNING_SECRET", SIGNING)
        .env("JIT_LINK_SECRET", LINKS);
    let log = c
        .app
        .stack
        .logs
        .join(format!("api-{}-{name}.log", c.app.task_queue));
    let mut child = jit_devstack::ManagedChild::spawn(name, cmd, &log, true).expect("jit-api");
    let deadline = std::time::Instant::now() + T;
    while tokio::net::TcpStream::connect(http).await.is_err() {
        assert!(
            child.exited().is_none() && std::time::Instant::now() < deadline,
            "{name} did not listen on {http}:\n{}",
            child.log_tail(20)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, http)
}

/// Posts a Slack request (body and signature as given) to the API at `http`; the status.
async fn post_slack(http: SocketAddr, body: &str, ts: i64, sig: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("http://{http}/slack/interactions"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", sig)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Posts a Teams vote link to the API at `http` as `token`; (status, text).
async fn post_link(http: SocketAddr, url: &str, token: &str) -> (u16, String) {
    let link = url.split("link=").nth(1).unwrap().to_owned();
    let r = reqwest::Client::new()
        .post(format!("http://{http}/teams/vote"))
        .header("authorization", format!("Bearer {token}"))
        .form(&[("link", link)])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Two API processes receive the same signed Slack request at once: it counts once (the
/// request is the vote's update id, and Temporal runs an update id once). After a restart,
/// the new process still refuses it, and a used Teams link too: the record is the ticket's
/// history, not a process's memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_and_restarts_count_a_request_once_and_a_used_link_stays_used() {
    let c = chat("replicas").await;
    let (a, http_a) = api_process(&c, "api-a").await;
    let (b, http_b) = api_process(&c, "api-b").await;
    let (h, id) = c.start("slack").await;

    let body = form(&c.button("U_CAROL", "approve", &id, "twice"));
    let ts = jiff::Timestamp::now().as_second();
    let sig = python_sign(ts, &body, SIGNING);
    let (sa, sb) = tokio::join!(
        post_slack(http_a, &body, ts, &sig),
        post_slack(http_b, &body, ts, &sig)
    );
    assert_eq!((sa, sb), (200, 200));
    let answers = |n: usize| {
        let slack = &c.slack;
        async move {
            let deadline = std::time::Instant::now() + T;
            loop {
                let got: Vec<String> = slack
                    .calls("response_url")
                    .into_iter()
                    .filter(|r| r["response_id"] == "twice")
                    .map(|r| r["text"].as_str().unwrap_or_default().to_owned())
                    .collect();
                if got.len() >= n {
                    return got;
                }
                assert!(std::time::Instant::now() < deadline, "answers: {got:?}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let got = answers(2).await;
    assert!(got.contains(&"counted; approved".to_owned()), "{got:?}");
    for a in &got {
        assert!(
            a == "counted; approved" || a.contains("counted already"),
            "the second replica's copy is the same vote, not a second one: {got:?}"
        );
    }
    c.app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    let t = c.app.status(&h).await;
    assert_eq!(t.approval.unwrap().votes.len(), 1, "one vote");

    // A restarted replica has an empty memory; the ticket still knows the request.
    drop(a);
    let (_c2, http_c) = api_process(&c, "api-c").await;
    assert_eq!(post_slack(http_c, &body, ts, &sig).await, 200);
    let got = answers(3).await;
    assert!(
        got[2].contains("this request was counted already"),
        "{got:?}"
    );

    // A Teams link used on one replica is refused by a restarted one.
    let (h2, id2) = c.start("teams").await;
    let link = c.teams_link(&id2, "Approve (carol)").await;
    assert_eq!(
        post_link(http_b, &link, "dev:carol").await,
        (200, "counted; approved".to_owned())
    );
    drop(b);
    let (_d, http_d) = api_process(&c, "api-d").await;
    let (code, text) = post_link(http_d, &link, "dev:carol").await;
    assert_eq!(code, 409, "{text}");
    assert!(
        text.contains("used already: each vote link works once"),
        "{text}"
    );
    c.app.wait_for(&h2, T, |t| t.phase == Phase::Active).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_delegates_and_requesters_hear_what_they_need() {
    let c = chat_with("chatroute", CHANNELED).await;
    let (h, id) = c.start_for("route", "Developer").await;
    let for_ticket = |m: &Value| m["blocks"].to_string().contains(&id);
    eventually("the vote message in the plan's channel", || {
        c.slack
            .calls("chat.postMessage")
            .iter()
            .any(|m| m["channel"] == "C_ACCESS" && for_ticket(m))
    })
    .await;
    assert!(
        !c.slack
            .calls("chat.postMessage")
            .iter()
            .any(|m| m["channel"] == "U_CAROL" && for_ticket(m)),
        "direct: false"
    );

    // carol is away: she delegates to frank from Slack; frank hears about it and votes as her.
    assert_eq!(
        c.click(&c.button("U_CAROL", "delegate", &id, "d1")).await.0,
        200
    );
    let submit = |to: &str, hours: &str| {
        json!({
            "type": "view_submission",
            "user": {"id": "U_CAROL"},
            "view": {"callback_id": "delegate", "private_metadata": id,
                     "state": {"values": {"to": {"to": {"value": to}}, "hours": {"hours": {"value": hours}}}}},
        })
    };
    let (_, text) = c.click(&submit("carol", "2")).await;
    assert!(text.contains("cannot delegate to themselves"), "{text}");
    let (code, text) = c.click(&submit("frank", "2")).await;
    assert_eq!(
        (code, text.as_str()),
        (200, "{\"response_action\":\"clear\"}")
    );
    eventually("frank told of the delegation, with the buttons", || {
        c.slack.calls("chat.postMessage").iter().any(|m| {
            m["channel"] == "U_FRANK"
                && m["text"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("A vote was delegated to you")
                && m["blocks"]
                    .to_string()
                    .contains("\"action_id\":\"approve\"")
        })
    })
    .await;
    assert_eq!(
        c.click(&c.button("U_FRANK", "approve", &id, "d2")).await.0,
        200
    );
    assert_eq!(c.answer("d2").await, "counted; approved");
    c.app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    eventually("the channel message shows who approved as whom", || {
        c.slack.calls("chat.update").iter().any(|u| {
            u["channel"] == "C_ACCESS"
                && u["blocks"].to_string().contains("frank approved as carol")
        })
    })
    .await;

    // The requester hears of the approval, the activation, the coming expiry and the end.
    jit_devstack::temporal_client::enable_time_skipping(
        &c.app.client,
        &c.app.stack.namespace,
        &format!("ticket-{id}"),
    )
    .await
    .unwrap();
    assert_eq!(c.app.outcome(&h, T).await.phase, Phase::Expired);
    let to_bob: Vec<String> = c
        .slack
        .calls("chat.postMessage")
        .iter()
        .filter(|m| m["channel"] == "U_BOB" && m["text"].as_str().unwrap_or("").contains(&id))
        .map(|m| {
            m["text"]
                .as_str()
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    for want in [
        "Approved",
        "Access is active",
        "Access expires soon",
        "Ended",
    ] {
        assert!(
            to_bob.iter().any(|t| t.starts_with(want)),
            "{want:?} not in {to_bob:?}"
        );
    }
}

/// Break-glass allowed for ReadOnly, ratified within an hour.
const BREAK_GLASS: &str = r#"
eligibility:
  - { name: engineers, groups: [engineers], accounts: ["*"], permission_sets: [ReadOnly] }
plans:
  - name: emergency
    accounts: ["*"]
    permission_sets: ["*"]
    steps:
      - { name: sre, groups: [sre], quorum: 1 }
    max_duration: 2h
    max_total: 4h
    approval_timeout: 1h
    break_glass_ratify_within: 1h
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_is_announced_in_the_audit_channel() {
    let c = chat_with("chatbreak", BREAK_GLASS).await;
    let mut req = c.app.request("glass", "bob", "bob");
    req.duration = jiff::SignedDuration::from_hours(1);
    req.break_glass = true;
    let h = c.app.start(&req).await;
    let id = req.ticket_id.to_string();
    c.app.wait_for(&h, T, |t| t.phase == Phase::Active).await;
    // temporal-dev.yaml's chat.slack.audit_channel.
    eventually("the audit channel told of the break-glass access", || {
        c.slack.calls("chat.postMessage").iter().any(|m| {
            m["channel"] == "jit-audit"
                && m["text"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("BREAK-GLASS access granted")
                && m["text"].as_str().unwrap_or("").contains(&id)
        })
    })
    .await;
    // The approvers can ratify from Slack.
    eventually("the approvers got the ratification buttons", || {
        c.slack.calls("chat.postMessage").iter().any(|m| {
            m["channel"] == "U_CAROL"
                && m["text"].as_str().unwrap_or("").contains(&id)
                && m["blocks"]
                    .to_string()
                    .contains("\"action_id\":\"approve\"")
        })
    })
    .await;
    assert_eq!(
        c.click(&c.button("U_CAROL", "approve", &id, "g1")).await.0,
        200
    );
    assert_eq!(c.answer("g1").await, "counted; approved");
    c.app
        .wait_for(&h, T, |t| t.ratify_by.is_none() && t.phase == Phase::Active)
        .await;
    h.execute_update(
        jit_contract::ticket::Relinquish,
        jit_contract::ticket::EndInput {
            by: crate::support::user("bob"),
            reason: None,
        },
        temporalio_client::WorkflowExecuteUpdateOptions::default(),
    )
    .await
    .expect("bob is done");
    assert_eq!(c.app.outcome(&h, T).await.phase, Phase::Relinquished);
}
