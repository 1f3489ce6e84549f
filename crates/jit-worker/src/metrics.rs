//! jit's own metrics, beside the SDK's `temporal_*` on the same Prometheus endpoint
//! (`worker.metrics`). Labels are bounded: services, operations and outcomes, never ticket
//! ids or user names.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `jit_aws_requests_total` | counter | `service`, `operation`, `outcome` (ok, throttled, conflict, not_found, denied, client_error, server_error, network) |
//! | `jit_aws_request_latency_seconds` | histogram | `service`, `operation` |
//! | `jit_aws_rate_limiter_wait_seconds` | histogram | — |
//! | `jit_revocation_lag_seconds` | histogram | — (from when access should have ended to the assignment confirmed gone; buckets [`REVOCATION_LAG_BUCKETS`]) |

use std::sync::Arc;
use std::time::Duration;

use jit_activities::ActivityMetrics;
use jit_aws::{AwsMetrics, Outcome};
use temporalio_common::telemetry::metrics::{
    CoreMeter, Counter, HistogramDuration, MetricAttributes, MetricKeyValue, MetricParameters,
    NewAttributes,
};

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
            no_labels: meter.new_attributes(NewAttributes::default()),
            meter,
        }
    }

    fn labels(&self, kvs: Vec<MetricKeyValue>) -> MetricAttributes {
        self.meter.new_attributes(NewAttributes::new(kvs))
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
