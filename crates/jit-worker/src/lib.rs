//! The jit worker: configuration, telemetry and registration only.
//!
//! [`Settings`] (from the config file and `JIT_*` environment) -> [`Worker::build`] (connects
//! to Temporal and AWS, registers [`TicketWorkflow`](jit_workflows::TicketWorkflow) and
//! [`TicketActivities`]) -> [`Worker::run_until_stopped`] (until the shutdown future resolves,
//! then drains gracefully). [`policy`] loads the policy and reloads it on change or SIGHUP.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use jit_activities::{AuditActivities, DirectoryCache, LeaseActivities, TicketActivities};
use jit_contract::reconcile::{self, ReconcileInput};
use jit_policy::PolicyStore;

mod fleet;
mod health;
mod metrics;
pub mod policy;
use jit_aws::{AwsSettings, IdentityCenter};
use jit_config::{StackConfig, WorkerSettings};
use jit_workflows::{
    AssignmentLease, AwsGovernor, CatalogWorkflow, DelegationWorkflow, ExplainWorkflow,
    KnownTargetsWorkflow, ReconcileWorkflow, SessionCutoff, SessionEventsWorkflow, TicketWorkflow,
    UserLookupWorkflow,
};
use temporalio_client::Client;
use temporalio_sdk::{Runtime, WorkerOptions};

/// The worker's settings, resolved.
pub type Settings = WorkerSettings;

/// Loads the settings from `config` and the process environment.
pub fn load_settings(config: &Path) -> anyhow::Result<Settings> {
    let mut stack = StackConfig::load(config)?;
    // The local stack's port overrides move the defaults derived from them too.
    stack.apply_port_overrides(&jit_config::process_env)?;
    Ok(stack.worker_settings(&jit_config::process_env)?)
}

/// Activity slots of the lease-call queue: these activities may wait long (for a deletion
/// under way on their lease, for an operation permit, for a classic lease's governor), so
/// they get a queue and slots of their own: waiting calls can never starve the ones that
/// would end the wait.
const LEASE_CALL_SLOTS: usize = 5000;

/// The schedule that runs [`ReconcileWorkflow`] for the fleet on `task_queue`.
pub fn reconcile_schedule_id(task_queue: &str) -> String {
    format!("jit-reconcile-{task_queue}")
}

