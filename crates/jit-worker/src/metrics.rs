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
//! | `jit_approvals_waiting_over_an_hour` | gauge | — (tickets of this task queue in `PendingApproval` that started more than an hour ago; visibility, every [`COUNT_EVERY`]) |
//! | `jit_policy_reloads_total` | counter | `result` (`ok`, `unchanged`, `failed`) |
//! | `jit_policy_info` | gauge | `policy` (short hash): 1 for the policy in force |
//! | `jit_approval_wait_seconds` | histogram | — (from waiting for approval to approved; once per ticket, when its access is in place) |
//! | `jit_approve_to_active_seconds` | histogram | — (from approval, or the scheduled start if later, to access in place) |
//! | `jit_reconcile_orphans`, `jit_reconcile_missing` | gauge | — (the last scan this worker ran) |
//! | `jit_reconcile_last_scan_timestamp_seconds` | gauge | — (Unix time of that scan) |
//! | `jit_chat_deliveries_total` | counter | `channel` (`slack`, `teams`), `result` (`ok`, `failed`) |
//! | `jit_aws_operations_held`, `jit_aws_operations_waiting`, `jit_aws_operations_limit` | gauge | — (this worker's permits for asynchronous assignment operations: held, waited for, its share of the fleet's limit; every [`OPERATIONS_EVERY`]) |
//! | `jit_revocation_lag_seconds` | histogram | — (from when access should have ended to the assignment confirmed gone; buckets [`REVOCATION_LAG_BUCKETS`]) |

use std::sync::Arc;
use std::time::Duration;

use jit_activities::ActivityMetrics;
use jit_aws::{AwsMetrics, Outcome};
use jit_domain::Phase;
use jit_temporal::metrics::params;
use temporalio_client::Client;
use temporalio_common::telemetry::metrics::{
    CoreMeter, Counter, Gauge, HistogramDuration, MetricAttributes, MetricKeyValue, NewAttributes,
};

/// How often [`count_tickets`] asks visibility.
pub(crate) const COUNT_EVERY: Duration = Duration::from_secs(15);

/// How often [`operations`] records this worker's operation permits.
pub(crate) const OPERATIONS_EVERY: Duration = Duration::from_secs(2);

/// Bucket bounds (seconds) of `jit_revocation_lag_seconds`: a revocation is good within
/// seconds, worrying after minutes.
pub(crate) const REVOCATION_LAG_BUCKETS: &[f64] = &[
    0.5, 1., 2., 5., 10., 30., 60., 120., 300., 600., 1800., 3600.,
];

/// Bucket bounds (seconds) of the approval histograms: approvals take minutes to hours.
pub(crate) const APPROVAL_BUCKETS: &[f64] = &[
    1., 10., 30., 60., 300., 900., 1800., 3600., 7200., 14400., 43200., 86400.,
];

/// Bucket bounds (seconds) of `jit_approve_to_active_seconds`: seconds when healthy.
pub(crate) const TO_ACTIVE_BUCKETS: &[f64] = &[0.5, 1., 2., 5., 10., 30., 60., 300., 900.];

/// The histogram bucket overrides of jit's metrics, for the exporter.
pub(crate) fn bucket_overrides() -> temporalio_common::telemetry::HistogramBucketOverrides {
    temporalio_common::telemetry::HistogramBucketOverrides {
        overrides: [
            ("jit_revocation_lag", REVOCATION_LAG_BUCKETS),
            ("jit_approval_wait", APPROVAL_BUCKETS),
            ("jit_approve_to_active", TO_ACTIVE_BUCKETS),
        ]
        .into_iter()
        .map(|(n, b)| (n.to_owned(), b.to_vec()))
        .collect(),
    }
}

