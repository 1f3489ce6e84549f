//! `jit.v1.TicketService` as gRPC-Web on the HTTP port, for browsers: the same service value
//! as the gRPC port (the same door, authentication and metrics), wrapped by tonic-web, which
//! speaks gRPC-Web (binary and text) over HTTP/1.1 — server streaming (WatchTicket) included.
//!
//! Same-origin callers (a console served from this port) need no CORS. Cross-origin callers
//! are answered only from `api.web_origins` (`JIT_WEB_ORIGINS`); with none, no CORS header
//! is ever sent, so a browser on another origin cannot read an answer.

use std::sync::Arc;

use axum::Router;
use http::{HeaderName, HeaderValue, Method};
use jit_proto::v1::ticket_service_server::TicketServiceServer;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::metrics::{ApiMetrics, RpcMetricsLayer};
use crate::service::TicketApi;

/// Request headers a gRPC-Web client sends.
const REQUEST_HEADERS: [&str; 5] = [
    "authorization",
    "content-type",
    "x-grpc-web",
    "x-user-agent",
    "grpc-timeout",
];

/// Response headers a gRPC-Web client must read.
const RESPONSE_HEADERS: [&str; 3] = ["grpc-status", "grpc-message", "grpc-status-details-bin"];

/// The service's routes (`/jit.v1.TicketService/*`) speaking gRPC-Web.
pub fn router(api: TicketApi, origins: &[String], metrics: Option<Arc<ApiMetrics>>) -> Router {
    // An explicit route (no catch-all fallback): the console serves every other path.
    let service = tower::ServiceBuilder::new()
        .layer(RpcMetricsLayer(metrics))
        .layer(tonic_web::GrpcWebLayer::new())
        .service(TicketServiceServer::new(api));
    let router = Router::new().route_service("/jit.v1.TicketService/{*method}", service);
    if origins.is_empty() {
        return router;
    }
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    router.layer(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::POST])
            .allow_headers(REQUEST_HEADERS.map(HeaderName::from_static))
            .expose_headers(RESPONSE_HEADERS.map(HeaderName::from_static))
            .max_age(std::time::Duration::from_secs(600)),
    )
}