/// A connected, registered worker, ready to run.
pub struct Worker {
    inner: temporalio_sdk::Worker,
    /// Runs the lease calls on `<task queue>-leases`.
    lease_calls: temporalio_sdk::Worker,
    settings: Settings,
    watcher: tokio::task::JoinHandle<()>,
    /// Keeps `jit_tickets` current (when metrics are on).
    counter: Option<tokio::task::JoinHandle<()>>,
    /// Keeps this worker's share of the fleet's AWS budget current (`fleet`).
    fleet: Option<tokio::task::JoinHandle<()>>,
    /// `/livez` and `/readyz`, when configured: where, and the server task.
    health: Option<(SocketAddr, tokio::task::JoinHandle<()>)>,
    /// Whether the workers poll (readiness).
    polling: Arc<std::sync::atomic::AtomicBool>,
    /// The Prometheus endpoint, when configured: where it listens, and its server task.
    metrics: Option<(SocketAddr, tokio::task::AbortHandle)>,
    /// How many runs were evicted because a query moved them ahead of their workflow task
    /// (`jit_temporal::worker`).
    evictions: Arc<jit_temporal::worker::QueryEvictions>,
    // Declared after the workers: dropped after the workers that use them. `core_runtime`
    // runs `inner` (whose core the eviction guard needs), `_runtime` the lease calls.
    _core_runtime: temporalio_sdk_core::CoreRuntime,
    _runtime: Runtime,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// Connects to Temporal (retrying while it starts) and builds the AWS clients.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let Telemetry {
            runtime,
            core_runtime,
            served: metrics,
            client_meter,
            jit,
        } = telemetry(&settings)?;
        let client = connect(&settings, client_meter).await?;
        let aws = IdentityCenter::connect_with_metrics(
            &AwsSettings {
                region: settings.aws_region.clone(),
                endpoint_url: settings.aws_endpoint_url.clone(),
                requests_per_second: settings.aws_limits.requests_per_second,
            },
            (jit.is_some() || jit_temporal::traces::enabled()).then(|| {
                Arc::new(metrics::AwsObserver {
                    metrics: jit.clone(),
                }) as Arc<dyn jit_aws::AwsMetrics>
            }),
        )
        .await;
        let aws = Arc::new(aws);
        let fleet = Some(
            fleet::start(
                client.clone(),
                settings.namespace.clone(),
                jit_contract::lease::call_queue(&settings.task_queue),
                fleet::Budget {
                    requests_per_second: settings.aws_limits.fleet_requests_per_second,
                    outstanding_operations: settings.aws_limits.outstanding_operations,
                },
                Arc::clone(&aws),
            )
            .await,
        );
        let ttl = settings.directory_ttl.unsigned_abs();
        let directory = Arc::new(DirectoryCache::new(Arc::clone(&aws), ttl));
        let loaded = policy::load_checked(&settings.policy_file, &directory).await?;
        tracing::info!(
            payloads = %jit_temporal::codec::Codec::new(settings.codec_keys.clone()).describe(),
            "payload encryption"
        );
        tracing::info!(
            policy = %jit_policy::short_hash(loaded.hash()),
            lines = loaded.line_count(),
            file = %settings.policy_file.display(),
            "policy loaded"
        );
        let loaded_hash = loaded.hash().to_owned();
        let store = Arc::new(PolicyStore::new(loaded));
        if let Some(m) = &jit {
            m.policy_in_force(jit_policy::short_hash(loaded_hash.as_str()));
        }
        let watcher = tokio::spawn(policy::watch(
            Arc::clone(&store),
            Arc::clone(&directory),
            settings.policy_file.clone(),
            jit.clone(),
        ));
        let outstanding = settings.aws_limits.outstanding_operations;
        let activity_metrics: Arc<dyn jit_activities::ActivityMetrics> = match &jit {
            Some(j) => j.clone(),
            None => Arc::new(jit_activities::NoMetrics),
        };
        let lease_activities = || {
            LeaseActivities::new(Arc::clone(&aws), settings.task_queue.clone(), outstanding)
                .with_metrics(Arc::clone(&activity_metrics))
                .with_audit(settings.audit.clone())
        };
        let audit_activities = AuditActivities::new(
            Arc::clone(&aws),
            Arc::clone(&directory),
            Arc::clone(&store),
            settings.audit.clone(),
        );
        let activities = TicketActivities::new(
            Arc::clone(&aws),
            directory,
            store,
            settings.limits,
            &settings.chat,
        )
        .with_metrics(Arc::clone(&activity_metrics))
        .with_audit(settings.audit.as_ref());
        let deployment = deployment_options(&settings);
        let evictions = jit_temporal::worker::QueryEvictions::new();
        let options = WorkerOptions::new(settings.task_queue.clone())
            .worker_interceptor(evictions.interceptor())
            .deployment_options(deployment.clone())
            .max_cached_workflows(settings.cached_workflows)
            .register_workflow::<TicketWorkflow>()?
            .register_workflow::<DelegationWorkflow>()?
            .register_workflow::<CatalogWorkflow>()?
            .register_workflow::<ExplainWorkflow>()?
            .register_workflow::<KnownTargetsWorkflow>()?
            .register_workflow::<UserLookupWorkflow>()?
            .register_workflow::<AssignmentLease>()?
            .register_workflow::<AwsGovernor>()?
            .register_workflow::<ReconcileWorkflow>()?
            .register_workflow::<SessionCutoff>()?
            .register_workflow::<SessionEventsWorkflow>()?
            .register_activities(activities)
            .register_activities(lease_activities())
            .register_activities(audit_activities)
            .graceful_shutdown_period(Duration::from_secs(10))
            .build();
        ensure_reconcile_schedule(&client, &settings).await;
        let inner = jit_temporal::worker::new_worker(&core_runtime, &client, options, &evictions)
            .map_err(|e| anyhow::anyhow!("creating the Temporal worker: {e}"))?;
        let tuner = {
            use temporalio_sdk::runtime::worker_tuner::{FixedSizeSlotSupplier, TunerHolder};
            TunerHolder::builder()
                .workflow_task_slot_supplier(FixedSizeSlotSupplier::new(10))
                .activity_task_slot_supplier(FixedSizeSlotSupplier::new(LEASE_CALL_SLOTS))
                .local_activity_task_slot_supplier(FixedSizeSlotSupplier::new(10))
                .nexus_task_slot_supplier(FixedSizeSlotSupplier::new(10))
                .build()
        };
        let lease_options =
            WorkerOptions::new(jit_contract::lease::call_queue(&settings.task_queue))
                .deployment_options(deployment)
                .register_activities(lease_activities())
                .tuner(tuner)
                .graceful_shutdown_period(Duration::from_secs(10))
                .build();
        let polling = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let health = match settings.health {
            Some(addr) => {
                let listener = health::bind(addr).await?;
                let bound = listener.local_addr()?;
                tracing::info!(address = %format!("http://{bound}/readyz"), "health served");
                Some((
                    bound,
                    health::serve(listener, client.clone(), Arc::clone(&polling)),
                ))
            }
            None => None,
        };
        let counter = jit.map(|m| {
            let ops = metrics::operations(Arc::clone(&aws), Arc::clone(&m));
            let count = metrics::count_tickets(client.clone(), settings.task_queue.clone(), m);
            tokio::spawn(async move {
                tokio::join!(ops, count);
            })
        });
        let lease_calls = temporalio_sdk::Worker::new(&runtime, client, lease_options)
            .context("creating the lease-call worker")?;
        Ok(Self {
            inner,
            lease_calls,
            settings,
            watcher,
            counter,
            fleet,
            health,
            polling,
            metrics,
            evictions,
            _core_runtime: core_runtime,
            _runtime: runtime,
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Runs evicted so far because a query moved them ahead of their workflow task.
    pub fn query_evictions(&self) -> u64 {
        self.evictions.evicted()
    }

    /// Where the Prometheus endpoint listens (`/metrics`), if it is on.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(a, _)| *a)
    }

    /// Where `/livez` and `/readyz` are served, if they are.
    pub fn health_address(&self) -> Option<SocketAddr> {
        self.health.as_ref().map(|(a, _)| *a)
    }

    /// Polls until `shutdown` resolves, then stops taking work and drains.
    /// Not `Send`: await it on the main task.
    pub async fn run_until_stopped(
        mut self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = self.inner.shutdown_handle();
        let stop_leases = self.lease_calls.shutdown_handle();
        let polling = Arc::clone(&self.polling);
        polling.store(true, std::sync::atomic::Ordering::SeqCst);
        tokio::spawn(async move {
            shutdown.await;
            polling.store(false, std::sync::atomic::Ordering::SeqCst);
            tracing::info!("shutting down: finishing the tasks in hand");
            stop();
            stop_leases();
        });
        tracing::info!(
            task_queue = %self.settings.task_queue,
            temporal = %self.settings.temporal_address,
            aws = self.settings.aws_endpoint_url.as_deref().unwrap_or("AWS"),
            version = %version_label(&self.settings),
            "worker running"
        );
        let (out, leases) = futures::join!(self.inner.run(), self.lease_calls.run());
        let out = out
            .context("worker stopped with an error")
            .and(leases.context("lease-call worker stopped with an error"));
        self.watcher.abort();
        if let Some(f) = &self.fleet {
            f.abort();
        }
        if let Some(c) = &self.counter {
            c.abort();
        }
        if let Some((_, h)) = &self.health {
            h.abort();
        }
        if let Some((_, server)) = &self.metrics {
            server.abort();
        }
        out
    }
}

