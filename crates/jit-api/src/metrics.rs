//! The API's Prometheus metrics (`api.metrics`, `JIT_API_METRICS_ADDRESS`), served by the
//! Temporal SDK's exporter like the worker's. Labels are bounded: methods of
//! `jit.v1.TicketService` (anything else is `other`), gRPC code names, failure reasons, chat
//! endpoints and HTTP status codes — never a user or a ticket.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `jit_api_rpcs_total` | counter | `method`, `code` (`OK`, `PermissionDenied`, …) |
//! | `jit_api_rpc_latency_seconds` | histogram | `method`, `code` |
//! | `jit_api_auth_failures_total` | counter | `reason` ([`failure_reason`]) |
//! | `jit_api_chat_requests_total` | counter | `endpoint` (`slack`, `teams_page`, `teams_vote`), `status` (HTTP code) |
//!
//! The API's Temporal client adds the SDK's `temporal_request*` series.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use jit_temporal::metrics::params;
use temporalio_common::telemetry::metrics::{
    CoreMeter, Counter, HistogramDuration, MetricAttributes, MetricKeyValue, NewAttributes,
    TemporalMeter,
};

/// The instruments over one exporter.
pub struct ApiMetrics {
    meter: Arc<dyn CoreMeter>,
    rpcs: Counter,
    rpc_latency: HistogramDuration,
    auth_failures: Counter,
    chat: Counter,
    /// Where `/metrics` is served, and its server task.
    served: (SocketAddr, tokio::task::AbortHandle),
    /// For the Temporal client's request metrics.
    client_meter: Option<TemporalMeter>,
}

impl std::fmt::Debug for ApiMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiMetrics")
            .field("address", &self.served.0)
            .finish_non_exhaustive()
    }
}

impl ApiMetrics {
    /// Starts the exporter on `addr` (port 0: any free one).
    pub fn serve(addr: SocketAddr) -> anyhow::Result<Self> {
        use temporalio_common::telemetry::HistogramBucketOverrides;
        let exporter = jit_temporal::metrics::serve(
            addr,
            HistogramBucketOverrides {
                overrides: [(
                    "jit_api_rpc_latency".to_owned(),
                    vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1., 2.5, 5., 10.],
                )]
                .into(),
            },
            "api.metrics, JIT_API_METRICS_ADDRESS",
        )
        .map_err(anyhow::Error::msg)?;
        let meter = exporter.meter;
        Ok(Self {
            rpcs: meter.counter(params("jit_api_rpcs", "gRPC calls by method and code")),
            rpc_latency: meter.histogram_duration(params(
                "jit_api_rpc_latency",
                "gRPC call latency by method and code",
            )),
            auth_failures: meter.counter(params(
                "jit_api_auth_failures",
                "Refused credentials by reason",
            )),
            chat: meter.counter(params(
                "jit_api_chat_requests",
                "Chat HTTP requests by endpoint and status",
            )),
            meter,
            served: (exporter.address, exporter.server),
            client_meter: exporter.client_meter,
        })
    }

    /// Where `/metrics` is served.
    pub fn address(&self) -> SocketAddr {
        self.served.0
    }

    /// The meter for the API's Temporal client.
    pub fn client_meter(&self) -> Option<TemporalMeter> {
        self.client_meter.clone()
    }

    /// Stops serving `/metrics`.
    pub fn stop(&self) {
        self.served.1.abort();
    }

    fn labels(&self, kvs: Vec<MetricKeyValue>) -> MetricAttributes {
        self.meter.new_attributes(NewAttributes::new(kvs))
    }

    fn rpc(&self, method: &'static str, code: &'static str, latency: Duration) {
        let l = self.labels(vec![
            MetricKeyValue::new("method", method),
            MetricKeyValue::new("code", code),
        ]);
        self.rpcs.add(1, &l);
        self.rpc_latency.record(latency, &l);
    }

    /// A credential was refused for `reason`.
    pub fn auth_failure(&self, reason: &'static str) {
        let l = self.labels(vec![MetricKeyValue::new("reason", reason)]);
        self.auth_failures.add(1, &l);
    }

    /// A chat HTTP request to `endpoint` was answered `status`.
    pub fn chat_request(&self, endpoint: &'static str, status: u16) {
        let l = self.labels(vec![
            MetricKeyValue::new("endpoint", endpoint),
            MetricKeyValue::new("status", i64::from(status)),
        ]);
        self.chat.add(1, &l);
    }
}

