//! The bare ticket: the simplest workflow of a ticket's shape, for the ticket benchmark's
//! ratio — an update approves, an activity grants, a timer runs out the access, an activity
//! revokes. No policy, no AWS, no search attributes: what the engine costs and nothing else.
//!
//! [`run_worker`] serves it (the benchmark runs it as `e2e-worker bare`, a process of its own
//! so its CPU and memory are its own).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{
    ActivityOptions, SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult,
};

/// The workflow type.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bare;

impl Bare {
    pub const NAME: &'static str = "BareTicketWorkflow";
}

/// How long access lasts, in milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BareInput {
    pub grant_ms: u64,
}

impl temporalio_common::WorkflowDefinition for Bare {
    type Input = BareInput;
    type Output = ();
    fn name(&self) -> &str {
        Self::NAME
    }
}

impl temporalio_common::HasWorkflowDefinition for Bare {
    type Run = Self;
}

/// The approval.
#[derive(Debug, Clone, Copy, Default)]
pub struct Approve;

impl temporalio_common::UpdateDefinition for Approve {
    type Workflow = Bare;
    type Input = String;
    type Output = ();
    fn name(&self) -> &str {
        "approve"
    }
}

macro_rules! bare_activity {
    ($name:ident = $wire:literal) => {
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;
        impl temporalio_common::ActivityDefinition for $name {
            type Input = String;
            type Output = ();
            fn name(&self) -> &str {
                $wire
            }
        }
    };
}

bare_activity!(Grant = "bare_grant");
bare_activity!(Revoke = "bare_revoke");

#[workflow]
pub struct BareTicketWorkflow {
    grant: Duration,
    approved_by: Option<String>,
}

#[workflow_methods]
impl BareTicketWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: BareInput) -> Self {
        Self {
            grant: Duration::from_millis(input.grant_ms),
            approved_by: None,
        }
    }

    #[run(name = Bare::NAME)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        ctx.wait_condition(|s| s.approved_by.is_some()).await.ok();
        let id = ctx.workflow_id().to_owned();
        let options =
            || ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30)).build();
        ctx.execute_activity(Grant, id.clone(), options()).await?;
        let grant = ctx.state(|s| s.grant);
        ctx.timer(grant).await;
        ctx.execute_activity(Revoke, id, options()).await?;
        Ok(())
    }

    #[update(name = "approve")]
    pub fn approve(&mut self, _ctx: &mut SyncWorkflowContext<Self>, by: String) {
        self.approved_by.get_or_insert(by);
    }
}

/// The activities: nothing to do but answer.
pub struct BareActivities;

#[activities]
impl BareActivities {
    #[activity(definition = Grant)]
    pub async fn grant(
        self: Arc<Self>,
        _ctx: ActivityContext,
        _ticket: String,
    ) -> Result<(), ActivityError> {
        Ok(())
    }

    #[activity(definition = Revoke)]
    pub async fn revoke(
        self: Arc<Self>,
        _ctx: ActivityContext,
        _ticket: String,
    ) -> Result<(), ActivityError> {
        Ok(())
    }
}

/// Serves the bare workflow on `task_queue` until SIGTERM, with the SDK's defaults (a
/// sticky cache of 1,000 workflows) as a plain worker would.
pub async fn run_worker(address: &str, namespace: &str, task_queue: &str) -> anyhow::Result<()> {
    let runtime = temporalio_sdk::Runtime::from_current_tokio(Default::default())?;
    let client = crate::connect(address, namespace, "jit-bench-bare").await;
    let options = temporalio_sdk::WorkerOptions::new(task_queue.to_owned())
        .register_workflow::<BareTicketWorkflow>()?
        .register_activities(BareActivities)
        .build();
    let mut worker = temporalio_sdk::Worker::new(&runtime, client, options)?;
    let stop = worker.shutdown_handle();
    tokio::spawn(async move {
        jit_temporal::shutdown_signal().await;
        stop();
    });
    worker.run().await?;
    Ok(())
}