/// What [`telemetry`] starts.
struct Telemetry {
    runtime: Runtime,
    /// The same telemetry for the ticket worker, built on core directly (see
    /// `jit_temporal::worker`).
    core_runtime: temporalio_sdk_core::CoreRuntime,
    /// Where metrics are served, and how to stop serving them.
    served: Option<(SocketAddr, tokio::task::AbortHandle)>,
    /// The meter the worker's client records its requests with.
    client_meter: Option<temporalio_common::telemetry::metrics::TemporalMeter>,
    /// jit's own instruments on the same endpoint.
    jit: Option<Arc<metrics::JitMetrics>>,
}

/// The SDK runtime, with its Prometheus exporter when `settings.metrics` names an address:
/// the SDK's own `temporal_*` metrics (polls, task latencies, slots, sticky cache, activity
/// and workflow outcomes, the client's requests) and jit's `jit_*` ([`metrics`]) on
/// `http://<address>/metrics`.
fn telemetry(settings: &Settings) -> anyhow::Result<Telemetry> {
    use temporalio_common::telemetry::TelemetryOptions;
    let exporter = settings
        .metrics
        .map(|addr| {
            jit_temporal::metrics::serve(
                addr,
                metrics::bucket_overrides(),
                "worker.metrics, JIT_METRICS_ADDRESS",
            )
        })
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let meter = exporter.as_ref().map(|e| e.meter.clone());
    let served = exporter.as_ref().map(|e| (e.address, e.server.clone()));
    let client_meter = exporter.and_then(|e| e.client_meter);
    let jit = meter.clone().map(|m| Arc::new(metrics::JitMetrics::new(m)));
    let options = temporalio_sdk::runtime::RuntimeOptions::builder()
        .telemetry_options(
            TelemetryOptions::builder()
                .maybe_metrics(meter.clone())
                .build(),
        )
        .build()
        .map_err(anyhow::Error::msg)?;
    let runtime = Runtime::from_current_tokio(options).context("starting the Temporal runtime")?;
    let core_options = temporalio_sdk_core::RuntimeOptions::builder()
        .telemetry_options(TelemetryOptions::builder().maybe_metrics(meter).build())
        .build()
        .map_err(anyhow::Error::msg)?;
    let core_runtime = temporalio_sdk_core::CoreRuntime::new_assume_tokio(core_options)
        .context("starting the Temporal core runtime")?;
    Ok(Telemetry {
        runtime,
        core_runtime,
        served,
        client_meter,
        jit,
    })
}

