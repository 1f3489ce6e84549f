//! The chat endpoints (HTTP, axum): Slack's interactive requests and Teams vote links. Both
//! act through the same validated path as gRPC ([`TicketApi::vote_as`]), so a click meets the
//! same rules and the same error messages.
//!
//! - `POST /slack/interactions`: the v0 signature (HMAC-SHA256 over `v0:ts:body`,
//!   constant-time compare) and a timestamp within 5 minutes are required, and a request is
//!   accepted once (replays are refused: at once by this process, and across replicas and
//!   restarts by the ticket, the request being the vote's update id); the Slack user is mapped to the identity-store user
//!   by email. Approve votes at once; Deny and Delegate open a modal; outcomes go back to the
//!   clicker ephemerally (or as modal errors).
//! - `GET /teams/vote?link=…`: a signed, expiring link made for one approver; the page asks
//!   them to sign in. `POST /teams/vote` (the link, and `authorization: Bearer …` or a `token`
//!   field): the signed-in user must be the link's approver; each link works once (its nonce
//!   is the vote's update id: the ticket refuses it a second time, on any replica).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::{SignedDuration, Timestamp};
use jit_chat::slack::{self, ReplayGuard, SlackClient};
use jit_chat::teams::{UsedLinks, verify_link};
use jit_config::{ChatSettings, Secret};
use jit_domain::UserName;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::service::TicketApi;

#[derive(Clone)]
pub struct ChatHttp {
    inner: Arc<Inner>,
    metrics: Option<Arc<crate::metrics::ApiMetrics>>,
}

struct Inner {
    api: TicketApi,
    slack: Option<SlackSide>,
    link_secret: Option<Secret>,
    used_links: UsedLinks,
}

struct SlackSide {
    client: SlackClient,
    signing_secret: Secret,
    replays: ReplayGuard,
    /// Slack user id -> jit user, for a few minutes.
    users: Mutex<HashMap<String, (Instant, Option<UserName>)>>,
}

const USER_CACHE: Duration = Duration::from_secs(300);

impl ChatHttp {
    pub fn new(api: TicketApi, chat: &ChatSettings) -> Self {
        let slack = chat.slack.as_ref().and_then(|s| {
            Some(SlackSide {
                client: SlackClient::new(&s.api_url, s.bot_token.expose()),
                signing_secret: s.signing_secret.clone()?,
                replays: ReplayGuard::default(),
                users: Mutex::default(),
            })
        });
        Self {
            inner: Arc::new(Inner {
                api,
                slack,
                link_secret: chat.link_secret.clone(),
                used_links: UsedLinks::default(),
            }),
            metrics: None,
        }
    }

    /// Counts every request in `metrics` by endpoint and answer.
    pub fn with_metrics(mut self, metrics: Option<Arc<crate::metrics::ApiMetrics>>) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn router(self) -> Router {
        let metrics = self.metrics.clone();
        Router::new()
            .route("/slack/interactions", post(slack_interaction))
            .route("/teams/vote", get(teams_page).post(teams_vote))
            .with_state(self)
            .layer(axum::middleware::from_fn(
                move |req: axum::extract::Request, next: axum::middleware::Next| {
                    let metrics = metrics.clone();
                    async move {
                        let endpoint = match (req.method().as_str(), req.uri().path()) {
                            (_, "/slack/interactions") => "slack",
                            ("GET", "/teams/vote") => "teams_page",
                            (_, "/teams/vote") => "teams_vote",
                            _ => "other",
                        };
                        let resp = next.run(req).await;
                        if let Some(m) = &metrics {
                            m.chat_request(endpoint, resp.status().as_u16());
                        }
                        resp
                    }
                },
            ))
    }
}

fn text(code: StatusCode, s: impl Into<String>) -> Response {
    (code, s.into()).into_response()
}

