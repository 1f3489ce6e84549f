//! [`AssignmentLease`] (id `lease-<account>-<permission set id>-<principal id>`): the one
//! owner of a real account assignment. Tickets acquire and release it (updates, started with
//! the update by `LeaseActivities`); the lease creates the assignment for its first holder,
//! deletes it after the last one leaves, and never deletes one it found there (standing
//! access). It works one job at a time, and takes a permit from the [`AwsGovernor`] around
//! every create and delete, so the fleet never has more than the limit of asynchronous
//! operations outstanding, nor two on one account and permission set.
//!
//! [`AwsGovernor`]: crate::governor::AwsGovernor

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use jit_contract::ticket::GrantOutcome;
use jit_contract::{activity, lease};
use jit_domain::lease::{lease_id, serial_key};
use jit_domain::{
    Acquired, AssignmentRef, Finding, LeaseCall, LeaseInput, LeaseState, LeaseStatus, Ownership,
    PermitRelease, PermitRequest, Released,
};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ContinueAsNewOptions, SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult,
};

use crate::options::{failure_message, grant_options, revoke_options, short_options, to_timestamp};

const CONTINUE_AFTER_EVENTS: u32 = 2000;

type HandlerError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Job {
    Acquire(String),
    Release(String),
    Reconcile(Finding),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Acquired(Acquired),
    Released(Released),
}

#[workflow]
pub struct AssignmentLease {
    assignment: AssignmentRef,
    state: LeaseState,
    /// Work for the main loop, in arrival order.
    pending: VecDeque<Job>,
    /// Answers for waiting update handlers, by update kind and holder.
    answers: BTreeMap<String, Answer>,
    /// Update handlers still running.
    handlers: u32,
    /// Permits the governor granted and the lease has not returned yet.
    permits: BTreeSet<String>,
}

impl AssignmentLease {
    fn label(&self) -> String {
        format!(
            "{} {} in {}",
            self.assignment.principal_type.as_str(),
            self.assignment.principal_id,
            self.assignment.account
        )
    }

    fn idle(&self) -> bool {
        self.pending.is_empty()
            && self.answers.is_empty()
            && self.handlers == 0
            && self.state.holders.is_empty()
            && self.state.owned != Ownership::Created
    }

    fn note(ctx: &WorkflowContext<Self>, line: String) {
        let now = to_timestamp(ctx.workflow_time());
        ctx.state_mut(|s| s.state.note(now, line));
    }

    /// Queues `job` (an acquire or a release) and waits for the main loop's answer; `pick`
    /// takes the answer it expects, else the lease stopped before answering.
    async fn ask<T>(
        ctx: &WorkflowContext<Self>,
        job: Job,
        pick: fn(Answer) -> Option<T>,
    ) -> Result<T, HandlerError> {
        let key = match &job {
            Job::Acquire(holder) => format!("acquire:{holder}"),
            Job::Release(holder) => format!("release:{holder}"),
            Job::Reconcile(_) => return Err("reconcile findings are signals".into()),
        };
        ctx.state_mut(|s| {
            s.handlers += 1;
            s.pending.push_back(job);
        });
        let k = key.clone();
        let waited = ctx
            .wait_condition(move |s| s.answers.contains_key(&k))
            .await;
        ctx.state_mut(|s| {
            s.handlers -= 1;
            waited.ok().and_then(|()| s.answers.remove(&key))
        })
        .and_then(pick)
        .ok_or_else(|| "the lease stopped before answering".into())
    }

    async fn process(ctx: &WorkflowContext<Self>, job: Job) {
        match job {
            Job::Acquire(holder) => {
                let answer = Self::acquire_job(ctx, &holder).await;
                ctx.state_mut(|s| {
                    s.answers
                        .insert(format!("acquire:{holder}"), Answer::Acquired(answer))
                });
            }
            Job::Release(holder) => {
                let answer = Self::release_job(ctx, &holder).await;
                ctx.state_mut(|s| {
                    s.answers
                        .insert(format!("release:{holder}"), Answer::Released(answer))
                });
            }
            Job::Reconcile(finding) => Self::reconcile_job(ctx, finding).await,
        }
    }

