//! The fault-injecting proxy in front of the AWS sandbox.
//!
//! moto answers synchronously and never throttles or conflicts; real Identity Center does
//! both. The proxy makes the sandbox behave like AWS, per operation (the `X-Amz-Target`
//! header's operation name) and optionally only for requests whose body contains a string
//! (an account id: each test uses its own account, so tests running side by side never see
//! each other's faults):
//!
//! - [`Fault::Throttle`], [`Fault::Conflict`], [`Fault::ServerError`]: answer with that error
//!   instead of forwarding, for the next `times` matching calls;
//! - [`Fault::Async`]: for `CreateAccountAssignment` / `DeleteAccountAssignment`, answer
//!   IN_PROGRESS and keep answering IN_PROGRESS to `polls` status polls, then SUCCEEDED (the
//!   operation was forwarded) or FAILED with a reason (it was never forwarded: nothing
//!   changed in the sandbox, as with AWS);
//! - [`Fault::Delay`]: forward, but answer only after a delay (latency, or a window in which
//!   a test kills the worker after AWS acted but before the caller heard).
//! - [`Fault::Hold`]: wait, then forward and answer (AWS acts late: a window in which others
//!   still see the state before the call).
//!
//! With [`FaultProxy::enforce`] it also keeps AWS's own limits on Identity Center calls:
//! more than `requests_per_second` in the last second, or a create/delete while
//! `outstanding` operations are still IN_PROGRESS, is answered ThrottlingException; every
//! create/delete becomes asynchronous.
//!
//! Every call is recorded ([`FaultProxy::calls`], with when it arrived) so tests can count
//! what reached "AWS".

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

/// What to do to a matching call.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    Throttle,
    Conflict,
    ServerError,
    Delay(Duration),
    Hold(Duration),
    Async { polls: u32, outcome: AsyncOutcome },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsyncOutcome {
    Succeeded,
    Failed(String),
}

/// One rule: `fault` for the next `times` calls of `operation` whose body contains
/// `body_contains` (if set).
#[derive(Debug, Clone)]
pub struct Rule {
    pub operation: String,
    pub body_contains: Option<String>,
    pub fault: Fault,
    pub times: u32,
}

impl Rule {
    pub fn new(operation: &str, fault: Fault) -> Self {
        Self {
            operation: operation.to_owned(),
            body_contains: None,
            fault,
            times: 1,
        }
    }

    /// Only for calls whose body contains `s` (e.g. a test's own account id).
    pub fn matching(mut self, s: &str) -> Self {
        self.body_contains = Some(s.to_owned());
        self
    }

    pub fn times(mut self, n: u32) -> Self {
        self.times = n;
        self
    }
}

/// One call that reached the proxy.
#[derive(Debug, Clone)]
pub struct Call {
    pub operation: String,
    pub body: String,
    /// The fault applied, if any.
    pub fault: Option<Fault>,
    /// The HTTP status answered.
    pub status: u16,
    /// For an operation the proxy made asynchronous: the request id it answered with.
    pub request_id: Option<String>,
    /// The service (`SWBExternalService` is Identity Center).
    pub service: String,
    /// When it arrived, since the proxy started.
    pub at: Duration,
    /// Refused by the enforced limits (see [`FaultProxy::enforce`]).
    pub limited: bool,
}

/// The service name of Identity Center's (sso-admin) operations in `X-Amz-Target`.
pub const IDENTITY_CENTER: &str = "SWBExternalService";

/// AWS's limits on Identity Center, kept by the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsLimits {
    pub requests_per_second: u32,
    pub outstanding: u32,
    /// Status polls answered IN_PROGRESS before an operation succeeds.
    pub async_polls: u32,
}

#[derive(Debug)]
struct PendingOp {
    polls_left: u32,
    outcome: AsyncOutcome,
    /// The status object (AccountAssignment{Creation,Deletion}Status) to answer with.
    status: Value,
    /// A terminal status was answered.
    finished: bool,
}

