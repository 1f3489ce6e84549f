//! What every activity shares: the heartbeat that remembers an asynchronous request (so a
//! retry resumes polling it), how AWS failures become activity failures, the trace id for log
//! lines.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jit_aws::{AwsError, Progress};
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// The trace id of the running activity (its `RunActivity` span), when traces are on: a
/// field of the activity's log lines, to find the line's trace.
pub(crate) fn trace_id() -> Option<String> {
    use opentelemetry::trace::TraceContextExt as _;
    let cx = opentelemetry::Context::current();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

/// Retryable AWS errors go back to Temporal's retry policy; final ones end the attempt
/// without retries.
pub(crate) fn to_activity_error(e: AwsError) -> ActivityError {
    if e.is_retryable() {
        ActivityError::from(anyhow::anyhow!(e.to_string()))
    } else {
        ActivityError::application(ApplicationFailure::non_retryable(e.to_string()))
    }
}

/// Heartbeats through the activity context. Remembers the asynchronous request id so that a
/// retry resumes polling it (heartbeat details survive retries).
pub(crate) struct Heartbeat {
    ctx: ActivityContext,
    request_id: Arc<Mutex<Option<String>>>,
}

impl Heartbeat {
    pub(crate) fn new(ctx: &ActivityContext) -> Self {
        let resumed: Option<String> = ctx.heartbeat_details().deserialize().ok().flatten();
        Self {
            ctx: ctx.clone(),
            request_id: Arc::new(Mutex::new(resumed)),
        }
    }

    pub(crate) fn resume(&self) -> Option<String> {
        self.request_id.lock().ok().and_then(|g| g.clone())
    }

    async fn beat(&self) {
        let id = self.resume();
        if let Err(e) = self.ctx.record_heartbeat(id).await {
            tracing::warn!(error = %e, "heartbeat not recorded");
        }
    }

    /// Runs `work`, heartbeating every second meanwhile, so a dead worker is noticed within
    /// the heartbeat timeout even while an AWS call hangs.
    pub(crate) async fn around<T>(&self, work: impl Future<Output = T>) -> T {
        let ticker = async {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                self.beat().await;
            }
        };
        tokio::select! {
            out = work => out,
            () = ticker => unreachable!("the ticker never ends"),
        }
    }
}

impl Progress for Heartbeat {
    async fn request_started(&self, request_id: &str) {
        if let Ok(mut g) = self.request_id.lock() {
            *g = Some(request_id.to_owned());
        }
        self.beat().await;
    }

    async fn still_waiting(&self, _request_id: &str) {
        self.beat().await;
    }
}
