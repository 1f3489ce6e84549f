//! One Prometheus endpoint per process, by the Temporal SDK's exporter, with jit's
//! conventions (`_total` on counters, units in names, durations in seconds): [`serve`] starts
//! it and makes the meter for the process's Temporal client; [`params`] names an instrument.

use std::net::SocketAddr;
use std::sync::Arc;

use temporalio_common::telemetry::metrics::{CoreMeter, MetricParameters, TemporalMeter};
use temporalio_common::telemetry::{
    HistogramBucketOverrides, PrometheusExporterOptions, TelemetryOptions,
    start_prometheus_metric_exporter, telemetry_init,
};

/// A running endpoint.
pub struct Exporter {
    /// For the process's own instruments.
    pub meter: Arc<dyn CoreMeter>,
    /// For the Temporal client (`temporal_request*`, with the SDK's `temporal_` prefix).
    pub client_meter: Option<TemporalMeter>,
    /// Where `/metrics` is served.
    pub address: SocketAddr,
    /// Stops serving.
    pub server: tokio::task::AbortHandle,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// Serves `/metrics` on `addr` (port 0: any free one) with `buckets` for the process's
/// histograms; `setting` names where the address came from, for the error.
pub fn serve(
    addr: SocketAddr,
    buckets: HistogramBucketOverrides,
    setting: &str,
) -> Result<Exporter, String> {
    let started = start_prometheus_metric_exporter(
        PrometheusExporterOptions::builder()
            .socket_addr(addr)
            .counters_total_suffix(true)
            .unit_suffix(true)
            .use_seconds_for_durations(true)
            .histogram_bucket_overrides(buckets)
            .build(),
    )
    .map_err(|e| format!("serving metrics on {addr} ({setting}): {e:#}"))?;
    let meter: Arc<dyn CoreMeter> = started.meter;
    // The SDK's runtime keeps its telemetry to itself; the client's meter (same exporter, same
    // `temporal_` prefix) comes from an instance of its own over the same meter.
    let client_meter = telemetry_init(TelemetryOptions::builder().metrics(meter.clone()).build())
        .map_err(|e| format!("setting up the client's metrics: {e:#}"))?
        .get_temporal_metric_meter();
    tracing::info!(address = %format!("http://{}/metrics", started.bound_addr), "metrics served");
    Ok(Exporter {
        meter,
        client_meter,
        address: started.bound_addr,
        server: started.abort_handle,
    })
}

/// An instrument's name and description.
pub fn params(name: &'static str, description: &'static str) -> MetricParameters {
    MetricParameters::builder()
        .name(name)
        .description(description)
        .build()
}
