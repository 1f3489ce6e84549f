//! What this crate reports about its AWS requests: every attempt (each passes the rate
//! limiter once, the SDK retries nothing for Identity Center) by service, operation and
//! [`Outcome`], with its latency, and every wait for the rate limiter — to an
//! [`AwsMetrics`] the caller supplies (the worker's Prometheus endpoint). The attempt is seen
//! by an SDK interceptor on each client, so no call site can forget it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// How one attempt ended, by the answer's status and AWS error type (a bounded label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Throttled,
    Conflict,
    NotFound,
    Denied,
    /// Any other 4xx: validation and the like.
    ClientError,
    ServerError,
    /// No answer: connection refused, reset, timed out.
    Network,
}

impl Outcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Throttled => "throttled",
            Self::Conflict => "conflict",
            Self::NotFound => "not_found",
            Self::Denied => "denied",
            Self::ClientError => "client_error",
            Self::ServerError => "server_error",
            Self::Network => "network",
        }
    }

    /// The outcome of an answer with HTTP `status` and AWS error type `error_type` (from the
    /// `x-amzn-ErrorType` header or the body's `__type`; either may carry a namespace
    /// prefix or a `:`-suffix).
    pub fn of(status: u16, error_type: Option<&str>) -> Self {
        if (200..300).contains(&status) {
            return Self::Ok;
        }
        let code = error_type
            .map(|t| {
                let t = t.split(':').next().unwrap_or(t);
                t.rsplit('#').next().unwrap_or(t)
            })
            .unwrap_or("");
        if status == 429 || code.contains("Throttling") || code == "TooManyRequestsException" {
            Self::Throttled
        } else if code == "ConflictException" {
            Self::Conflict
        } else if code.contains("NotFound") {
            Self::NotFound
        } else if status == 403 || code.contains("AccessDenied") {
            Self::Denied
        } else if status >= 500 {
            Self::ServerError
        } else {
            Self::ClientError
        }
    }
}

/// Where this crate's measurements go. Implementations must be cheap: they run on every
/// request.
pub trait AwsMetrics: Send + Sync + std::fmt::Debug {
    /// One attempt of `operation` (e.g. `CreateAccountAssignment`) on `service`.
    fn request(&self, service: &str, operation: &str, outcome: Outcome, latency: Duration);
    /// A request waited `waited` for this process's rate limiter.
    fn rate_limited(&self, waited: Duration);
}

#[derive(Debug, Clone, Copy)]
struct AttemptStarted(Instant);

impl Storable for AttemptStarted {
    type Storer = StoreReplace<Self>;
}

/// The SDK interceptor that times each attempt and reports it.
#[derive(Debug, Clone)]
pub(crate) struct Recorder(pub(crate) Arc<dyn AwsMetrics>);

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "jit-aws metrics"
    }

    fn read_before_attempt(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state()
            .store_put(AttemptStarted(Instant::now()));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let latency = cfg
            .load::<AttemptStarted>()
            .map(|s| s.0.elapsed())
            .unwrap_or_default();
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_owned(), m.name().to_owned()))
            .unwrap_or_else(|| ("unknown".into(), "unknown".into()));
        let outcome = match context.response() {
            None => Outcome::Network,
            Some(r) => {
                let header = r.headers().get("x-amzn-errortype").map(str::to_owned);
                let body_type = || {
                    r.body()
                        .bytes()
                        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
                        .and_then(|v| v.get("__type")?.as_str().map(str::to_owned))
                };
                let t = header.or_else(body_type);
                Outcome::of(r.status().as_u16(), t.as_deref())
            }
        };
        self.0.request(&service, &operation, outcome, latency);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Outcome;

    #[test]
    fn answers_are_classified_by_status_and_error_type() {
        assert_eq!(Outcome::of(200, None), Outcome::Ok);
        assert_eq!(
            Outcome::of(400, Some("ThrottlingException")),
            Outcome::Throttled
        );
        assert_eq!(Outcome::of(429, None), Outcome::Throttled);
        assert_eq!(
            Outcome::of(400, Some("com.amazonaws.sso#ConflictException:http://x")),
            Outcome::Conflict
        );
        assert_eq!(
            Outcome::of(400, Some("ResourceNotFoundException")),
            Outcome::NotFound
        );
        assert_eq!(
            Outcome::of(400, Some("AccessDeniedException")),
            Outcome::Denied
        );
        assert_eq!(Outcome::of(403, None), Outcome::Denied);
        assert_eq!(
            Outcome::of(400, Some("ValidationException")),
            Outcome::ClientError
        );
        assert_eq!(Outcome::of(503, None), Outcome::ServerError);
        assert_eq!(
            Outcome::of(500, Some("InternalServerException")),
            Outcome::ServerError
        );
    }
}
