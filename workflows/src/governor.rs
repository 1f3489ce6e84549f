//! [`AwsGovernor`] (id `jit-aws-governor`, one per namespace): hands out permits for
//! asynchronous Identity Center operations, so the whole fleet never has more than the
//! limit outstanding (AWS: 15, not raisable) nor two on one account and permission set.
//! Leases ask by signal (through an activity that starts the governor if needed); the
//! governor answers by signalling the lease. The pure rules are `jit_domain::Governor`.

use std::collections::VecDeque;

use jiff::SignedDuration;
use jit_domain::{Governor, Permit, PermitRelease, PermitRequest};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    CancellableFuture, ContinueAsNewOptions, SignalWorkflowOptions, SyncWorkflowContext,
    WorkflowContext, WorkflowContextView, WorkflowResult,
};

use jit_contract::{governor, lease};

use crate::options::to_timestamp;

const CONTINUE_AFTER_EVENTS: u32 = 4000;

/// A permit held longer than this is taken back (its lease was terminated, or is stuck
/// retrying an operation AWS keeps refusing; AWS itself gives up on an operation far sooner).
const PERMIT_MAX_AGE: SignedDuration = SignedDuration::from_mins(15);

#[workflow]
pub struct AwsGovernor {
    g: Governor,
    /// Permits to signal to their leases.
    outbox: VecDeque<Permit>,
    version: u64,
}

#[workflow_methods]
impl AwsGovernor {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, g: Governor) -> Self {
        Self {
            g,
            outbox: VecDeque::new(),
            version: 0,
        }
    }

    #[run(name = governor::Workflow::NAME)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        loop {
            let now = to_timestamp(ctx.workflow_time());
            ctx.state_mut(|s| {
                for op in s.g.reclaim(now, PERMIT_MAX_AGE) {
                    s.g.queue.retain(|q| q.op != op);
                }
                let granted = s.g.grant(now);
                s.outbox.extend(granted);
            });
            let outbox: Vec<Permit> = ctx.state_mut(|s| s.outbox.drain(..).collect());
            if !outbox.is_empty() {
                // Signal every newly granted lease at once.
                let handles: Vec<_> = outbox
                    .iter()
                    .map(|p| ctx.external_workflow(p.lease.clone(), None))
                    .collect();
                let sends = handles.iter().zip(&outbox).map(|(h, p)| {
                    h.signal(
                        lease::Permit,
                        p.op.clone(),
                        SignalWorkflowOptions::default(),
                    )
                });
                let results = futures::future::join_all(sends).await;
                // A lease that cannot be signalled is gone: its permit is free again.
                ctx.state_mut(|s| {
                    for (p, r) in outbox.iter().zip(results) {
                        if r.is_err() {
                            s.g.release(&p.op);
                            s.version += 1;
                        }
                    }
                });
                continue;
            }
            if (ctx.history_length() >= CONTINUE_AFTER_EVENTS || ctx.continue_as_new_suggested())
                && ctx.all_handlers_finished()
            {
                let g = ctx.state(|s| s.g.clone());
                return match ctx.continue_as_new(g, ContinueAsNewOptions::default()) {
                    Err(e) => Err(e),
                    Ok(never) => match never {},
                };
            }
            let seen = ctx.state(|s| s.version);
            let reclaim = ctx.state(|s| s.g.next_reclaim(PERMIT_MAX_AGE));
            let changed = ctx.wait_condition(move |s| s.version != seen);
            match reclaim {
                None => {
                    changed.await.ok();
                }
                Some(at) => {
                    let wait = at.duration_since(now).unsigned_abs();
                    let timer = ctx.timer(wait + std::time::Duration::from_secs(1));
                    let mut timer = std::pin::pin!(timer);
                    let mut changed = std::pin::pin!(changed);
                    temporalio_sdk::workflows::select! {
                        _ = changed.as_mut() => timer.cancel(),
                        _ = timer.as_mut() => {}
                    }
                }
            }
        }
    }

    /// Limit, permits held, requests waiting, totals.
    #[query(name = governor::State::NAME)]
    pub fn state(&self, _ctx: &WorkflowContextView) -> Governor {
        self.g.clone()
    }

    /// A lease asks for a permit (idempotent per op).
    #[signal(name = governor::Request::NAME)]
    pub fn request(&mut self, _ctx: &mut SyncWorkflowContext<Self>, r: PermitRequest) {
        if let jit_domain::lease::Requested::AlreadyHeld(p) = self.g.request(r) {
            self.outbox.push_back(p);
        }
        self.version += 1;
    }

    /// A lease returns its permit.
    #[signal(name = governor::Release::NAME)]
    pub fn release(&mut self, _ctx: &mut SyncWorkflowContext<Self>, r: PermitRelease) {
        self.g.release(&r.op);
        self.version += 1;
    }
}