    async fn acquire_job(ctx: &WorkflowContext<Self>, holder: &str) -> Acquired {
        let now = to_timestamp(ctx.workflow_time());
        let (known, owned, others) = ctx.state(|s| {
            (
                s.state.holders.contains_key(holder),
                s.state.owned,
                s.state.others(holder),
            )
        });
        match owned {
            Ownership::Standing => {
                ctx.state_mut(|s| {
                    s.state.holders.entry(holder.to_owned()).or_insert(now);
                });
                return Acquired::Standing;
            }
            Ownership::Created if known && others.is_empty() => return Acquired::Created,
            Ownership::Created => {
                ctx.state_mut(|s| {
                    s.state.holders.entry(holder.to_owned()).or_insert(now);
                });
                Self::note(ctx, format!("{holder} joins {}", others.join(", ")));
                return Acquired::Joined { with: others };
            }
            Ownership::Absent => {}
        }
        // First holder: standing access?
        match Self::exists(ctx).await {
            Err(reason) => return Acquired::Failed { reason },
            Ok(true) => {
                ctx.state_mut(|s| {
                    s.state.owned = Ownership::Standing;
                    s.state.holders.insert(holder.to_owned(), now);
                });
                Self::note(
                    ctx,
                    format!("{holder}: standing access found; it will never be deleted here"),
                );
                return Acquired::Standing;
            }
            Ok(false) => {}
        }
        // Record the intent before acting: from here a crash or failure unwinds to a delete.
        ctx.state_mut(|s| s.state.owned = Ownership::Created);
        match Self::create(ctx).await {
            Ok(()) => {
                let now = to_timestamp(ctx.workflow_time());
                ctx.state_mut(|s| {
                    s.state.holders.insert(holder.to_owned(), now);
                });
                Self::note(ctx, format!("created for {holder}"));
                Acquired::Created
            }
            Err(reason) => {
                Self::note(
                    ctx,
                    format!("create failed ({reason}); making sure nothing is left"),
                );
                Self::delete(ctx).await;
                ctx.state_mut(|s| s.state.owned = Ownership::Absent);
                Acquired::Failed { reason }
            }
        }
    }

    async fn release_job(ctx: &WorkflowContext<Self>, holder: &str) -> Released {
        let (held, owned, others) = ctx.state_mut(|s| {
            let held = s.state.holders.remove(holder).is_some();
            (held, s.state.owned, s.state.others(holder))
        });
        if !held {
            return Released::NotHeld;
        }
        if !others.is_empty() {
            Self::note(
                ctx,
                format!("{holder} leaves; kept for {}", others.join(", ")),
            );
            return Released::Kept {
                for_holders: others,
            };
        }
        match owned {
            Ownership::Standing => {
                ctx.state_mut(|s| s.state.owned = Ownership::Absent);
                Self::note(
                    ctx,
                    format!("{holder} leaves; standing access left in place"),
                );
                Released::Standing
            }
            Ownership::Created => {
                Self::delete(ctx).await;
                ctx.state_mut(|s| s.state.owned = Ownership::Absent);
                Self::note(ctx, format!("{holder} was the last holder: deleted"));
                Released::Deleted
            }
            Ownership::Absent => Released::NotHeld,
        }
    }

    async fn reconcile_job(ctx: &WorkflowContext<Self>, finding: Finding) {
        let (holders, owned) = ctx.state(|s| (s.state.holders.len(), s.state.owned));
        match finding {
            Finding::Orphan if holders == 0 && owned != Ownership::Standing => {
                match Self::exists(ctx).await {
                    Ok(true) => {
                        Self::delete(ctx).await;
                        ctx.state_mut(|s| s.state.owned = Ownership::Absent);
                        Self::note(ctx, "reconcile: orphan (no holder) deleted".into());
                    }
                    Ok(false) => Self::note(ctx, "reconcile: orphan already gone".into()),
                    Err(e) => Self::note(ctx, format!("reconcile: could not check: {e}")),
                }
            }
            Finding::Orphan => Self::note(
                ctx,
                format!(
                    "reconcile: reported as orphan, but held ({holders} holders, {owned:?}): left alone"
                ),
            ),
            Finding::Missing if holders > 0 && owned == Ownership::Created => {
                match Self::exists(ctx).await {
                    Ok(false) => match Self::create(ctx).await {
                        Ok(()) => Self::note(ctx, "reconcile: missing assignment restored".into()),
                        Err(e) => Self::note(ctx, format!("reconcile: restore failed: {e}")),
                    },
                    Ok(true) => Self::note(ctx, "reconcile: reported missing, but present".into()),
                    Err(e) => Self::note(ctx, format!("reconcile: could not check: {e}")),
                }
            }
            Finding::Missing => Self::note(
                ctx,
                "reconcile: reported missing, but nothing is held: nothing to restore".into(),
            ),
        }
    }