/// Creates (or updates) the Temporal Schedule that runs [`ReconcileWorkflow`] every
/// `reconcile.every` over the managed permission sets; deletes it when none are configured.
/// A failure is logged, never fatal: tickets do not depend on it.
pub async fn ensure_reconcile_schedule(client: &Client, settings: &Settings) {
    use temporalio_client::schedules::{
        CreateScheduleOptions, ScheduleAction, ScheduleError, ScheduleOverlapPolicy, ScheduleSpec,
    };
    let r = &settings.reconcile;
    let id = reconcile_schedule_id(&settings.task_queue);
    let handle = client.get_schedule_handle(id.clone());
    if r.permission_sets.is_empty() {
        if handle.describe(Default::default()).await.is_ok() {
            let _ = handle.delete(Default::default()).await;
        }
        return;
    }
    let input = ReconcileInput {
        permission_sets: r.permission_sets.clone(),
        dry_run: r.dry_run,
        accounts: r.accounts.clone(),
    };
    let action = || {
        ScheduleAction::start_workflow(
            reconcile::Workflow,
            input.clone(),
            settings.task_queue.clone(),
            format!("reconcile-{}", settings.task_queue),
        )
    };
    let spec = ScheduleSpec::from_interval(r.every.unsigned_abs());
    let created = client
        .create_schedule(
            id.clone(),
            CreateScheduleOptions::builder()
                .action(action())
                .spec(spec.clone())
                .overlap_policy(ScheduleOverlapPolicy::Skip)
                .note("jit: compare AWS with the leases".to_owned())
                .build(),
        )
        .await;
    let outcome = match created {
        Ok(_) => Ok("created"),
        Err(ScheduleError::Rpc(s)) if s.code() == tonic::Code::AlreadyExists => {
            let action = action();
            handle
                .update(
                    move |u| {
                        u.set_spec(spec).set_action(action);
                    },
                    Default::default(),
                )
                .await
                .map(|()| "updated")
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(what) => tracing::info!(
            schedule = %id,
            every = %r.every,
            dry_run = r.dry_run,
            permission_sets = ?r.permission_sets,
            "reconcile schedule {what}"
        ),
        Err(e) => tracing::warn!(error = %e, "reconcile schedule not set up"),
    }
}

/// Worker Versioning. With a deployment configured, both of this worker's task queues belong
/// to the version `<deployment>.<build id>` (the build id defaults to a digest of the binary),
/// and every workflow type is **Auto-Upgrade**: at its next workflow task a running workflow
/// moves to the version made current. Pinned is no choice here — tickets wait up to days for
/// approval and run for hours, leases and the governor live indefinitely, so a pinned build
/// would have to keep running for days after each deploy; and the Rust SDK (1.1) cannot pin
/// one workflow type and not another (it sends no per-workflow behavior). Changes that alter
/// the commands of running workflows stay behind `patched()`, proved by the committed replay
/// histories. Without a deployment: unversioned, the SDK's build id still recorded.
fn deployment_options(settings: &Settings) -> temporalio_common::worker::WorkerDeploymentOptions {
    use temporalio_common::worker::{
        VersioningBehavior, WorkerDeploymentOptions, WorkerDeploymentVersion,
        build_id_from_current_exe,
    };
    match &settings.deployment {
        None => WorkerDeploymentOptions::from_build_id(build_id_from_current_exe().to_owned()),
        Some(d) => WorkerDeploymentOptions::new(
            WorkerDeploymentVersion::builder()
                .deployment_name(d.name.clone())
                .build_id(
                    d.build_id
                        .clone()
                        .unwrap_or_else(|| build_id_from_current_exe().to_owned()),
                )
                .build(),
        )
        .use_worker_versioning(true)
        .default_versioning_behavior(VersioningBehavior::AutoUpgrade)
        .build(),
    }
}

/// `<deployment>.<build id>` (Auto-Upgrade), or `unversioned (build …)`.
fn version_label(settings: &Settings) -> String {
    let o = deployment_options(settings);
    if o.use_worker_versioning {
        format!(
            "{}.{} (auto-upgrade)",
            o.version.deployment_name, o.version.build_id
        )
    } else {
        format!("unversioned (build {})", o.version.build_id)
    }
}

/// Connects a Temporal client (its requests counted by `meter`), retrying for up to a minute
/// while the server starts.
async fn connect(
    settings: &Settings,
    meter: Option<temporalio_common::telemetry::metrics::TemporalMeter>,
) -> anyhow::Result<Client> {
    let target = jit_temporal::Target {
        address: settings.temporal_address.clone(),
        namespace: settings.namespace.clone(),
        role: "jit-worker".to_owned(),
        patience: Duration::from_secs(60),
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

/// The worker binary's main: `jit-worker --config FILE`.
pub async fn main_with_args(args: impl IntoIterator<Item = String>) -> anyhow::Result<()> {
    use clap::Parser;
    #[derive(Parser)]
    #[command(
        name = "jit-worker",
        about = "Runs jit's Temporal workflows and activities"
    )]
    struct Args {
        /// The configuration file (the worker: section, with JIT_* environment overrides).
        #[arg(long, env = "JIT_CONFIG", default_value = "temporal-dev.yaml")]
        config: std::path::PathBuf,
    }
    let args = Args::parse_from(args);
    let traces = jit_temporal::init_tracing("info,temporalio_sdk_core=warn", "jit-worker")
        .map_err(anyhow::Error::msg)?;
    let settings = load_settings(&args.config)?;
    let worker = Worker::build(settings).await?;
    let out = worker
        .run_until_stopped(jit_temporal::shutdown_signal())
        .await;
    if let Some(t) = traces {
        t.shutdown();
    }
    out
}
