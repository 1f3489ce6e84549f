//! `DelegationWorkflow` (id `delegation-<user>`): one approver's standing delegations, e.g.
//! for a holiday. Tickets read it at evaluation (through the `evaluate` activity's query), so
//! a delegate can vote as the approver on every ticket of the period.

use jiff::Timestamp;
use jit_contract::delegation::{self, SetDelegation};
use jit_contract::refusal::Refusal;
use jit_domain::{DelegationEntity, StandingDelegation};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ContinueAsNewOptions, SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult,
};

use crate::options::to_timestamp;

/// The entity runs until `clear`, continuing as new when its history grows.
#[workflow]
pub struct DelegationWorkflow {
    entity: DelegationEntity,
    clock: Timestamp,
    version: u64,
    closing: bool,
}

type HandlerError = Box<dyn std::error::Error + Send + Sync>;

const CONTINUE_AFTER_EVENTS: u32 = 1000;

#[workflow_methods]
impl DelegationWorkflow {
    #[init]
    pub fn new(ctx: &WorkflowContextView, entity: DelegationEntity) -> Self {
        Self {
            entity,
            clock: to_timestamp(ctx.start_time()),
            version: 0,
            closing: false,
        }
    }

    #[run(name = delegation::Workflow::NAME)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        loop {
            let now = to_timestamp(ctx.workflow_time());
            ctx.state_mut(|s| {
                s.clock = now;
                s.entity.prune(now);
            });
            if ctx.state(|s| s.closing) && ctx.all_handlers_finished() {
                return Ok(());
            }
            if ctx.continue_as_new_suggested() || ctx.history_length() >= CONTINUE_AFTER_EVENTS {
                let entity = ctx.state(|s| s.entity.clone());
                return match ctx.continue_as_new(entity, ContinueAsNewOptions::default()) {
                    Err(e) => Err(e),
                    Ok(never) => match never {},
                };
            }
            // Wake at the next expiry or on any change.
            let next = ctx.state(|s| s.entity.delegations.iter().map(|d| d.until).min());
            let seen = ctx.state(|s| s.version);
            let Some(next) = next else {
                ctx.wait_condition(move |s| s.version != seen).await.ok();
                continue;
            };
            let timer = ctx.timer(next.duration_since(now).unsigned_abs());
            let mut timer = std::pin::pin!(timer);
            let changed = ctx.wait_condition(move |s| s.version != seen);
            let mut changed = std::pin::pin!(changed);
            temporalio_sdk::workflows::select! {
                _ = changed.as_mut() => {
                    use temporalio_sdk::CancellableFuture;
                    timer.cancel();
                }
                _ = timer.as_mut() => {}
            }
        }
    }

    /// The standing delegations (expired ones included until pruned).
    #[query(name = delegation::Delegations::NAME)]
    pub fn delegations(&self, _ctx: &WorkflowContextView) -> Vec<StandingDelegation> {
        self.entity.delegations.clone()
    }

    #[update_validator(set)]
    fn validate_set(
        &self,
        _ctx: &WorkflowContextView,
        input: &SetDelegation,
    ) -> Result<(), HandlerError> {
        self.entity
            .check_set(&input.to, input.until, self.clock)
            .map_err(Refusal::from)?;
        Ok(())
    }

    /// Sets (or replaces) a delegation.
    #[update(name = delegation::Set::NAME)]
    pub fn set(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        input: SetDelegation,
    ) -> Result<(), HandlerError> {
        let now = to_timestamp(ctx.workflow_time());
        self.entity
            .set(input.to, input.until, input.reason, now)
            .map_err(Refusal::from)?;
        self.version += 1;
        Ok(())
    }

    /// Ends every delegation now, and the entity with them.
    #[update(name = delegation::Clear::NAME)]
    pub fn clear(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _input: ()) {
        self.entity.clear();
        self.closing = true;
        self.version += 1;
    }
}
