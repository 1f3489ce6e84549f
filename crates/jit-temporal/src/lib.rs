//! The client side of Temporal for jit's processes (worker, API, tools, tests).
//!
//! - [`connect`]: a client for a frontend, retried with exponential backoff while it starts.
//! - [`ticket_start_options`]: how a ticket's workflow is started (the contract's
//!   [`TicketStart`](jit_contract::start::TicketStart) as the SDK's options).
//! - [`shutdown_signal`]: resolves on SIGINT or SIGTERM.
//! - [`identity`]: `<role>@<host>:<pid>`, what a process tells Temporal it is.
//! - [`codec`]: payload encryption (AES-256-GCM, key rotation) and the codec server's bodies.
//! - [`metrics`]: the process's Prometheus endpoint and its client's meter.
//! - [`init_tracing`]: logs (text or JSON lines) and, with a collector configured, [`traces`].
//! - [`worker::new_worker`]: an SDK worker that evicts a run a query moved ahead of its
//!   workflow task (works around an SDK replay defect).

use std::time::Duration;

pub mod codec;
pub mod metrics;
pub mod traces;
pub mod worker;

use backon::{ExponentialBuilder, Retryable};
use jit_domain::TicketRequest;
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, WorkflowIdConflictPolicy,
    WorkflowIdReusePolicy, WorkflowStartOptions,
};

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http://host:port`.
    pub address: String,
    pub namespace: String,
    /// What this process is (`jit-worker`, `jit-api`, ...): the identity is derived from it.
    pub role: String,
    /// How long to keep trying while the server is not up yet (zero: once).
    pub patience: Duration,
    /// TLS (a CA, mTLS client certificate, server name); `None`: plain text.
    pub tls: Option<Tls>,
    /// An API key (Temporal Cloud); implies TLS with the system's roots unless `tls` says more.
    pub api_key: Option<String>,
    /// How payloads are encrypted (the default: not at all).
    pub codec: codec::Codec,
}

/// TLS to the frontend, as bytes: the configuration's files, read
/// ([`jit_config::TemporalTls::load`]).
pub use jit_config::LoadedTls as Tls;

impl Target {
    /// A plain-text target (the local dev server).
    pub fn plain(address: &str, namespace: &str, role: &str, patience: Duration) -> Self {
        Self {
            address: address.to_owned(),
            namespace: namespace.to_owned(),
            role: role.to_owned(),
            patience,
            tls: None,
            api_key: None,
            codec: codec::Codec::default(),
        }
    }

    /// What the connection was configured with, for errors: which settings to check.
    fn security(&self) -> String {
        match (&self.tls, &self.api_key) {
            (None, None) => "plain text; set JIT_TEMPORAL_TLS_* for a TLS frontend".into(),
            (tls, key) => {
                let mut parts = Vec::new();
                if let Some(t) = tls {
                    parts.push(if t.ca.is_some() {
                        "TLS with JIT_TEMPORAL_TLS_CA".to_owned()
                    } else {
                        "TLS with the system's roots".to_owned()
                    });
                    if t.client.is_some() {
                        parts.push("client certificate JIT_TEMPORAL_TLS_CERT".into());
                    } else {
                        parts.push("no client certificate (JIT_TEMPORAL_TLS_CERT)".into());
                    }
                    if let Some(n) = &t.server_name {
                        parts.push(format!("server name {n} (JIT_TEMPORAL_TLS_SERVER_NAME)"));
                    }
                }
                if key.is_some() {
                    parts.push("API key JIT_TEMPORAL_API_KEY".into());
                }
                parts.join(", ")
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("temporal address {address:?}: {problem}")]
    Address { address: String, problem: String },
    #[error(
        "Temporal at {address} has no namespace {namespace:?} (JIT_TEMPORAL_NAMESPACE, temporal.namespace)"
    )]
    Namespace { address: String, namespace: String },
    #[error("connecting to Temporal at {address} ({security}): {source}")]
    Connect {
        address: String,
        /// How it was tried: which settings to check.
        security: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn tls_options(t: &Tls) -> temporalio_client::TlsOptions {
    let mut o = temporalio_client::TlsOptions::default();
    o.server_root_ca_cert = t.ca.clone();
    o.domain = t.server_name.clone();
    o.client_tls_options = t.client.as_ref().map(|(cert, key)| {
        temporalio_client::ClientTlsOptions::builder()
            .client_cert(cert.clone())
            .client_private_key(key.clone())
            .build()
    });
    o
}

/// `<role>@<host>:<pid>`: which process on which machine (containers all have pid 1).
pub fn identity(role: &str) -> String {
    format!("{role}@{}:{}", host_name(), std::process::id())
}

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "unknown-host".to_owned())
}

/// Connects a client, retrying with exponential backoff (100 ms doubling to 2 s) for up to
/// `target.patience` while the frontend is not reachable yet.
pub async fn connect(target: &Target) -> Result<Client, ConnectError> {
    connect_metered(target, None).await
}