/// The bounded reason of a refused credential, from the refusal's message (each is written
/// in [`crate::auth`]).
pub fn failure_reason(message: &str) -> &'static str {
    let m = message;
    if m.starts_with("no credentials") {
        "missing"
    } else if m.starts_with("authorization: expected") {
        "not_bearer"
    } else if m.starts_with("dev token") || m.starts_with("only dev tokens") {
        "dev_token"
    } else if m.starts_with("not a JWT") || m.starts_with("the JWT names no key") {
        "malformed_jwt"
    } else if m.contains("signing key") {
        "unknown_key"
    } else if m.contains("ExpiredSignature") {
        "expired"
    } else if m.contains("InvalidSignature") {
        "bad_signature"
    } else if m.contains("InvalidIssuer") || m.contains("InvalidAudience") {
        "wrong_issuer_or_audience"
    } else if m.starts_with("JWT") {
        "jwt_refused"
    } else {
        "other"
    }
}

/// The methods of `jit.v1.TicketService`, the only ones labelled by name.
const METHODS: &[&str] = &[
    "CreateTicket",
    "GetTicket",
    "ListTickets",
    "ApproveTicket",
    "DenyTicket",
    "DelegateApproval",
    "ExtendTicket",
    "RelinquishTicket",
    "RevokeTicket",
    "CancelTicket",
    "WatchTicket",
    "ListRequestableTargets",
    "ListPendingApprovals",
    "GetCaller",
    "GetSessionEvents",
    "GetReconcileReport",
    "ListLeases",
    "ExplainAccess",
];

/// `method` of a request path: a `jit.v1.TicketService` method's name, `health`,
/// `reflection`, or `other` (the path comes from the client: never a label as is).
fn method_of(path: &str) -> &'static str {
    if let Some(m) = path.strip_prefix("/jit.v1.TicketService/") {
        return METHODS
            .iter()
            .find(|k| **k == m)
            .copied()
            .unwrap_or("other");
    }
    if path.starts_with("/grpc.health.") {
        "health"
    } else if path.starts_with("/grpc.reflection.") {
        "reflection"
    } else {
        "other"
    }
}

/// The name of gRPC status `code` (`grpc-status`).
fn code_name(code: &str) -> &'static str {
    match code {
        "0" => "OK",
        "1" => "Cancelled",
        "2" => "Unknown",
        "3" => "InvalidArgument",
        "4" => "DeadlineExceeded",
        "5" => "NotFound",
        "6" => "AlreadyExists",
        "7" => "PermissionDenied",
        "8" => "ResourceExhausted",
        "9" => "FailedPrecondition",
        "10" => "Aborted",
        "11" => "OutOfRange",
        "12" => "Unimplemented",
        "13" => "Internal",
        "14" => "Unavailable",
        "15" => "DataLoss",
        "16" => "Unauthenticated",
        _ => "Unknown",
    }
}

/// A tower layer timing every gRPC call by method and status code. A refusal comes back as a
/// trailers-only answer (`grpc-status` in the headers); an answer without one is `OK` (a
/// stream's later failure is not seen here).
#[derive(Debug, Clone)]
pub struct RpcMetricsLayer(pub Option<Arc<ApiMetrics>>);