/// The instruments, made once over the exporter's meter.
pub(crate) struct JitMetrics {
    meter: Arc<dyn CoreMeter>,
    aws_requests: Counter,
    aws_latency: HistogramDuration,
    rate_wait: HistogramDuration,
    revocation_lag: HistogramDuration,
    approval_wait: HistogramDuration,
    to_active: HistogramDuration,
    orphans: Gauge,
    missing: Gauge,
    last_scan: Gauge,
    chat: Counter,
    permits_held: Gauge,
    permits_waiting: Gauge,
    permit_limit: Gauge,
    tickets: Gauge,
    waiting_long: Gauge,
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
            approval_wait: meter.histogram_duration(params(
                "jit_approval_wait",
                "From waiting for approval to approved",
            )),
            to_active: meter.histogram_duration(params(
                "jit_approve_to_active",
                "From approval (or the scheduled start) to access in place",
            )),
            orphans: meter.gauge(params(
                "jit_reconcile_orphans",
                "Orphaned assignments the last reconcile scan found",
            )),
            missing: meter.gauge(params(
                "jit_reconcile_missing",
                "Missing assignments the last reconcile scan found",
            )),
            last_scan: meter.gauge(params(
                "jit_reconcile_last_scan_timestamp_seconds",
                "Unix time of the last reconcile scan",
            )),
            chat: meter.counter(params(
                "jit_chat_deliveries",
                "Chat deliveries by channel and result",
            )),
            permits_held: meter.gauge(params(
                "jit_aws_operations_held",
                "Asynchronous assignment operations this worker has outstanding",
            )),
            permits_waiting: meter.gauge(params(
                "jit_aws_operations_waiting",
                "Assignment operations waiting for one of this worker's permits",
            )),
            permit_limit: meter.gauge(params(
                "jit_aws_operations_limit",
                "This worker's share of the fleet's outstanding operations",
            )),
            tickets: meter.gauge(params(
                "jit_tickets",
                "Tickets of this task queue by phase (visibility counts)",
            )),
            waiting_long: meter.gauge(params(
                "jit_approvals_waiting_over_an_hour",
                "Tickets waiting for approval that started more than an hour ago",
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
        let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
        let hour_ago = jiff::Timestamp::try_from(hour_ago).unwrap_or_default();
        let q = format!(
            "WorkflowType = '{workflow}' AND TaskQueue = '{task_queue}' AND {status} = 'PendingApproval' AND StartTime < '{hour_ago}'"
        );
        match client.count_workflows(q, Default::default()).await {
            Ok(c) => metrics
                .waiting_long
                .record(c.count() as u64, &metrics.no_labels),
            Err(e) => tracing::warn!(error = %e, "long approvals not counted"),
        }
        tokio::time::sleep(COUNT_EVERY).await;
    }
}

/// Keeps the `jit_aws_operations_*` gauges current: this worker's operation permits.
pub(crate) async fn operations(aws: Arc<jit_aws::IdentityCenter>, metrics: Arc<JitMetrics>) {
    loop {
        let o = aws.operations();
        let n = &metrics.no_labels;
        metrics.permits_held.record(o.held as u64, n);
        metrics.permits_waiting.record(o.waiting as u64, n);
        metrics.permit_limit.record(u64::from(o.limit), n);
        tokio::time::sleep(OPERATIONS_EVERY).await;
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

    fn granted(&self, approval_wait: Duration, to_active: Duration) {
        self.approval_wait.record(approval_wait, &self.no_labels);
        self.to_active.record(to_active, &self.no_labels);
    }

    fn reconciled(&self, orphans: usize, missing: usize) {
        self.orphans.record(orphans as u64, &self.no_labels);
        self.missing.record(missing as u64, &self.no_labels);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.last_scan.record(now, &self.no_labels);
    }

    fn chat_delivery(&self, channel: &'static str, ok: bool) {
        let l = self.labels(vec![
            MetricKeyValue::new("channel", channel),
            MetricKeyValue::new("result", if ok { "ok" } else { "failed" }),
        ]);
        self.chat.add(1, &l);
    }
}

/// What the AWS gateway reports goes to jit's metrics (when they are on) and, when traces are
/// on, becomes a client span per attempt under the current context (the activity's run).
#[derive(Debug)]
pub(crate) struct AwsObserver {
    pub(crate) metrics: Option<Arc<JitMetrics>>,
}

impl AwsMetrics for AwsObserver {
    fn request(&self, service: &str, operation: &str, outcome: Outcome, latency: Duration) {
        if let Some(m) = &self.metrics {
            m.request(service, operation, outcome, latency);
        }
        if jit_temporal::traces::enabled() {
            use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _};
            let tracer = opentelemetry::global::tracer("jit-aws");
            let end = std::time::SystemTime::now();
            let mut span = tracer
                .span_builder(format!("AWS {service} {operation}"))
                .with_kind(SpanKind::Client)
                .with_start_time(end - latency)
                .with_attributes([
                    opentelemetry::KeyValue::new("rpc.system", "aws-api"),
                    opentelemetry::KeyValue::new("rpc.service", service.to_owned()),
                    opentelemetry::KeyValue::new("rpc.method", operation.to_owned()),
                    opentelemetry::KeyValue::new("jit.outcome", outcome.as_str()),
                ])
                .start_with_context(&tracer, &opentelemetry::Context::current());
            if outcome != Outcome::Ok {
                span.set_status(Status::error(outcome.as_str()));
            }
            span.end_with_timestamp(end);
        }
    }

    fn rate_limited(&self, waited: Duration) {
        if let Some(m) = &self.metrics {
            m.rate_limited(waited);
        }
    }
}