#[derive(Debug, Default)]
struct Inner {
    rules: Vec<Rule>,
    calls: Vec<Call>,
    pending: HashMap<String, PendingOp>,
    next_id: u64,
    limits: Option<AwsLimits>,
    /// Identity Center calls admitted in the last second.
    recent: VecDeque<Instant>,
    /// The most operations ever IN_PROGRESS at once.
    peak_outstanding: u32,
}

/// A handle to a running proxy. Cheap to clone.
#[derive(Debug, Clone)]
pub struct FaultProxy {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

#[derive(Clone)]
struct Ctx {
    started: Instant,
    upstream: String,
    http: reqwest::Client,
    inner: Arc<Mutex<Inner>>,
}

impl FaultProxy {
    /// Starts the proxy on a free loopback port, forwarding to `upstream` (the sandbox URL).
    /// It runs on the current tokio runtime until that runtime stops.
    pub async fn start(upstream: &str) -> anyhow::Result<Self> {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let ctx = Ctx {
            started: Instant::now(),
            upstream: upstream.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            inner: inner.clone(),
        };
        let app = axum::Router::new().fallback(handle).with_state(ctx);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "fault proxy stopped");
            }
        });
        Ok(Self { addr, inner })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn add(&self, rule: Rule) {
        self.lock().rules.push(rule);
    }

    /// All calls so far.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Calls of `operation` whose body contains `needle`.
    pub fn calls_of(&self, operation: &str, needle: &str) -> Vec<Call> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.operation == operation && c.body.contains(needle))
            .cloned()
            .collect()
    }

    /// Rules not used up yet that match `needle`.
    /// Keeps AWS's limits from now on (see the module doc).
    pub fn enforce(&self, limits: AwsLimits) {
        self.lock().limits = Some(limits);
    }

    /// The most asynchronous operations that were IN_PROGRESS at once.
    pub fn peak_outstanding(&self) -> u32 {
        self.lock().peak_outstanding
    }

    /// Asynchronous operations IN_PROGRESS now.
    pub fn outstanding(&self) -> u32 {
        outstanding(&self.lock())
    }

    pub fn unused_rules(&self, needle: &str) -> Vec<Rule> {
        self.lock()
            .rules
            .iter()
            .filter(|r| r.times > 0 && r.body_contains.as_deref() == Some(needle))
            .cloned()
            .collect()
    }
}

fn outstanding(inner: &Inner) -> u32 {
    inner.pending.values().filter(|p| !p.finished).count() as u32
}

fn service_of(headers: &HeaderMap) -> String {
    headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.split('.').next())
        .unwrap_or("")
        .to_owned()
}

fn operation_of(headers: &HeaderMap) -> String {
    headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or("")
        .to_owned()
}

fn aws_error(status: StatusCode, code: &str, message: &str) -> Response {
    let mut r = Response::new(Body::from(
        json!({"__type": code, "Message": message}).to_string(),
    ));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        "x-amzn-errortype",
        HeaderValue::from_str(code).unwrap_or(HeaderValue::from_static("Unknown")),
    );
    h.insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    h.insert("x-amzn-requestid", HeaderValue::from_static("fault-proxy"));
    r
}

fn json_response(v: &Value) -> Response {
    let mut r = Response::new(Body::from(v.to_string()));
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    r
}

/// Which status object key an operation's answer carries.
fn status_key(op: &str) -> Option<&'static str> {
    match op {
        "CreateAccountAssignment" | "DescribeAccountAssignmentCreationStatus" => {
            Some("AccountAssignmentCreationStatus")
        }
        "DeleteAccountAssignment" | "DescribeAccountAssignmentDeletionStatus" => {
            Some("AccountAssignmentDeletionStatus")
        }
        _ => None,
    }
}