impl<S> tower::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;
    fn layer(&self, inner: S) -> RpcMetrics<S> {
        RpcMetrics {
            inner,
            metrics: self.0.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RpcMetrics<S> {
    inner: S,
    metrics: Option<Arc<ApiMetrics>>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> tower::Service<http::Request<B>> for RpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    RB: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        use opentelemetry::trace::{FutureExt as _, TraceContextExt as _};
        let method = method_of(req.uri().path());
        let metrics = self.metrics.clone();
        let started = Instant::now();
        let traced = jit_temporal::traces::enabled().then(|| server_span(&req, method));
        let fut = self.inner.call(req);
        Box::pin(async move {
            let r = match &traced {
                Some(cx) => fut.with_context(cx.clone()).await,
                None => fut.await,
            };
            let code = match &r {
                Ok(resp) => resp
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .map_or("OK", code_name),
                Err(_) => "Unavailable",
            };
            if let Some(m) = metrics {
                m.rpc(method, code, started.elapsed());
            }
            if let Some(cx) = traced {
                let span = cx.span();
                span.set_attribute(opentelemetry::KeyValue::new("rpc.grpc.status_code", code));
                if code != "OK" {
                    span.set_status(opentelemetry::trace::Status::error(code));
                }
                span.end();
            }
            r
        })
    }
}

/// Reads W3C trace context from request headers.
struct Headers<'a>(&'a http::HeaderMap);

impl opentelemetry::propagation::Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// A server span for one call, child of the caller's `traceparent` if it sent one.
fn server_span<B>(req: &http::Request<B>, method: &'static str) -> opentelemetry::Context {
    use opentelemetry::trace::{SpanKind, TraceContextExt as _, Tracer as _};
    let parent =
        opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(req.headers())));
    let tracer = opentelemetry::global::tracer("jit-api");
    let span = tracer
        .span_builder(format!("jit.v1.TicketService/{method}"))
        .with_kind(SpanKind::Server)
        .with_attributes([
            opentelemetry::KeyValue::new("rpc.system", "grpc"),
            opentelemetry::KeyValue::new("rpc.method", method),
        ])
        .start_with_context(&tracer, &parent);
    parent.with_span(span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_of_the_service_is_labelled_by_name() {
        use prost::Message as _;
        let set = prost_types::FileDescriptorSet::decode(jit_proto::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set decodes");
        let mut in_proto: Vec<String> = set
            .file
            .iter()
            .flat_map(|f| &f.service)
            .filter(|s| s.name() == "TicketService")
            .flat_map(|s| s.method.iter().map(|m| m.name().to_owned()))
            .collect();
        let mut labelled: Vec<String> = METHODS.iter().map(|m| (*m).to_owned()).collect();
        in_proto.sort();
        labelled.sort();
        assert_eq!(in_proto, labelled);
    }

    #[test]
    fn paths_and_codes_become_bounded_labels() {
        assert_eq!(
            method_of("/jit.v1.TicketService/CreateTicket"),
            "CreateTicket"
        );
        assert_eq!(method_of("/jit.v1.TicketService/Anything"), "other");
        assert_eq!(method_of("/grpc.health.v1.Health/Check"), "health");
        assert_eq!(method_of("/x/../../etc"), "other");
        assert_eq!(code_name("7"), "PermissionDenied");
        assert_eq!(code_name("99"), "Unknown");
    }

    #[test]
    fn refusals_have_a_reason() {
        assert_eq!(
            failure_reason("no credentials: send `authorization: Bearer <token>`"),
            "missing"
        );
        assert_eq!(failure_reason("JWT refused: ExpiredSignature"), "expired");
        assert_eq!(
            failure_reason("JWT refused: InvalidSignature"),
            "bad_signature"
        );
        assert_eq!(failure_reason("unknown signing key \"k2\""), "unknown_key");
        assert_eq!(
            failure_reason("dev tokens are not accepted: this server is not in dev mode"),
            "dev_token"
        );
        assert_eq!(failure_reason("not a JWT: InvalidToken"), "malformed_jwt");
    }
}