    async fn exists(ctx: &WorkflowContext<Self>) -> Result<bool, String> {
        let a = ctx.state(|s| s.assignment.clone());
        ctx.execute_activity(
            activity::AssignmentExists,
            a,
            short_options("is the assignment there?"),
        )
        .await
        .map_err(|e| format!("could not check the assignment: {}", failure_message(&e)))
    }

    /// Creates (under a permit): `Err` carries AWS's reason.
    async fn create(ctx: &WorkflowContext<Self>) -> Result<(), String> {
        let (a, label) = ctx.state(|s| (s.assignment.clone(), s.label()));
        let op = Self::take_permit(ctx).await;
        let out = ctx
            .execute_activity(activity::Grant, a, grant_options(&label))
            .await;
        Self::return_permit(ctx, op).await;
        match out {
            Ok(GrantOutcome::Granted) => Ok(()),
            Ok(GrantOutcome::Failed { reason }) => Err(reason),
            Err(e) => Err(failure_message(&e)),
        }
    }

    /// Deletes (under a permit) until it is confirmed gone: never abandoned.
    async fn delete(ctx: &WorkflowContext<Self>) {
        let (a, label) = ctx.state(|s| (s.assignment.clone(), s.label()));
        loop {
            let op = Self::take_permit(ctx).await;
            let out = ctx
                .execute_activity(activity::Revoke, a.clone(), revoke_options(&label))
                .await;
            Self::return_permit(ctx, op).await;
            match out {
                Ok(()) => return,
                Err(e) => {
                    Self::note(
                        ctx,
                        format!("delete failed, retrying: {}", failure_message(&e)),
                    );
                    ctx.timer(Duration::from_secs(30)).await;
                }
            }
        }
    }

    /// Asks the governor for a permit and waits for it; returns its op id.
    async fn take_permit(ctx: &WorkflowContext<Self>) -> String {
        let (lease, key, op) = ctx.state_mut(|s| {
            s.state.ops += 1;
            let lease = lease_id(&s.assignment);
            let op = format!("{lease}#{}", s.state.ops);
            (lease, serial_key(&s.assignment), op)
        });
        let request = PermitRequest {
            lease,
            key,
            op: op.clone(),
            limit: 0,
        };
        // Retried until the governor has it (it may be starting).
        while let Err(e) = ctx
            .execute_activity(
                activity::RequestPermit,
                request.clone(),
                short_options("ask the governor for a permit"),
            )
            .await
        {
            Self::note(
                ctx,
                format!("permit request failed: {}", failure_message(&e)),
            );
            ctx.timer(Duration::from_secs(5)).await;
        }
        let wanted = op.clone();
        ctx.wait_condition(move |s| s.permits.contains(&wanted))
            .await
            .ok();
        op
    }

    async fn return_permit(ctx: &WorkflowContext<Self>, op: String) {
        ctx.state_mut(|s| s.permits.remove(&op));
        while let Err(e) = ctx
            .execute_activity(
                activity::ReturnPermit,
                PermitRelease { op: op.clone() },
                short_options("return the permit"),
            )
            .await
        {
            Self::note(
                ctx,
                format!("permit return failed: {}", failure_message(&e)),
            );
            ctx.timer(Duration::from_secs(5)).await;
        }
    }
}