async fn handle(State(ctx): State<Ctx>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    let op = operation_of(&parts.headers);
    let service = service_of(&parts.headers);
    let text = String::from_utf8_lossy(&body).into_owned();
    let at = ctx.started.elapsed();

    // Pick a matching rule (and use it up) under the lock; act after releasing it.
    let (fault, limited) = {
        let mut inner = ctx
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let limited = admit(&mut inner, &service, &op);
        let mut fault = inner
            .rules
            .iter_mut()
            .find(|r| {
                r.times > 0
                    && r.operation == op
                    && r.body_contains.as_deref().is_none_or(|s| text.contains(s))
            })
            .map(|r| {
                r.times -= 1;
                r.fault.clone()
            });
        if let Some(l) = inner.limits
            && fault.is_none()
            && service == IDENTITY_CENTER
            && matches!(
                op.as_str(),
                "CreateAccountAssignment" | "DeleteAccountAssignment"
            )
        {
            fault = Some(Fault::Async {
                polls: l.async_polls,
                outcome: AsyncOutcome::Succeeded,
            });
        }
        (fault, limited)
    };
    if let Some(why) = limited {
        let r = aws_error(StatusCode::BAD_REQUEST, "ThrottlingException", why);
        record(
            &ctx,
            Recorded {
                op: &op,
                service: &service,
                body: &text,
                fault: Some(Fault::Throttle),
                status: 400,
                request_id: None,
                at,
                limited: true,
            },
        );
        return r;
    }

    let mut request_id = None;
    let response = match (&fault, op.as_str()) {
        (Some(Fault::Throttle), _) => aws_error(
            StatusCode::BAD_REQUEST,
            "ThrottlingException",
            "Rate exceeded (fault proxy)",
        ),
        (Some(Fault::Conflict), _) => aws_error(
            StatusCode::CONFLICT,
            "ConflictException",
            "Another operation on this permission set is in progress (fault proxy)",
        ),
        (Some(Fault::ServerError), _) => aws_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerException",
            "Internal failure (fault proxy)",
        ),
        (Some(Fault::Delay(d) | Fault::Hold(d)), _) => {
            let hold = matches!(fault, Some(Fault::Hold(_)));
            if hold {
                tokio::time::sleep(*d).await;
            }
            let r = forward(&ctx, &parts, body.clone()).await;
            record(
                &ctx,
                Recorded {
                    op: &op,
                    service: &service,
                    body: &text,
                    fault: fault.clone(),
                    status: r.status().as_u16(),
                    request_id: None,
                    at,
                    limited: false,
                },
            );
            if !hold {
                tokio::time::sleep(*d).await;
            }
            return r;
        }
        (Some(Fault::Async { polls, outcome }), _) => {
            let (r, id) = start_async(
                &ctx,
                &parts,
                body.clone(),
                &op,
                &text,
                *polls,
                outcome.clone(),
            )
            .await;
            request_id = id;
            r
        }
        (
            None,
            "DescribeAccountAssignmentCreationStatus" | "DescribeAccountAssignmentDeletionStatus",
        ) => match poll_async(&ctx, &op, &text) {
            Some(r) => r,
            None => forward(&ctx, &parts, body.clone()).await,
        },
        (None, _) => forward(&ctx, &parts, body.clone()).await,
    };
    record(
        &ctx,
        Recorded {
            op: &op,
            service: &service,
            body: &text,
            fault,
            status: response.status().as_u16(),
            request_id,
            at,
            limited: false,
        },
    );
    response
}

/// With limits enforced: whether an Identity Center call is refused (and why).
fn admit(inner: &mut Inner, service: &str, op: &str) -> Option<&'static str> {
    let l = inner.limits?;
    if service != IDENTITY_CENTER {
        return None;
    }
    let now = Instant::now();
    while inner
        .recent
        .front()
        .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
    {
        inner.recent.pop_front();
    }
    if inner.recent.len() >= l.requests_per_second as usize {
        return Some("Rate exceeded (fault proxy: requests per second)");
    }
    if matches!(op, "CreateAccountAssignment" | "DeleteAccountAssignment")
        && outstanding(inner) >= l.outstanding
    {
        return Some("Too many outstanding assignment operations (fault proxy)");
    }
    inner.recent.push_back(now);
    None
}

struct Recorded<'a> {
    op: &'a str,
    service: &'a str,
    body: &'a str,
    fault: Option<Fault>,
    status: u16,
    request_id: Option<String>,
    at: Duration,
    limited: bool,
}

fn record(ctx: &Ctx, r: Recorded<'_>) {
    ctx.inner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .calls
        .push(Call {
            operation: r.op.to_owned(),
            body: r.body.to_owned(),
            fault: r.fault,
            status: r.status,
            request_id: r.request_id,
            service: r.service.to_owned(),
            at: r.at,
            limited: r.limited,
        });
}