/// [`connect`], the client's requests counted and timed by `meter` (the runtime's, so they
/// show on the worker's metrics endpoint as `temporal_request*` and `temporal_long_request*`).
pub async fn connect_metered(
    target: &Target,
    meter: Option<temporalio_common::telemetry::metrics::TemporalMeter>,
) -> Result<Client, ConnectError> {
    // TLS (or an API key) means https, whatever scheme the address was written with.
    let secure = target.tls.is_some() || target.api_key.is_some();
    let address = match target.address.strip_prefix("http://") {
        Some(rest) if secure => format!("https://{rest}"),
        _ => target.address.clone(),
    };
    let url = temporalio_client::Url::parse(&address).map_err(|e| ConnectError::Address {
        address: target.address.clone(),
        problem: e.to_string(),
    })?;
    let identity = identity(&target.role);
    let attempt = || async {
        Connection::connect(
            ConnectionOptions::new(url.clone())
                .identity(identity.clone())
                .maybe_metrics_meter(meter.clone())
                .maybe_tls_options(target.tls.as_ref().map(tls_options))
                .maybe_api_key(target.api_key.clone())
                .build(),
        )
        .await
    };
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(2))
        .with_total_delay(Some(target.patience))
        .without_max_times();
    let connection = attempt
        .retry(backoff)
        .notify(|e, wait| tracing::debug!(error = %e, ?wait, "Temporal not reachable yet"))
        .await
        .map_err(|e| ConnectError::Connect {
            address: target.address.clone(),
            security: target.security(),
            source: Box::new(e),
        })?;
    check_namespace(&connection, target).await?;
    let mut options =
        ClientOptions::new(target.namespace.clone()).data_converter(target.codec.data_converter());
    if traces::enabled() {
        options = options.plugin(traces::plugin());
    }
    Client::new(connection, options.build()).map_err(|e| ConnectError::Connect {
        address: target.address.clone(),
        security: target.security(),
        source: e.into(),
    })
}

/// Refuses a namespace the frontend does not have (asked again while `patience` lasts: a
/// starting server registers its namespaces late). A frontend that may not be asked (a
/// namespace-scoped key) is taken at its word.
async fn check_namespace(connection: &Connection, target: &Target) -> Result<(), ConnectError> {
    use temporalio_client::grpc::WorkflowService;
    use temporalio_common::protos::temporal::api::workflowservice::v1::DescribeNamespaceRequest;
    let deadline = std::time::Instant::now() + target.patience;
    loop {
        let mut conn = connection.clone();
        let req = DescribeNamespaceRequest {
            namespace: target.namespace.clone(),
            ..Default::default()
        };
        match WorkflowService::describe_namespace(
            &mut conn,
            temporalio_client::tonic::Request::new(req),
        )
        .await
        {
            Ok(_) => return Ok(()),
            Err(s) if s.code() == temporalio_client::tonic::Code::NotFound => {
                if std::time::Instant::now() >= deadline {
                    return Err(ConnectError::Namespace {
                        address: target.address.clone(),
                        namespace: target.namespace.clone(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(s) => {
                tracing::debug!(error = %s, "the namespace could not be described; going on");
                return Ok(());
            }
        }
    }
}

/// Start options for the ticket `req` on `task_queue`: workflow id `ticket-<id>` (a ticket
/// id is never reused: starting it again fails instead of creating a second ticket), the UI
/// summary and details, and the initial search attributes.
pub fn ticket_start_options(req: &TicketRequest, task_queue: &str) -> WorkflowStartOptions {
    let s = jit_contract::start::ticket(req);
    WorkflowStartOptions::new(task_queue, s.workflow_id)
        .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
        .id_conflict_policy(WorkflowIdConflictPolicy::Fail)
        .static_summary(s.summary)
        .static_details(s.details)
        .search_attributes(s.search_attributes)
        .build()
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// How log lines are written: `JIT_LOG_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    Text,
    /// One JSON object per line, the span fields (ticket, workflow, activity) included.
    Json,
}

impl LogFormat {
    /// `text` or `json` (empty: text); anything else is refused, naming the variable.
    pub fn parse(v: &str) -> Result<Self, String> {
        match v.trim() {
            "" | "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "JIT_LOG_FORMAT: {other:?} is not a log format (text or json)"
            )),
        }
    }
}

/// Installs the process's log subscriber: `RUST_LOG` filters (else `default_filter`),
/// `JIT_LOG_FORMAT` chooses text or JSON lines.
///
/// With a collector configured ([`traces::endpoint`]), also installs the tracer provider as
/// `service` and returns it: flush it before the process exits.
pub fn init_tracing(default_filter: &str, service: &str) -> Result<Option<traces::Traces>, String> {
    let format = LogFormat::parse(&std::env::var("JIT_LOG_FORMAT").unwrap_or_default())?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    let Some(endpoint) = traces::endpoint(&|k| std::env::var(k).ok()) else {
        return Ok(None);
    };
    let t = traces::init_traces(service, &endpoint)?;
    tracing::info!(endpoint = %endpoint, service, "traces exported over OTLP");
    Ok(Some(t))
}

#[cfg(test)]
mod log_format_tests {
    use super::LogFormat;

    #[test]
    fn text_is_the_default_json_is_chosen_and_anything_else_is_named() {
        assert_eq!(LogFormat::parse(""), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse("text"), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(" json "), Ok(LogFormat::Json));
        let e = LogFormat::parse("yaml").unwrap_err();
        assert!(e.contains("JIT_LOG_FORMAT") && e.contains("yaml"), "{e}");
    }
}