#[workflow_methods]
impl AssignmentLease {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: LeaseInput) -> Self {
        Self {
            assignment: input.assignment,
            state: input.carried.unwrap_or_default(),
            pending: VecDeque::new(),
            answers: BTreeMap::new(),
            handlers: 0,
            permits: BTreeSet::new(),
        }
    }

    #[run(name = lease::Workflow::NAME)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<LeaseState> {
        loop {
            ctx.wait_condition(|s| !s.pending.is_empty() || s.idle())
                .await
                .ok();
            let job = ctx.state_mut(|s| s.pending.pop_front());
            let Some(job) = job else {
                // Nobody holds it, nothing of ours is in AWS, nobody waits: done.
                return Ok(ctx.state(|s| s.state.clone()));
            };
            Self::process(ctx, job).await;
            if ctx.history_length() >= CONTINUE_AFTER_EVENTS || ctx.continue_as_new_suggested() {
                // Let waiting handlers take their answers first.
                ctx.wait_condition(|s| !s.pending.is_empty() || s.answers.is_empty())
                    .await
                    .ok();
                let quiet = ctx.state(|s| s.pending.is_empty() && s.handlers == 0);
                if quiet {
                    let input = ctx.state(|s| LeaseInput {
                        assignment: s.assignment.clone(),
                        carried: Some(s.state.clone()),
                    });
                    return match ctx.continue_as_new(input, ContinueAsNewOptions::default()) {
                        Err(e) => Err(e),
                        Ok(never) => match never {},
                    };
                }
            }
        }
    }

    /// The assignment, its holders, who owns it, and what the lease did lately.
    #[query(name = lease::State::NAME)]
    pub fn state(&self, _ctx: &WorkflowContextView) -> LeaseStatus {
        LeaseStatus {
            assignment: self.assignment.clone(),
            state: self.state.clone(),
        }
    }

    #[update_validator(acquire)]
    fn validate_acquire(
        &self,
        _ctx: &WorkflowContextView,
        call: &LeaseCall,
    ) -> Result<(), HandlerError> {
        check_call(&self.assignment, call)
    }

    /// Hold the lease: returns once access is in place (or AWS refused it).
    #[update(name = lease::Acquire::NAME)]
    pub async fn acquire(
        ctx: &mut WorkflowContext<Self>,
        call: LeaseCall,
    ) -> Result<Acquired, HandlerError> {
        Self::ask(ctx, Job::Acquire(call.holder), |a| match a {
            Answer::Acquired(a) => Some(a),
            Answer::Released(_) => None,
        })
        .await
    }

    #[update_validator(release)]
    fn validate_release(
        &self,
        _ctx: &WorkflowContextView,
        call: &LeaseCall,
    ) -> Result<(), HandlerError> {
        check_call(&self.assignment, call)
    }

    /// Leave the lease: returns once the assignment is deleted (last holder) or kept.
    #[update(name = lease::Release::NAME)]
    pub async fn release(
        ctx: &mut WorkflowContext<Self>,
        call: LeaseCall,
    ) -> Result<Released, HandlerError> {
        Self::ask(ctx, Job::Release(call.holder), |a| match a {
            Answer::Released(r) => Some(r),
            Answer::Acquired(_) => None,
        })
        .await
    }

    /// The governor grants the permit for operation `op`.
    #[signal(name = lease::Permit::NAME)]
    pub fn permit(&mut self, _ctx: &mut SyncWorkflowContext<Self>, op: String) {
        self.permits.insert(op);
    }

    /// The reconciler found this assignment out of place.
    #[signal(name = lease::Reconcile::NAME)]
    pub fn reconcile(&mut self, _ctx: &mut SyncWorkflowContext<Self>, finding: Finding) {
        self.pending.push_back(Job::Reconcile(finding));
    }
}

fn check_call(mine: &AssignmentRef, call: &LeaseCall) -> Result<(), HandlerError> {
    if &call.assignment != mine {
        return Err(format!(
            "this lease is for {}, not {}",
            lease_id(mine),
            lease_id(&call.assignment)
        )
        .into());
    }
    if call.holder.trim().is_empty() {
        return Err("holder: must name the ticket".into());
    }
    Ok(())
}
