//! The worker's health endpoint (`worker.health`, `JIT_HEALTH_ADDRESS`), for orchestrators'
//! probes:
//!
//! - `GET /livez`: 200 while the process serves at all.
//! - `GET /readyz`: 200 when the worker is polling (built: connected to Temporal, policy
//!   loaded and checked; not shutting down) **and** Temporal answers now (a point lookup of a
//!   workflow that does not exist: "not found" is an answer); 503 with the reason otherwise.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use temporalio_client::Client;
use temporalio_client::errors::WorkflowInteractionError;

#[derive(Clone)]
struct Health {
    client: Client,
    polling: Arc<AtomicBool>,
}

/// Serves the endpoint on `listener` until the task is aborted.
pub(crate) fn serve(
    listener: tokio::net::TcpListener,
    client: Client,
    polling: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let app = Router::new()
        .route("/livez", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(Health { client, polling });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

/// Binds `addr`; the error names the setting.
pub(crate) async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    use anyhow::Context as _;
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("serving health on {addr} (worker.health, JIT_HEALTH_ADDRESS)"))
}

async fn ready(State(h): State<Health>) -> (StatusCode, String) {
    if !h.polling.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not polling: starting or shutting down\n".into(),
        );
    }
    let probe = h
        .client
        .get_workflow_handle::<jit_contract::ticket::Workflow>("jit-readiness-probe");
    match tokio::time::timeout(Duration::from_secs(3), probe.describe(Default::default())).await {
        Ok(Ok(_) | Err(WorkflowInteractionError::NotFound(_))) => {
            (StatusCode::OK, "ready\n".into())
        }
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Temporal does not answer: {e}\n"),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporal does not answer within 3 s\n".into(),
        ),
    }
}