async fn forward(ctx: &Ctx, parts: &axum::http::request::Parts, body: Bytes) -> Response {
    let url = format!(
        "{}{}",
        ctx.upstream,
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut req = ctx.http.request(parts.method.clone(), url).body(body);
    for (k, v) in &parts.headers {
        if k != "host" && k != "content-length" {
            req = req.header(k, v);
        }
    }
    match req.send().await {
        Ok(r) => {
            let status = r.status();
            let headers = r.headers().clone();
            let bytes = r.bytes().await.unwrap_or_default();
            let mut out = Response::new(Body::from(bytes));
            *out.status_mut() = status;
            for (k, v) in &headers {
                if k != "content-length" && k != "transfer-encoding" {
                    out.headers_mut().insert(k, v.clone());
                }
            }
            out
        }
        Err(e) => aws_error(
            StatusCode::BAD_GATEWAY,
            "InternalServerException",
            &format!("fault proxy could not reach the sandbox: {e}"),
        ),
    }
}

/// Create/Delete with an asynchronous outcome: answer IN_PROGRESS now, the outcome after
/// `polls` status polls.
async fn start_async(
    ctx: &Ctx,
    parts: &axum::http::request::Parts,
    body: Bytes,
    op: &str,
    text: &str,
    polls: u32,
    outcome: AsyncOutcome,
) -> (Response, Option<String>) {
    let Some(key) = status_key(op) else {
        return (forward(ctx, parts, body).await, None);
    };
    let mut status = match outcome {
        AsyncOutcome::Succeeded => {
            let r = forward(ctx, parts, body).await;
            if !r.status().is_success() {
                return (r, None);
            }
            let bytes = axum::body::to_bytes(r.into_body(), 16 << 20)
                .await
                .unwrap_or_default();
            let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            v.get(key).cloned().unwrap_or_else(|| json!({}))
        }
        AsyncOutcome::Failed(_) => {
            // Never forwarded: a FAILED operation changes nothing, as with AWS.
            let req: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            json!({
                "PermissionSetArn": req.get("PermissionSetArn"),
                "PrincipalId": req.get("PrincipalId"),
                "PrincipalType": req.get("PrincipalType"),
                "TargetId": req.get("TargetId"),
                "TargetType": req.get("TargetType"),
            })
        }
    };
    let request_id = {
        let mut inner = ctx
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner.next_id += 1;
        let id = format!("fault-proxy-{:08}", inner.next_id);
        status["RequestId"] = json!(id);
        status["Status"] = json!("IN_PROGRESS");
        inner.pending.insert(
            id.clone(),
            PendingOp {
                polls_left: polls,
                outcome,
                status: status.clone(),
                finished: false,
            },
        );
        let now = outstanding(&inner);
        inner.peak_outstanding = inner.peak_outstanding.max(now);
        id
    };
    tracing::debug!(%request_id, op, "fault proxy: answering IN_PROGRESS");
    (json_response(&json!({ key: status })), Some(request_id))
}

/// A status poll of a request the proxy made asynchronous; `None` if it is not one of ours.
fn poll_async(ctx: &Ctx, op: &str, text: &str) -> Option<Response> {
    let key = status_key(op)?;
    let req: Value = serde_json::from_str(text).ok()?;
    let id = req
        .get("AccountAssignmentCreationRequestId")
        .or_else(|| req.get("AccountAssignmentDeletionRequestId"))?
        .as_str()?
        .to_owned();
    let mut inner = ctx
        .inner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let p = inner.pending.get_mut(&id)?;
    let mut status = p.status.clone();
    if p.polls_left > 0 {
        p.polls_left -= 1;
    } else {
        p.finished = true;
        match &p.outcome {
            AsyncOutcome::Succeeded => status["Status"] = json!("SUCCEEDED"),
            AsyncOutcome::Failed(reason) => {
                status["Status"] = json!("FAILED");
                status["FailureReason"] = json!(reason);
            }
        }
    }
    Some(json_response(&json!({ key: status })))
}
