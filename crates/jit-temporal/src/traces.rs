//! OpenTelemetry traces, optional: when `JIT_OTLP_ENDPOINT` (or the standard
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`) names a collector,
//! spans go there over OTLP/gRPC, batched (`OTEL_BSP_*` tune the batches).
//!
//! [`init_traces`] installs the global tracer provider (with the SDK's
//! [`WorkflowIdGenerator`](temporalio_sdk::opentelemetry::WorkflowIdGenerator), so a workflow's
//! spans get the same ids when it replays) and the W3C trace-context propagator. Every client
//! [`crate::connect`] makes afterwards carries the SDK's OpenTelemetry plugin: workflow starts,
//! updates, signals and queries carry the caller's context in the `_tracer-data` header, and
//! workers made with that client trace workflow runs, activity schedules and activity runs under
//! it. jit-api starts a server span per gRPC call from the caller's `traceparent`; the worker
//! adds a span per AWS request attempt.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry_otlp::WithExportConfig;

static ON: AtomicBool = AtomicBool::new(false);

/// The tracer provider this process installed; flush before exit.
#[derive(Debug)]
pub struct Traces {
    provider: opentelemetry_sdk::trace::SdkTracerProvider,
    endpoint: String,
}

impl Traces {
    /// Where spans go.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Exports what is batched now.
    pub fn flush(&self) {
        if let Err(e) = self.provider.force_flush() {
            tracing::warn!(error = %e, "traces not flushed");
        }
    }

    /// Flushes and stops exporting.
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "traces not shut down cleanly");
        }
        ON.store(false, Ordering::SeqCst);
    }
}

/// The collector to send spans to, from the environment: `JIT_OTLP_ENDPOINT`, else the
/// standard OpenTelemetry variables. `None` (or `off`): no traces.
pub fn endpoint(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    [
        "JIT_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .iter()
    .find_map(|k| {
        env(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    })
    .filter(|v| v != "off")
}

/// Whether this process exports traces (so new clients carry the tracing plugin).
pub fn enabled() -> bool {
    ON.load(Ordering::SeqCst)
}

/// Installs the global tracer provider exporting to `endpoint` (`http://host:4317`) as
/// `service`. Call inside the Tokio runtime (the gRPC exporter needs it).
pub fn init_traces(service: &str, endpoint: &str) -> Result<Traces, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| format!("JIT_OTLP_ENDPOINT {endpoint:?}: {e}"))?;
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_id_generator(temporalio_sdk::opentelemetry::WorkflowIdGenerator::default())
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    ON.store(true, Ordering::SeqCst);
    Ok(Traces {
        provider,
        endpoint: endpoint.to_owned(),
    })
}

/// The SDK's tracing plugin for a client (and the workers made with it).
pub(crate) fn plugin() -> temporalio_sdk::plugins::SimplePlugin {
    temporalio_sdk::opentelemetry::OpenTelemetryPlugin::builder().build()
}

#[cfg(test)]
mod tests {
    use super::endpoint;

    #[test]
    fn the_jit_variable_wins_and_off_turns_traces_off() {
        let env = |k: &str| match k {
            "JIT_OTLP_ENDPOINT" => Some("http://a:4317".to_owned()),
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://b:4317".to_owned()),
            _ => None,
        };
        assert_eq!(endpoint(&env).as_deref(), Some("http://a:4317"));
        let std_only =
            |k: &str| (k == "OTEL_EXPORTER_OTLP_ENDPOINT").then(|| "http://b:4317".into());
        assert_eq!(endpoint(&std_only).as_deref(), Some("http://b:4317"));
        let off = |k: &str| (k == "JIT_OTLP_ENDPOINT").then(|| "off".into());
        assert_eq!(endpoint(&off), None);
        assert_eq!(endpoint(&|_| None), None);
    }
}
