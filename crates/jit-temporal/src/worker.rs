//! An SDK worker that evicts a run after a query that moved it forward.
//!
//! **The defect it works around** (temporalio-sdk 1.1 / core 0.10; reproduced by the e2e test
//! `defects::query_then_update_replays`, history in `tests/defects/`): a direct query reaches a
//! worker as a task of its own ("legacy query") carrying the workflow's history up to now. If
//! that history holds events no workflow task has processed yet (an activity's result, say,
//! while the task that should carry it waits on a dead worker's sticky queue), core runs the
//! workflow over them to answer, and the workflow's commands (a timer, an upsert) wait in the
//! cached run. When the real workflow task then arrives with an update, the update is accepted
//! in an activation of its own, so the history records the commands *before* the acceptance.
//! On replay core delivers the update and the activity's result in one activation and accepts
//! first: `[TMPRL1100] Update machine does not handle this event`. Signals can be reordered
//! the same way.
//!
//! **The workaround**: the guard recognises the activation a query task makes when it moves the
//! run: it is not a replay, yet its timestamp (the start of the workflow task it belongs to) is
//! the one of the activation before it, so no new workflow task started, and it carries history
//! (a local activity's result, which a workflow task's own activations carry, does not count).
//! When a query task's activation follows it at the same history length, the run is evicted
//! once the query is answered. The next workflow task replays the history from the start and
//! delivers everything in the order a replay will.
//!
//! A query on a run that is up to date is answered from the cache, as before, and so is a query
//! that follows a workflow task or a replay; the eviction costs one replay of the run's history,
//! only when a query overtook a workflow task.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use temporalio_client::{Client, NamespacedClient};
use temporalio_common::protos::coresdk::workflow_activation::{
    WorkflowActivation, workflow_activation_job::Variant,
};
use temporalio_sdk::interceptors::WorkerInterceptor;
use temporalio_sdk::{Worker, WorkerOptions};
use temporalio_sdk_core::{CoreRuntime, Worker as CoreWorker};

/// Core's id for the query of a query task (`temporalio_sdk_core`'s `LEGACY_QUERY_ID`, which
/// it does not export).
const QUERY_TASK_ID: &str = "legacy_query";

/// Why a worker could not be made.
pub type NewWorkerError = Box<dyn std::error::Error + Send + Sync>;

/// A worker for `options` on `runtime` whose runs `guard` evicts when a query task moved them
/// (see the module's doc). `options` must have been built with [`QueryEvictions::interceptor`]
/// of the same `guard`; `runtime` must outlive the worker.
pub fn new_worker(
    runtime: &CoreRuntime,
    client: &Client,
    options: WorkerOptions,
    guard: &Arc<QueryEvictions>,
) -> Result<Worker, NewWorkerError> {
    let config =
        options.to_core_options(client.namespace().to_owned(), client.identity().to_owned())?;
    let core = Arc::new(temporalio_sdk_core::init_worker(
        runtime,
        config,
        client.connection().clone(),
    )?);
    if guard.core.set(Arc::downgrade(&core)).is_err() {
        return Err("a QueryEvictions guard serves one worker".into());
    }
    Ok(Worker::new_from_core_options(
        core,
        client.options().clone(),
        options,
    )?)
}

/// What the guard remembers: per cached run, its last activation that processed events; and
/// how many runs it evicted.
#[derive(Default)]
pub struct QueryEvictions {
    core: OnceLock<Weak<CoreWorker>>,
    runs: Mutex<HashMap<String, Seen>>,
    evicted: AtomicU64,
}

/// A run's last activation that processed events.
struct Seen {
    /// When its workflow task started (seconds, nanoseconds).
    started: Option<(i64, i32)>,
    /// Its history length, if it moved the run without a new workflow task (see the module's
    /// doc).
    moved_at: Option<u32>,
}

impl QueryEvictions {
    /// A guard for one worker.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// The interceptor to build the worker's options with.
    pub fn interceptor(self: &Arc<Self>) -> impl WorkerInterceptor + 'static {
        Guard(Arc::clone(self))
    }

    /// Runs evicted so far because a query task moved them.
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Whether `activation` is a query task's answer right after that task moved the run;
    /// records what it needs for the next call.
    fn should_evict(&self, activation: &WorkflowActivation) -> bool {
        let variants = || activation.jobs.iter().filter_map(|j| j.variant.as_ref());
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        if variants().any(|v| matches!(v, Variant::RemoveFromCache(_))) {
            runs.remove(&activation.run_id);
            return false;
        }
        if !variants().all(|v| matches!(v, Variant::QueryWorkflow(_))) {
            let started = activation.timestamp.as_ref().map(|t| (t.seconds, t.nanos));
            let same_task = runs
                .get(&activation.run_id)
                .is_some_and(|seen| seen.started == started);
            let carries_history =
                variants().any(|v| !matches!(v, Variant::ResolveActivity(r) if r.is_local));
            let moved = !activation.is_replaying && same_task && carries_history;
            runs.insert(
                activation.run_id.clone(),
                Seen {
                    started,
                    moved_at: moved.then_some(activation.history_length),
                },
            );
            return false;
        }
        let query_task = variants()
            .any(|v| matches!(v, Variant::QueryWorkflow(q) if q.query_id == QUERY_TASK_ID));
        query_task
            && runs
                .get(&activation.run_id)
                .is_some_and(|seen| seen.moved_at == Some(activation.history_length))
    }
}

