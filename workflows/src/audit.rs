//! Session cut-off and the live look at sessions.
//!
//! [`SessionCutoff`] (id `session-cutoff-<account>`): the one writer of an account's cut-off
//! policies. Revocations send it what to cut (`add`, signal-with-start from the last holder's
//! lease call); it writes them in batches (`apply_cutoffs`: everything pending plus what the
//! policies hold, minus what expired), sleeps until the earliest statement expires, prunes, and
//! ends when nothing is left to deny. One per account, so concurrent revocations queue here
//! and none overwrites another's statement; the statements say themselves when they expire, so
//! a run that stops early leaves nothing the next run (or reconcile) cannot prune.
//!
//! [`SessionEventsWorkflow`]: one live look at a ticket's sessions, for the API (which holds
//! no AWS credentials).

use std::time::Duration;

use jit_contract::activity;
use jit_contract::audit::{
    self, CutoffApplied, CutoffBatch, CutoffInput, SessionEvents, SessionEventsInput,
};
use jit_domain::Cutoff;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityOptions, CancellableFuture, ContinueAsNewOptions, SyncWorkflowContext, TimerOptions,
    WorkflowContext, WorkflowContextView, WorkflowResult,
};

use crate::options::{retry, to_timestamp};

const CONTINUE_AFTER_EVENTS: u32 = 2000;

#[workflow]
pub struct SessionCutoff {
    account: String,
    pending: Vec<Cutoff>,
    /// The policies as last written.
    documents: Vec<String>,
    /// Bumped by every signal (a prune asked for, or something to cut).
    asked: u64,
}

impl SessionCutoff {
    fn carried(&self) -> CutoffInput {
        CutoffInput {
            account: self.account.clone(),
            pending: self.pending.clone(),
            documents: self.documents.clone(),
        }
    }
}

#[workflow_methods]
impl SessionCutoff {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: CutoffInput) -> Self {
        Self {
            account: input.account,
            pending: input.pending,
            documents: input.documents,
            asked: 0,
        }
    }

    #[run(name = audit::CutoffWorkflow::NAME)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        loop {
            // Write what is pending (and prune) — at least once per run.
            let now = to_timestamp(ctx.workflow_time());
            let batch = ctx.state_mut(|s| CutoffBatch {
                account: s.account.clone(),
                add: std::mem::take(&mut s.pending),
                now: Some(now),
            });
            let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(120))
                .retry_policy(retry(0, Duration::from_secs(60)))
                .summary(format!("write the cut-off policies of {}", batch.account))
                .build();
            let applied: CutoffApplied = ctx
                .execute_activity(activity::ApplyCutoffs, batch, options)
                .await?;
            let next = applied.next_expiry;
            ctx.state_mut(|s| s.documents = applied.documents);
            if ctx.history_length() >= CONTINUE_AFTER_EVENTS || ctx.continue_as_new_suggested() {
                let input = ctx.state(Self::carried);
                return match ctx.continue_as_new(input, ContinueAsNewOptions::default()) {
                    Err(e) => Err(e),
                    Ok(never) => match never {},
                };
            }
            let seen = ctx.state(|s| s.asked);
            let asked = ctx.wait_condition(move |s| s.asked != seen);
            let Some(at) = next else {
                // Nothing left to deny: done, unless something came meanwhile.
                if ctx.state(|s| s.pending.is_empty()) {
                    return Ok(());
                }
                continue;
            };
            let now = to_timestamp(ctx.workflow_time());
            let wait = at.duration_since(now).unsigned_abs() + Duration::from_secs(1);
            let timer = ctx.timer(
                TimerOptions::builder(wait)
                    .summary("prune expired cut-offs".to_owned())
                    .build(),
            );
            let mut timer = std::pin::pin!(timer);
            let mut asked = std::pin::pin!(asked);
            temporalio_sdk::workflows::select! {
                _ = asked.as_mut() => timer.cancel(),
                _ = timer.as_mut() => {}
            }
        }
    }

    /// The policies as last written, and what waits to be added.
    #[query(name = audit::CutoffState::NAME)]
    pub fn state(&self, _ctx: &WorkflowContextView) -> CutoffInput {
        self.carried()
    }

    /// Cut these sessions off (none: prune now).
    #[signal(name = audit::CutoffAdd::NAME)]
    pub fn add(&mut self, _ctx: &mut SyncWorkflowContext<Self>, cuts: Vec<Cutoff>) {
        self.pending.extend(cuts);
        self.asked += 1;
    }
}

/// One live look at a ticket's sessions.
#[workflow]
pub struct SessionEventsWorkflow {
    input: SessionEventsInput,
}

#[workflow_methods]
impl SessionEventsWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: SessionEventsInput) -> Self {
        Self { input }
    }

    #[run(name = audit::EventsWorkflow::NAME)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<SessionEvents> {
        let input = ctx.state(|s| s.input.clone());
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(120))
            .heartbeat_timeout(Duration::from_secs(10))
            .retry_policy(retry(3, Duration::from_secs(5)))
            .summary(format!("sessions of {} so far", input.audit.ticket_id))
            .build();
        Ok(ctx
            .execute_activity(activity::SessionEventsNow, input, options)
            .await?)
    }
}
