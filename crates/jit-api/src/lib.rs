//! jit-api, the front door: `jit.v1.TicketService` over gRPC.
//!
//! [`Settings`] (the `api:` section of the config, `JIT_*` environment) -> [`Api::build`]
//! (connects to Temporal, loads the policy, binds the port) -> [`Api::run_until_stopped`]
//! (serves until the shutdown future resolves, then drains). It holds a Temporal client and
//! never AWS credentials: what needs AWS (the catalog) is asked of a worker through a
//! workflow.
//!
//! - [`auth`]: JWT (JWKS, issuer, audience, expiry) or, in dev mode only, `dev:<user>`.
//! - [`door`]: every request field checked (AWS's model rules, the well-known types'
//!   ranges) before anything reaches Temporal; [`known`]: the organization's accounts and
//!   permission sets, cached, so requests for what does not exist are refused at once.
//! - [`service`]: the RPCs on Temporal; refusals mapped to status codes.
//! - [`convert`]: domain <-> wire.
//! - [`metrics`]: Prometheus metrics (RPCs by method and code, refused credentials, chat
//!   requests) when `api.metrics` is set.
//! - [`chat`]: HTTP for chat (when `api.http_port` is set): Slack interactions, Teams vote
//!   links, through the same path as gRPC.
//! - [`codec`]: the codec server on the same HTTP port: the Temporal UI and CLI decode
//!   encrypted payloads through it (admins only; open in dev mode).
//! - [`console`]: the web console at `/` on the HTTP port (strict CSP, immutable assets),
//!   `/console/config.json` (how people sign in).
//! - [`web`]: the same service as gRPC-Web on the HTTP port, for browsers (CORS closed
//!   unless `api.web_origins` names origins).
//!
//! Also served: `grpc.health.v1.Health` and reflection (v1 and v1alpha).

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use jit_policy::{Policy, PolicyStore};
use jit_proto::v1::ticket_service_server::TicketServiceServer;

mod ask;
pub mod auth;
pub mod chat;
pub mod codec;
pub mod console;
pub mod convert;
pub mod door;
pub mod known;
pub mod metrics;
pub mod service;
pub mod web;

pub use service::TicketApi;

pub type Settings = jit_config::ApiSettings;

/// Loads the settings from `config` and the process environment.
pub fn load_settings(config: &Path) -> anyhow::Result<Settings> {
    let mut stack = jit_config::StackConfig::load(config)?;
    stack.apply_port_overrides(&jit_config::process_env)?;
    Ok(stack.api_settings(&jit_config::process_env)?)
}

pub struct Api {
    listener: tokio::net::TcpListener,
    http: Option<tokio::net::TcpListener>,
    service: TicketApi,
    settings: Settings,
    policy_file: std::path::PathBuf,
    metrics: Option<Arc<metrics::ApiMetrics>>,
}

