//! [`FakeSlack`]: a local stand-in for the Slack Web API (real HTTP on a free port) that
//! records every call, for the chat tests. It also takes `response_url` answers and Teams
//! webhook posts.
//!
//! `POST /api/<method>`: `chat.postMessage` (answers a channel and a fresh `ts`),
//! `chat.update`, `views.open`, `users.lookupByEmail` and `users.info` (from the users it was
//! given). `POST /response/<id>` and `POST /teams` record their bodies; `GET /calls/<method>`
//! lists what was recorded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde_json::{Value, json};

/// One recorded call: the method (or `response_url`, `teams`) and its body as JSON.
#[derive(Debug, Clone)]
pub struct SlackCall {
    pub method: String,
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    calls: Mutex<Vec<SlackCall>>,
    /// Slack user id -> email.
    users: HashMap<String, String>,
    next_ts: Mutex<u64>,
}

pub struct FakeSlack {
    /// The Web API's base URL (`…/api`).
    pub api_url: String,
    /// Where the fake takes `response_url` posts (append an id).
    pub response_base: String,
    /// The fake Teams webhook.
    pub teams_url: String,
    inner: Arc<Inner>,
}

impl FakeSlack {
    /// Starts on a free loopback port with these (Slack user id, email) users.
    pub async fn start(users: &[(&str, &str)]) -> anyhow::Result<FakeSlack> {
        Self::start_on(0, users).await
    }

    /// Like [`FakeSlack::start`] on `port` (0: any free one).
    pub async fn start_on(port: u16, users: &[(&str, &str)]) -> anyhow::Result<FakeSlack> {
        let inner = Arc::new(Inner {
            users: users
                .iter()
                .map(|(id, e)| ((*id).to_owned(), (*e).to_owned()))
                .collect(),
            ..Default::default()
        });
        let app = Router::new()
            .route("/api/{method}", post(api))
            .route("/response/{id}", post(response))
            .route("/teams", post(teams))
            .route("/calls/{method}", get(calls))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(FakeSlack {
            api_url: format!("http://{addr}/api"),
            response_base: format!("http://{addr}/response"),
            teams_url: format!("http://{addr}/teams"),
            inner,
        })
    }

    /// Every call of `method` so far, oldest first.
    pub fn calls(&self, method: &str) -> Vec<Value> {
        self.inner
            .calls
            .lock()
            .map(|c| {
                c.iter()
                    .filter(|x| x.method == method)
                    .map(|x| x.body.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn record(inner: &Inner, method: &str, body: Value) {
    if let Ok(mut c) = inner.calls.lock() {
        c.push(SlackCall {
            method: method.to_owned(),
            body,
        });
    }
}

/// JSON bodies as they are; form bodies as an object of their fields.
fn parse(headers: &HeaderMap, body: &[u8]) -> Value {
    let json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if json {
        serde_json::from_slice(body).unwrap_or(Value::Null)
    } else {
        let fields: HashMap<String, String> = url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        json!(fields)
    }
}

async fn api(
    State(inner): State<Arc<Inner>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::Json<Value> {
    let b = parse(&headers, &body);
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer xoxb-"));
    record(&inner, &method, b.clone());
    if !authorized {
        return axum::Json(json!({"ok": false, "error": "not_authed"}));
    }
    let answer = match method.as_str() {
        "chat.postMessage" => {
            let mut n = inner.next_ts.lock().unwrap_or_else(|p| p.into_inner());
            *n += 1;
            json!({"ok": true, "channel": b["channel"], "ts": format!("1700000000.{:06}", *n)})
        }
        "chat.update" | "views.open" => json!({"ok": true}),
        "users.lookupByEmail" => {
            let email = b["email"].as_str().unwrap_or_default();
            match inner.users.iter().find(|(_, e)| *e == email) {
                Some((id, _)) => json!({"ok": true, "user": {"id": id}}),
                None => json!({"ok": false, "error": "users_not_found"}),
            }
        }
        "users.info" => {
            let id = b["user"].as_str().unwrap_or_default();
            match inner.users.get(id) {
                Some(e) => json!({"ok": true, "user": {"id": id, "profile": {"email": e}}}),
                None => json!({"ok": false, "error": "user_not_found"}),
            }
        }
        _ => json!({"ok": false, "error": "unknown_method"}),
    };
    axum::Json(answer)
}

async fn response(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> &'static str {
    let mut b = parse(&headers, &body);
    b["response_id"] = json!(id);
    record(&inner, "response_url", b);
    "ok"
}

/// `GET /calls/<method>`: what was recorded (for the demo and for people looking).
async fn calls(State(inner): State<Arc<Inner>>, Path(method): Path<String>) -> axum::Json<Value> {
    let list: Vec<Value> = inner
        .calls
        .lock()
        .map(|c| {
            c.iter()
                .filter(|x| x.method == method)
                .map(|x| x.body.clone())
                .collect()
        })
        .unwrap_or_default();
    axum::Json(Value::Array(list))
}

async fn teams(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> &'static str {
    record(&inner, "teams", parse(&headers, &body));
    "accepted"
}