async fn slack_interaction(
    State(chat): State<ChatHttp>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(side) = &chat.inner.slack else {
        return text(StatusCode::NOT_FOUND, "Slack is not configured");
    };
    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    let now = Timestamp::now();
    let sig = h("x-slack-signature");
    if let Err(e) = slack::verify(
        side.signing_secret.expose().as_bytes(),
        h("x-slack-request-timestamp"),
        sig,
        &body,
        now,
    ) {
        tracing::warn!(error = %e, "Slack request refused");
        return text(StatusCode::UNAUTHORIZED, format!("refused: {e}"));
    }
    if let Err(e) = side.replays.check(sig.unwrap_or_default(), now) {
        tracing::warn!(error = %e, "Slack request refused");
        return text(StatusCode::UNAUTHORIZED, format!("refused: {e}"));
    }
    // What makes the request's vote count once across replicas and restarts: its update id.
    let once = once_key("slack", sig.unwrap_or_default());
    let payload: Option<Value> = serde_urlencoded::from_bytes::<HashMap<String, String>>(&body)
        .ok()
        .and_then(|f| serde_json::from_str(f.get("payload")?).ok());
    let Some(p) = payload else {
        return text(StatusCode::BAD_REQUEST, "malformed: no JSON payload field");
    };
    let slack_user = p["user"]["id"].as_str().unwrap_or_default().to_owned();
    match p["type"].as_str() {
        Some("block_actions") => {
            let action = &p["actions"][0];
            let ticket = action["value"].as_str().unwrap_or_default().to_owned();
            let response_url = p["response_url"].as_str().unwrap_or_default().to_owned();
            let trigger = p["trigger_id"].as_str().unwrap_or_default();
            let answer = match action["action_id"].as_str() {
                Some("approve") => match chat.user_of(side, &slack_user).await {
                    Err(e) => e,
                    Ok(user) => match chat
                        .inner
                        .api
                        .vote_as(user, &ticket, None, true, Some(&once))
                        .await
                    {
                        Ok(v) => v.effect,
                        Err(s) => s.message().to_owned(),
                    },
                },
                Some("deny") => match side
                    .client
                    .open_view(trigger, slack::deny_modal(&ticket))
                    .await
                {
                    Ok(()) => return StatusCode::OK.into_response(),
                    Err(e) => format!("could not open the form: {e}"),
                },
                Some("delegate") => match side
                    .client
                    .open_view(trigger, slack::delegate_modal(&ticket))
                    .await
                {
                    Ok(()) => return StatusCode::OK.into_response(),
                    Err(e) => format!("could not open the form: {e}"),
                },
                _ => return text(StatusCode::BAD_REQUEST, "malformed: unknown action"),
            };
            if !response_url.is_empty()
                && let Err(e) = side.client.respond_ephemeral(&response_url, &answer).await
            {
                tracing::warn!(error = %e, "could not answer the clicker");
            }
            StatusCode::OK.into_response()
        }
        Some("view_submission") => {
            let view = &p["view"];
            let ticket = view["private_metadata"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let values = &view["state"]["values"];
            let user = match chat.user_of(side, &slack_user).await {
                Ok(u) => u,
                Err(e) => return modal_error("reason", &e),
            };
            match view["callback_id"].as_str() {
                Some("deny") => {
                    let reason = values["reason"]["reason"]["value"]
                        .as_str()
                        .unwrap_or_default();
                    let reason = match crate::door::note("reason", reason) {
                        Ok(Some(r)) => r,
                        Ok(None) => {
                            return modal_error("reason", "say why (the requester sees it)");
                        }
                        Err(s) => return modal_error("reason", s.message()),
                    };
                    match chat
                        .inner
                        .api
                        .vote_as(user, &ticket, Some(reason), false, Some(&once))
                        .await
                    {
                        Ok(_) => Json(json!({"response_action": "clear"})).into_response(),
                        Err(s) => modal_error("reason", s.message()),
                    }
                }
                Some("delegate") => {
                    let to = values["to"]["to"]["value"].as_str().unwrap_or_default();
                    let hours: i64 = values["hours"]["hours"]["value"]
                        .as_str()
                        .and_then(|h| h.trim().parse().ok())
                        .unwrap_or(0);
                    let to = match crate::door::user("to", to.trim()) {
                        Ok(to) => to,
                        Err(s) => return modal_error("to", s.message()),
                    };
                    if !(1..=720).contains(&hours) {
                        return modal_error("hours", "between 1 and 720 hours");
                    }
                    let until = now + SignedDuration::from_hours(hours);
                    match chat
                        .inner
                        .api
                        .delegate_as(
                            user,
                            &ticket,
                            to,
                            until,
                            Some("delegated from Slack".into()),
                            Some(&once),
                        )
                        .await
                    {
                        Ok(_) => Json(json!({"response_action": "clear"})).into_response(),
                        Err(s) => modal_error("to", s.message()),
                    }
                }
                _ => text(StatusCode::BAD_REQUEST, "malformed: unknown form"),
            }
        }
        _ => text(
            StatusCode::BAD_REQUEST,
            "malformed: unknown interaction type",
        ),
    }
}

/// An update id for a request that counts once: `<channel>-` and a digest of what identifies
/// it (a Slack signature, a link's nonce), so the history holds no replayable secret.
fn once_key(channel: &str, id: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(id.as_bytes());
    format!("{channel}-{}", hex::encode(&d[..16]))
}

fn modal_error(block: &str, message: &str) -> Response {
    Json(json!({"response_action": "errors", "errors": { block: message }})).into_response()
}

impl ChatHttp {
    /// The jit user behind a Slack user: their Slack email, looked up in the identity store.
    async fn user_of(&self, side: &SlackSide, slack_id: &str) -> Result<UserName, String> {
        if let Ok(g) = side.users.lock()
            && let Some((at, u)) = g.get(slack_id)
            && at.elapsed() < USER_CACHE
        {
            return u.clone().ok_or_else(|| not_mapped(slack_id));
        }
        let email = side
            .client
            .email_of(slack_id)
            .await
            .map_err(|e| format!("could not look you up in Slack: {e}"))?
            .ok_or_else(|| not_mapped(slack_id))?;
        let user = self
            .inner
            .api
            .user_by_email(&email)
            .await
            .map_err(|s| s.message().to_owned())?;
        if let Ok(mut g) = side.users.lock() {
            g.insert(slack_id.to_owned(), (Instant::now(), user.clone()));
        }
        user.ok_or_else(|| {
            format!(
                "not allowed: {email} is not a user of the directory, so your vote cannot count"
            )
        })
    }
}

fn not_mapped(slack_id: &str) -> String {
    format!("not allowed: Slack user {slack_id} has no email jit knows")
}

#[derive(Deserialize)]
struct LinkQuery {
    link: String,
}

async fn teams_page(State(chat): State<ChatHttp>, Query(q): Query<LinkQuery>) -> Response {
    let Some(secret) = &chat.inner.link_secret else {
        return text(StatusCode::NOT_FOUND, "vote links are not configured");
    };
    match verify_link(secret.expose().as_bytes(), &q.link, Timestamp::now()) {
        Err(e) => text(StatusCode::FORBIDDEN, format!("{e}")),
        Ok(l) => Html(format!(
            "<!doctype html><title>jit: {d} ticket {t}</title><h1>{d} ticket {t}</h1>\
             <p>This link is for <b>{a}</b>. Sign in to vote.</p>\
             <form method=post action=\"/teams/vote\"><input type=hidden name=link value=\"{link}\">\
             <label>Token <input type=password name=token></label> <button>{d}</button></form>",
            d = if l.d == "approve" { "Approve" } else { "Deny" },
            t = html(&l.t),
            a = html(&l.a),
            link = html(&q.link),
        ))
        .into_response(),
    }
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[derive(Deserialize)]
struct VoteForm {
    link: String,
    #[serde(default)]
    token: Option<String>,
}

async fn teams_vote(
    State(chat): State<ChatHttp>,
    headers: HeaderMap,
    axum::Form(f): axum::Form<VoteForm>,
) -> Response {
    let Some(secret) = &chat.inner.link_secret else {
        return text(StatusCode::NOT_FOUND, "vote links are not configured");
    };
    let now = Timestamp::now();
    let link = match verify_link(secret.expose().as_bytes(), &f.link, now) {
        Ok(l) => l,
        Err(e) => return text(StatusCode::FORBIDDEN, format!("{e}")),
    };
    // The approver signs in first: the same authentication as the gRPC API.
    let header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| f.token.as_ref().map(|t| format!("Bearer {t}")));
    let caller = match chat.inner.api.authenticate(header.as_deref()).await {
        Ok(c) => c,
        Err(s) => return text(StatusCode::UNAUTHORIZED, s.message()),
    };
    if caller.subject != link.a {
        return text(
            StatusCode::FORBIDDEN,
            format!(
                "this link is for {}, and you are signed in as {}",
                link.a, caller.subject
            ),
        );
    }
    if let Err(e) = chat.inner.used_links.consume(&link, now) {
        return text(StatusCode::CONFLICT, format!("{e}"));
    }
    let Ok(user) = UserName::parse(&caller.subject) else {
        return text(StatusCode::UNAUTHORIZED, "not a user name");
    };
    match chat
        .inner
        .api
        .vote_as(
            user,
            &link.t,
            Some("voted from Teams".into()),
            link.d == "approve",
            Some(&once_key("teams-link", &link.n)),
        )
        .await
    {
        Ok(v) => text(StatusCode::OK, v.effect),
        Err(s) if s.code() == tonic::Code::AlreadyExists => text(
            StatusCode::CONFLICT,
            "this link was used already: each vote link works once",
        ),
        Err(s) => text(StatusCode::FORBIDDEN, s.message()),
    }
}