impl Api {
    /// Connects to Temporal (retrying while it starts), loads the policy, binds.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let metrics = match settings.metrics {
            Some(addr) => Some(Arc::new(metrics::ApiMetrics::serve(addr)?)),
            None => None,
        };
        let client =
            connect_temporal(&settings, metrics.as_ref().and_then(|m| m.client_meter())).await?;
        let policy = Policy::load(&settings.policy_file).await?;
        let listener = tokio::net::TcpListener::bind(&settings.listen)
            .await
            .with_context(|| format!("binding {} (JIT_API_PORT)", settings.listen))?;
        let http = match &settings.http_listen {
            None => None,
            Some(a) => Some(
                tokio::net::TcpListener::bind(a)
                    .await
                    .with_context(|| format!("binding {a} (JIT_API_HTTP_PORT)"))?,
            ),
        };
        let service = TicketApi {
            known: Arc::new(known::KnownTargets::new(
                client.clone(),
                settings.task_queue.clone(),
            )),
            client,
            namespace: settings.namespace.clone(),
            task_queue: settings.task_queue.clone(),
            limits: settings.limits,
            auth: Arc::new(
                auth::Authenticator::new(settings.dev_auth, settings.jwt.clone())
                    .with_metrics(metrics.clone()),
            ),
            policy: Arc::new(PolicyStore::new(policy)),
            codec: jit_temporal::codec::Codec::new(settings.codec_keys.clone()),
        };
        Ok(Self {
            listener,
            http,
            service,
            policy_file: settings.policy_file.clone(),
            settings,
            metrics,
        })
    }

    /// Where the Prometheus endpoint listens (`/metrics`), if it is on.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|m| m.address())
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Where the chat endpoints listen, if they do.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` resolves; in-flight calls finish first.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.local_addr()?;
        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_serving::<TicketServiceServer<TicketApi>>().await;
        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(jit_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(jit_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()?;
        // One shutdown for both servers.
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let console = match &self.settings.console {
            Some(c) => Some(console::router(
                c,
                self.settings.dev_auth,
                self.settings.jwt.as_ref(),
            )?),
            None => None,
        };
        let http_task = self.http.map(|listener| {
            let codec = self.service.codec.clone();
            let router = chat::ChatHttp::new(self.service.clone(), &self.settings.chat)
                .with_metrics(self.metrics.clone())
                .router()
                .merge(
                    codec::CodecServer::new(self.service.clone(), codec, self.settings.dev_auth)
                        .router(&self.settings.codec_origins),
                )
                .merge(web::router(
                    self.service.clone(),
                    &self.settings.web_origins,
                    self.metrics.clone(),
                ))
                .merge(console.unwrap_or_default());
            let rx = stop_rx.clone();
            tracing::info!(
                addr = ?listener.local_addr().ok(),
                web_origins = ?self.settings.web_origins,
                "gRPC-Web, chat and codec endpoints serving"
            );
            tokio::spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(stopped(rx))
                    .await
            })
        });
        // The policy (service grants, admins) follows its file like the worker's does.
        let store = Arc::clone(&self.service.policy);
        let watcher = tokio::spawn(watch_policy(store, self.policy_file.clone()));
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = &self.settings.tls {
            let cert = std::fs::read(&tls.cert)
                .with_context(|| format!("reading {}", tls.cert.display()))?;
            let key = std::fs::read(&tls.key)
                .with_context(|| format!("reading {}", tls.key.display()))?;
            builder = builder.tls_config(
                tonic::transport::ServerTlsConfig::new()
                    .identity(tonic::transport::Identity::from_pem(cert, key)),
            )?;
        }
        tracing::info!(
            %addr,
            auth = %self.service.auth.mode(),
            tls = self.settings.tls.is_some(),
            payloads = %self.service.codec.describe(),
            temporal = %self.settings.temporal_address,
            "jit-api serving jit.v1.TicketService, health and reflection"
        );
        // No Nagle: small gRPC answers would otherwise wait for the peer's delayed ACK
        // (~40 ms each).
        let incoming =
            tonic::transport::server::TcpIncoming::from(self.listener).with_nodelay(Some(true));
        let out = builder
            .layer(metrics::RpcMetricsLayer(self.metrics.clone()))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(TicketServiceServer::new(self.service))
            .serve_with_incoming_shutdown(incoming, async move {
                stopped(stop_rx).await;
                tracing::info!("shutting down: finishing the calls in hand");
            })
            .await
            .context("serving gRPC");
        watcher.abort();
        if let Some(t) = http_task {
            let _ = t.await;
        }
        if let Some(m) = &self.metrics {
            m.stop();
        }
        out
    }
}

/// Re-reads the policy when its file changes; a file that does not load is refused and the
/// policy before stays (the worker, which can also check the directory, logs why).
async fn watch_policy(store: Arc<PolicyStore>, path: std::path::PathBuf) {
    let mut last = std::fs::read(&path).ok();
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let now = std::fs::read(&path).ok();
        if now == last {
            continue;
        }
        last = now;
        match Policy::load(&path).await {
            Ok(p) => {
                store.replace(p);
                tracing::info!("policy reloaded");
            }
            Err(e) => tracing::error!("policy not reloaded: {e}; the policy before stays in force"),
        }
    }
}

/// Connects a Temporal client, retrying for up to a minute while the server starts.
async fn connect_temporal(
    settings: &Settings,
    meter: Option<temporalio_common::telemetry::metrics::TemporalMeter>,
) -> anyhow::Result<temporalio_client::Client> {
    let target = jit_temporal::Target {
        address: settings.temporal_address.clone(),
        namespace: settings.namespace.clone(),
        role: "jit-api".to_owned(),
        patience: std::time::Duration::from_secs(60),
        tls: settings
            .temporal_tls
            .as_ref()
            .map(jit_config::TemporalTls::load)
            .transpose()?,
        api_key: settings
            .temporal_api_key
            .as_ref()
            .map(|k| k.expose().to_owned()),
        codec: jit_temporal::codec::Codec::new(settings.codec_keys.clone()),
    };
    Ok(jit_temporal::connect_metered(&target, meter).await?)
}

/// The binary's main: `jit-api --config FILE`.
pub async fn main_with_args(args: impl IntoIterator<Item = String>) -> anyhow::Result<()> {
    use clap::Parser;
    #[derive(Parser)]
    #[command(name = "jit-api", about = "Serves jit.v1.TicketService over gRPC")]
    struct Args {
        /// The configuration file (its api: and worker: sections, JIT_* overrides).
        #[arg(long, env = "JIT_CONFIG", default_value = "temporal-dev.yaml")]
        config: std::path::PathBuf,
    }
    let args = Args::parse_from(args);
    let traces = jit_temporal::init_tracing("info", "jit-api").map_err(anyhow::Error::msg)?;
    let settings = load_settings(&args.config)?;
    let api = Api::build(settings).await?;
    println!("jit-api listening on {}", api.local_addr()?);
    let out = api.run_until_stopped(jit_temporal::shutdown_signal()).await;
    if let Some(t) = traces {
        t.shutdown();
    }
    out
}
