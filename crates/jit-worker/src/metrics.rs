//! jit's own metrics, beside the SDK's `temporal_*` on the same Prometheus endpoint
//! (`worker.metrics`). Labels are bounded: services, operations and outcomes, never ticket
//! ids or user names.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `jit_aws_requests_total` | counter | `service`, `operation`, `outcome` (ok, throttled, conflict, not_found, denied, client_error, server_error, network) |
//! | `jit_aws_request_latency_seconds` | histogram | `service`, `operation` |
//! | `jit_aws_rate_limiter_wait_seconds` | histogram | — |
//! | `jit_tickets` | gauge | `phase` (every [`Phase`]): tickets of this task queue by their `JitStatus`, counted in visibility every [`COUNT_EVERY`] (open phases: now; ended ones: within the namespace's retention) |
//! | `jit_policy_reloads_total` | counter | `result` (`ok`, `unchanged`, `failed`) |
//! | `jit_policy_info` | gauge | `policy` (short hash): 1 for the policy in force |
//! | `jit_revocation_lag_seconds` | histogram | — (from when access should have ended to the assignment confirmed gone; buckets [`REVOCATION_LAG_BUCKETS`]) |

use std::sync::Arc;
use std::time::Duration;

use jit_activities::ActivityMetrics;
use jit_aws::{AwsMetrics, Outcome};
use jit_domain::Phase;
use temporalio_client::Client;
use temporalio_common::telemetry::metrics::{
    CoreMeter, Counter, Gauge, HistogramDuration, MetricAttributes, MetricKeyValue,
    MetricParameters, NewAttributes,
};

/// How often [`count_tickets`] asks visibility.
pub(crate) const COUNT_EVERY: Duration = Duration::from_secs(15);

/// Bucket bounds (seconds) of `jit_revocation_lag_seconds`: a revocation is good within
/// seconds, worrying after minutes.
pub(crate) const REVOCATION_LAG_BUCKETS: &[f64] = &[
    0.5, 1., 2., 5., 10., 30., 60., 120., 300., 600., 1800., 3600.,
];

/// The histogram bucket overrides of jit's metrics, for the exporter.
pub(crate) fn bucket_overrides() -> temporalio_common::telemetry::HistogramBucketOverrides {
    temporalio_common::telemetry::HistogramBucketOverrides {
        overrides: [(
            "jit_revocation_lag".to_owned(),
            REVOCATION_LAG_BUCKETS.to_vec(),
        )]
        .into(),
    }
}

/// The instruments, made once over the exporter's meter.
pub(crate) struct JitMetrics {
    meter: Arc<dyn CoreMeter>,
    aws_requests: Counter,
    aws_latency: HistogramDuration,
    rate_wait: HistogramDuration,
    revocation_lag: HistogramDuration,
    tickets: Gauge,
    policy_reloads: Counter,
    policy_info: Gauge,
    /// The short hash `jit_policy_info` shows as 1 (set to 0 when replaced).
    policy_shown: std::sync::Mutex<Option<String>>,
    no_labels: MetricAttributes,
}

impl std::fmt::Debug for JitMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JitMetrics").finish_non_exhaustive()
    }
}

fn params(name: &'static str, description: &'static str) -> MetricParameters {
    MetricParameters::builder()
        .name(name)
        .description(description)
        .build()
}

impl JitMetrics {
    pub(crate) fn new(meter: Arc<dyn CoreMeter>) -> Self {
        Self {
            aws_requests: meter.counter(params(
                "jit_aws_requests",
                "AWS request attempts by service, operation and outcome",
            )),
            aws_latency: meter.histogram_duration(params(
                "jit_aws_request_latency",
                "Latency of AWS request attempts",
            )),
            rate_wait: meter.histogram_duration(params(
                "jit_aws_rate_limiter_wait",
                "How long AWS requests waited for this worker's rate limiter",
            )),
            revocation_lag: meter.histogram_duration(params(
                "jit_revocation_lag",
                "From when access should have ended to its assignment confirmed gone",
            )),
            tickets: meter.gauge(params(
                "jit_tickets",
                "Tickets of this task queue by phase (visibility counts)",
            )),
            policy_reloads: meter.counter(params(
                "jit_policy_reloads",
                "Policy reloads by result (ok, unchanged, failed)",
            )),
            policy_info: meter.gauge(params(
                "jit_policy_info",
                "1 for the policy in force, by its short hash",
            )),
            policy_shown: std::sync::Mutex::new(None),
            no_labels: meter.new_attributes(NewAttributes::default()),
            meter,
        }
    }

    fn labels(&self, kvs: Vec<MetricKeyValue>) -> MetricAttributes {
        self.meter.new_attributes(NewAttributes::new(kvs))
    }

    /// The policy with short hash `hash` is in force.
    pub(crate) fn policy_in_force(&self, hash: &str) {
        let mut shown = self
            .policy_shown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if shown.as_deref() == Some(hash) {
            return;
        }
        if let Some(old) = shown.take() {
            let l = self.labels(vec![MetricKeyValue::new("policy", old)]);
            self.policy_info.record(0, &l);
        }
        let l = self.labels(vec![MetricKeyValue::new("policy", hash.to_owned())]);
        self.policy_info.record(1, &l);
        *shown = Some(hash.to_owned());
    }

    /// A reload ended with `result` (`ok`, `unchanged`, `failed`).
    pub(crate) fn policy_reload(&self, result: &'static str) {
        let l = self.labels(vec![MetricKeyValue::new("result", result)]);
        self.policy_reloads.add(1, &l);
    }
}

/// Keeps `jit_tickets{phase}` current: one visibility count per phase every [`COUNT_EVERY`]
/// (Temporal groups counts only by execution status, so the phases are asked one by one).
/// A failed count leaves the gauge as it was and is logged.
pub(crate) async fn count_tickets(client: Client, task_queue: String, metrics: Arc<JitMetrics>) {
    let status = jit_contract::search_attributes::STATUS.name();
    let workflow = jit_contract::ticket::Workflow::NAME;
    loop {
        for phase in Phase::ALL {
            let q = format!(
                "WorkflowType = '{workflow}' AND TaskQueue = '{task_queue}' AND {status} = '{}'",
                phase.as_str()
            );
            match client.count_workflows(q, Default::default()).await {
                Ok(c) => {
                    let l = metrics.labels(vec![MetricKeyValue::new("phase", phase.as_str())]);
                    metrics.tickets.record(c.count() as u64, &l);
                }
                Err(e) => tracing::warn!(error = %e, phase = phase.as_str(), "tickets not counted"),
            }
        }
        tokio::time::sleep(COUNT_EVERY).await;
    }
}

impl AwsMetrics for JitMetrics {
    fn request(&self, service: &str, operation: &str, outcome: Outcome, latency: Duration) {
        let op = || {
            vec![
                MetricKeyValue::new("service", service.to_owned()),
                MetricKeyValue::new("operation", operation.to_owned()),
            ]
        };
        let mut with_outcome = op();
        with_outcome.push(MetricKeyValue::new("outcome", outcome.as_str()));
        self.aws_requests.add(1, &self.labels(with_outcome));
        self.aws_latency.record(latency, &self.labels(op()));
    }

    fn rate_limited(&self, waited: Duration) {
        self.rate_wait.record(waited, &self.no_labels);
    }
}

impl ActivityMetrics for JitMetrics {
    fn revoked(&self, lag: Duration) {
        self.revocation_lag.record(lag, &self.no_labels);
    }
}