struct Guard(Arc<QueryEvictions>);

#[async_trait::async_trait(?Send)]
impl WorkerInterceptor for Guard {
    async fn on_workflow_activation(
        &self,
        activation: &WorkflowActivation,
    ) -> Result<(), anyhow::Error> {
        if self.0.should_evict(activation)
            && let Some(core) = self.0.core.get().and_then(Weak::upgrade)
        {
            // Core still answers the query task, then evicts.
            core.request_workflow_eviction(&activation.run_id);
            self.0.evicted.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                run_id = %activation.run_id,
                "a query moved this run ahead of its workflow task: evicted after the answer"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_common::protos::coresdk::workflow_activation::{
        FireTimer, QueryWorkflow, RemoveFromCache, ResolveActivity, WorkflowActivationJob,
    };

    /// An activation of run `run` at history length `len` in the workflow task started at
    /// second `started`.
    fn activation(run: &str, len: u32, started: i64, jobs: Vec<Variant>) -> WorkflowActivation {
        WorkflowActivation {
            run_id: run.into(),
            history_length: len,
            timestamp: Some(prost_wkt_types::Timestamp {
                seconds: started,
                nanos: 0,
            }),
            jobs: jobs
                .into_iter()
                .map(|v| WorkflowActivationJob { variant: Some(v) })
                .collect(),
            ..Default::default()
        }
    }

    fn replayed(mut a: WorkflowActivation) -> WorkflowActivation {
        a.is_replaying = true;
        a
    }

    fn query(id: &str) -> Variant {
        Variant::QueryWorkflow(QueryWorkflow {
            query_id: id.into(),
            ..Default::default()
        })
    }

    fn timer() -> Variant {
        Variant::FireTimer(FireTimer { seq: 1 })
    }

    fn resolved(local: bool) -> Variant {
        Variant::ResolveActivity(ResolveActivity {
            seq: 1,
            is_local: local,
            ..Default::default()
        })
    }

    /// The defect's shape: a query task replays a run it does not hold, then processes the
    /// activity's result no workflow task has (same start as the replayed task), then answers.
    #[test]
    fn a_query_task_that_moved_the_run_evicts_it() {
        let g = QueryEvictions::default();
        assert!(!g.should_evict(&replayed(activation("r", 3, 100, vec![timer()]))));
        assert!(!g.should_evict(&activation("r", 8, 100, vec![resolved(false)])));
        assert!(g.should_evict(&replayed(activation(
            "r",
            8,
            100,
            vec![query(QUERY_TASK_ID)]
        ))));
    }

    /// The same on a run the worker holds: the result arrives with the query task, not a task
    /// of its own.
    #[test]
    fn so_does_one_that_moved_a_cached_run() {
        let g = QueryEvictions::default();
        assert!(!g.should_evict(&activation("r", 9, 100, vec![timer()])));
        assert!(!g.should_evict(&activation("r", 14, 100, vec![resolved(false)])));
        assert!(g.should_evict(&activation("r", 14, 100, vec![query(QUERY_TASK_ID)])));
    }

    #[test]
    fn queries_after_a_workflow_task_do_not() {
        let g = QueryEvictions::default();
        assert!(!g.should_evict(&activation("r", 9, 100, vec![timer()])));
        // The next workflow task (started later), then a query task on the cached run.
        assert!(!g.should_evict(&activation("r", 14, 105, vec![resolved(false)])));
        assert!(!g.should_evict(&activation("r", 14, 105, vec![query(QUERY_TASK_ID)])));
        // Its local activity's result is delivered in the same task: still that task's.
        assert!(!g.should_evict(&activation("r", 14, 105, vec![resolved(true)])));
        assert!(!g.should_evict(&activation("r", 14, 105, vec![query(QUERY_TASK_ID)])));
        // Queries a workflow task carried are answered in that task, never evicted.
        assert!(!g.should_evict(&activation("r", 14, 105, vec![query("q-1")])));
        // Never seen: nothing to compare with.
        assert!(!g.should_evict(&activation("other", 3, 1, vec![query(QUERY_TASK_ID)])));
    }

    /// A query task on a run the worker does not hold replays it all; nothing moved.
    #[test]
    fn queries_after_a_replay_do_not() {
        let g = QueryEvictions::default();
        assert!(!g.should_evict(&replayed(activation("r", 3, 100, vec![timer()]))));
        assert!(!g.should_evict(&replayed(activation("r", 14, 105, vec![resolved(false)]))));
        assert!(!g.should_evict(&replayed(activation(
            "r",
            20,
            105,
            vec![query(QUERY_TASK_ID)]
        ))));
        assert!(!g.should_evict(&replayed(activation(
            "r",
            14,
            105,
            vec![query(QUERY_TASK_ID)]
        ))));
    }

    #[test]
    fn an_evicted_run_is_forgotten() {
        let g = QueryEvictions::default();
        assert!(!g.should_evict(&activation("r", 9, 100, vec![timer()])));
        assert!(!g.should_evict(&activation("r", 16, 100, vec![resolved(false)])));
        let evict = Variant::RemoveFromCache(RemoveFromCache::default());
        assert!(!g.should_evict(&activation("r", 16, 100, vec![evict])));
        assert!(!g.should_evict(&activation("r", 16, 100, vec![query(QUERY_TASK_ID)])));
    }
}
