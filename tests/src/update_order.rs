//! A workflow of the smallest shape that meets the SDK replay defect `jit_temporal::worker`
//! works around: an activity, then a timer, with an update (`poke`) its validator accepts only
//! once the activity is done (as the ticket's `extend` accepts only active access), and a
//! query (`worked`).
//!
//! The e2e test `defects::a_query_that_overtakes_a_task_keeps_updates_replayable` plays the
//! scenario; `e2e-worker update-order ADDRESS NAMESPACE QUEUE` serves the workflow from a
//! process of its own, so the test can kill it.

use std::sync::Arc;
use std::time::Duration;

use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{
    ActivityOptions, SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult,
};

#[derive(Debug, Clone, Copy, Default)]
pub struct Order;

impl temporalio_common::WorkflowDefinition for Order {
    type Input = ();
    type Output = ();
    fn name(&self) -> &str {
        "UpdateOrder"
    }
}

impl temporalio_common::HasWorkflowDefinition for Order {
    type Run = Self;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Poke;

impl temporalio_common::UpdateDefinition for Poke {
    type Workflow = Order;
    type Input = ();
    type Output = ();
    fn name(&self) -> &str {
        "poke"
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Worked;

impl temporalio_common::QueryDefinition for Worked {
    type Workflow = Order;
    type Input = ();
    type Output = bool;
    fn name(&self) -> &str {
        "worked"
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Work;

impl temporalio_common::ActivityDefinition for Work {
    type Input = ();
    type Output = ();
    fn name(&self) -> &str {
        "work"
    }
}

#[workflow]
pub struct UpdateOrder {
    activities: String,
    worked: bool,
    poked: bool,
}

#[workflow_methods]
impl UpdateOrder {
    #[init]
    pub fn new(ctx: &WorkflowContextView, _input: ()) -> Self {
        Self {
            activities: format!("{}-activities", ctx.task_queue()),
            worked: false,
            poked: false,
        }
    }

    #[run(name = "UpdateOrder")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        let queue = ctx.state(|s| s.activities.clone());
        let mut options =
            ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30)).build();
        options.task_queue = Some(queue);
        ctx.execute_activity(Work, (), options).await?;
        ctx.state_mut(|s| s.worked = true);
        // A command of the main routine in the task that also carries the update.
        ctx.timer(Duration::from_secs(3600)).await;
        Ok(())
    }

    #[query(name = "worked")]
    pub fn worked(&self, _ctx: &WorkflowContextView) -> bool {
        self.worked
    }

    /// Like the ticket's `extend`, which only active access accepts.
    #[update_validator(poke)]
    pub fn validate_poke(
        &self,
        _ctx: &WorkflowContextView,
        _input: &(),
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if self.worked {
            Ok(())
        } else {
            Err("not yet".into())
        }
    }

    #[update(name = "poke")]
    pub fn poke(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _input: ()) {
        self.poked = true;
    }
}

pub struct Activities;

#[activities]
impl Activities {
    #[activity(definition = Work)]
    pub async fn work(
        self: Arc<Self>,
        _ctx: ActivityContext,
        _input: (),
    ) -> Result<(), ActivityError> {
        // Long enough for the query to leave the dead worker's sticky queue first.
        tokio::time::sleep(Duration::from_secs(2)).await;
        Ok(())
    }
}

pub fn workflow_worker(
    runtime: &temporalio_sdk::Runtime,
    client: temporalio_client::Client,
    queue: &str,
) -> anyhow::Result<temporalio_sdk::Worker> {
    let options = temporalio_sdk::WorkerOptions::new(queue.to_owned())
        .register_workflow::<UpdateOrder>()?
        .build();
    Ok(temporalio_sdk::Worker::new(runtime, client, options)?)
}

/// Serves [`UpdateOrder`] on `queue` until killed.
pub async fn serve(address: &str, ns: &str, queue: &str) -> anyhow::Result<()> {
    let runtime = temporalio_sdk::Runtime::from_current_tokio(Default::default())?;
    let mut worker = workflow_worker(
        &runtime,
        crate::connect(address, ns, "update-order-a").await,
        queue,
    )?;
    worker.run().await?;
    Ok(())
}
