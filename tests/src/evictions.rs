//! A workflow that counts its live instances, to see whether a worker frees the runs its
//! sticky cache evicts (`defects::evicted_runs_are_freed`). It has the parts of a ticket
//! waiting for approval: an activity, an upsert of jit's search attributes, current details,
//! a query, an update with a validator, a signal, then a boxed timer raced with a condition;
//! once its second task is done the run has nothing to do until the cache evicts it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use std::sync::Arc;

use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{ActivityOptions, WorkflowContext, WorkflowContextView, WorkflowResult};

type BoxedTimer<'a> = std::pin::Pin<
    Box<dyn temporalio_sdk::CancellableFuture<Output = temporalio_sdk::TimerResult> + 'a>,
>;

/// Instances made and dropped, over this process.
pub static MADE: AtomicUsize = AtomicUsize::new(0);
pub static DROPPED: AtomicUsize = AtomicUsize::new(0);

/// Instances alive now.
pub fn live() -> usize {
    MADE.load(Ordering::SeqCst) - DROPPED.load(Ordering::SeqCst)
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Wait;

impl temporalio_common::WorkflowDefinition for Wait {
    type Input = ();
    type Output = ();
    fn name(&self) -> &str {
        "CountedWait"
    }
}

impl temporalio_common::HasWorkflowDefinition for Wait {
    type Run = Self;
}

/// Counts itself in [`MADE`] and [`DROPPED`].
pub struct Counted(());

impl Counted {
    fn new() -> Self {
        MADE.fetch_add(1, Ordering::SeqCst);
        Self(())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::SeqCst);
    }
}

#[workflow]
pub struct CountedWait {
    _counted: Counted,
    done: bool,
}

#[workflow_methods]
impl CountedWait {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, _input: ()) -> Self {
        Self {
            _counted: Counted::new(),
            done: false,
        }
    }

    #[query(name = "done")]
    pub fn is_done(&self, _ctx: &WorkflowContextView) -> bool {
        self.done
    }

    #[update_validator(finish)]
    pub fn validate_finish(
        &self,
        _ctx: &WorkflowContextView,
        _input: &(),
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Ok(())
    }

    #[update(name = "finish")]
    pub fn finish(&mut self, _ctx: &mut temporalio_sdk::SyncWorkflowContext<Self>, _input: ()) {
        self.done = true;
    }

    #[signal(name = "nudge")]
    pub fn nudge(&mut self, _ctx: &mut temporalio_sdk::SyncWorkflowContext<Self>, _input: ()) {
        self.done = true;
    }

    #[run(name = "CountedWait")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30)).build();
        ctx.execute_activity(Noop, (), options).await?;
        ctx.upsert_search_attributes(jit_contract::search_attributes::phase(
            jit_domain::Phase::PendingApproval,
            None,
            Some(&[]),
            None,
        ));
        ctx.set_current_details("waiting".to_owned());
        // Boxed, as the ticket keeps its deadline across waits.
        let mut timer: BoxedTimer<'_> = Box::pin(ctx.timer(Duration::from_secs(3600)));
        let mut done = std::pin::pin!(ctx.wait_condition(|s| s.done));
        temporalio_sdk::workflows::select! {
            _ = timer.as_mut() => {},
            _ = done.as_mut() => {},
        };
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Noop;

impl temporalio_common::ActivityDefinition for Noop {
    type Input = ();
    type Output = ();
    fn name(&self) -> &str {
        "noop"
    }
}

pub struct Activities;

#[activities]
impl Activities {
    #[activity(definition = Noop)]
    pub async fn noop(
        self: Arc<Self>,
        _ctx: ActivityContext,
        _input: (),
    ) -> Result<(), ActivityError> {
        Ok(())
    }
}
