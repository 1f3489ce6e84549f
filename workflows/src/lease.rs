//! [`AssignmentLease`] (id `lease-<account>-<permission set id>-<principal id>`): the one
//! owner of a real account assignment. The assignment is created for its first holder,
//! deleted after the last one leaves, and never deleted if it was there before (standing
//! access).
//!
//! A **lean** lease (every run since lean leases, [`LeaseInput::lean`]) keeps the books and
//! nothing else: its first holder comes in the start's input, later ones by the `acquire`
//! update, and each is told what to do ([`LeaseState::lean_acquire`]) — the holder's activity
//! creates, shares or confirms, holding one of its worker's operation permits. The last
//! holder of what it created is told to delete it and confirms with the `deleted` signal;
//! acquires that come meanwhile wait (and after [`TAKE_OVER_AFTER`] the lease deletes it
//! itself). Its own activities run only for the reconciler's findings and such a take-over.
//! Happy path, per holder: the start (or an update), a release update, the `deleted` signal —
//! three workflow tasks and no activity.
//!
//! A **classic** lease (runs from before) works one job at a time: it creates and deletes
//! itself, each under a permit from the [`AwsGovernor`] workflow. Its code stays as it ran,
//! so those runs replay and finish.
//!
//! [`AwsGovernor`]: crate::governor::AwsGovernor
//! [`LeaseInput::lean`]: jit_domain::LeaseInput
//! [`LeaseState::lean_acquire`]: jit_domain::LeaseState::lean_acquire

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
    CancellableFuture, ContinueAsNewOptions, SyncWorkflowContext, TimerOptions, WorkflowContext,
    WorkflowContextView, WorkflowResult,
};

use crate::options::{failure_message, grant_options, revoke_options, short_options, to_timestamp};

const CONTINUE_AFTER_EVENTS: u32 = 2000;

/// A lean lease waits this long for a holder's confirmed deletion before an acquire makes it
/// delete the assignment itself (the holder's ticket was terminated, say).
pub const TAKE_OVER_AFTER: std::time::Duration = std::time::Duration::from_secs(15 * 60);

type HandlerError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Job {
    Acquire(String),
    Release(String),
    Reconcile(Finding),
    /// Lean: the deletion by this holder took too long; the lease deletes it itself.
    TakeOver(String),
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
    /// A lean lease (see the module doc).
    lean: bool,
    /// Lean: the lease is doing AWS work itself (a reconcile finding, a take-over); holders
    /// wait.
    busy: bool,
    /// Lean: bumped by every handler, so the main loop looks at the history's length.
    poke: u64,
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

    /// Lean: nothing held, nothing of ours in AWS, nothing under way or waiting.
    fn lean_idle(&self) -> bool {
        self.pending.is_empty() && self.handlers == 0 && !self.busy && self.state.lean_idle()
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
            Job::Reconcile(_) | Job::TakeOver(_) => {
                return Err("only acquires and releases are asked".into());
            }
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
            Job::TakeOver(holder) => {
                let stale =
                    ctx.state(|s| s.state.deleting.as_ref().is_some_and(|d| d.by == holder));
                if stale {
                    Self::note(
                        ctx,
                        format!("{holder} did not confirm its deletion: deleting it here"),
                    );
                    Self::delete(ctx).await;
                    let now = to_timestamp(ctx.workflow_time());
                    ctx.state_mut(|s| s.state.lean_removed(now, "deleted by the lease itself"));
                }
            }
        }
    }

    /// Lean: waits until no deletion is under way and the lease is not busy; a deletion
    /// left unconfirmed for [`TAKE_OVER_AFTER`] is taken over.
    async fn lean_wait(ctx: &WorkflowContext<Self>) {
        loop {
            let (deleting, busy) = ctx.state(|s| (s.state.deleting.clone(), s.busy));
            let Some(d) = deleting else {
                if busy {
                    ctx.wait_condition(|s| !s.busy).await.ok();
                    continue;
                }
                return;
            };
            let now = to_timestamp(ctx.workflow_time());
            let due = d
                .since
                .checked_add(TAKE_OVER_AFTER)
                .unwrap_or(jiff::Timestamp::MAX);
            if now >= due {
                ctx.state_mut(|s| {
                    let job = Job::TakeOver(d.by.clone());
                    if !s.pending.contains(&job) {
                        s.pending.push_back(job);
                    }
                });
                ctx.wait_condition(|s| s.state.deleting.is_none() && !s.busy)
                    .await
                    .ok();
                continue;
            }
            let timer = ctx.timer(
                TimerOptions::builder(due.duration_since(now).unsigned_abs())
                    .summary("take over an unconfirmed deletion".to_owned())
                    .build(),
            );
            let mut timer = std::pin::pin!(timer);
            let by = d.by.clone();
            let changed = ctx.wait_condition(move |s| {
                s.state.deleting.as_ref().is_none_or(|d| d.by != by) || s.busy
            });
            let mut changed = std::pin::pin!(changed);
            temporalio_sdk::workflows::select! {
                _ = changed.as_mut() => timer.cancel(),
                _ = timer.as_mut() => {}
            }
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
                        let now = to_timestamp(ctx.workflow_time());
                        ctx.state_mut(|s| {
                            if s.lean {
                                s.state
                                    .lean_removed(now, "reconcile: orphan (no holder) deleted");
                            } else {
                                s.state.owned = Ownership::Absent;
                            }
                        });
                        if !ctx.state(|s| s.lean) {
                            Self::note(ctx, "reconcile: orphan (no holder) deleted".into());
                        }
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

    /// Asks the governor for a permit and waits for it; returns its op id. (A lean lease's
    /// activities hold their worker's own permits instead.)
    async fn take_permit(ctx: &WorkflowContext<Self>) -> String {
        if ctx.state(|s| s.lean) {
            return String::new();
        }
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
        if ctx.state(|s| s.lean) {
            return;
        }
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

impl AssignmentLease {
    /// A lean lease's life: it answers its handlers as they come (they change the books);
    /// the loop only runs the lease's own rare jobs, continues as new when the history is
    /// long, and ends when nothing is held or under way.
    async fn run_lean(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<LeaseState> {
        let mut seen = 0;
        loop {
            ctx.wait_condition(move |s| !s.pending.is_empty() || s.lean_idle() || s.poke != seen)
                .await
                .ok();
            seen = ctx.state(|s| s.poke);
            if ctx.state(|s| s.lean_idle()) {
                return Ok(ctx.state(|s| s.state.clone()));
            }
            if let Some(job) = ctx.state_mut(|s| s.pending.pop_front()) {
                ctx.state_mut(|s| s.busy = true);
                Self::process(ctx, job).await;
                ctx.state_mut(|s| {
                    s.busy = false;
                    s.poke += 1;
                });
                continue;
            }
            let quiet = ctx.state(|s| s.handlers == 0 && s.pending.is_empty() && !s.busy);
            if quiet
                && (ctx.history_length() >= CONTINUE_AFTER_EVENTS
                    || ctx.continue_as_new_suggested())
            {
                let input = ctx.state(|s| LeaseInput {
                    assignment: s.assignment.clone(),
                    carried: Some(s.state.clone()),
                    lean: true,
                    first: None,
                });
                return match ctx.continue_as_new(input, ContinueAsNewOptions::default()) {
                    Err(e) => Err(e),
                    Ok(never) => match never {},
                };
            }
        }
    }

    /// Lean `acquire`: waits out a deletion or the lease's own work, then answers.
    async fn lean_acquire(
        ctx: &mut WorkflowContext<Self>,
        call: LeaseCall,
    ) -> Result<Acquired, HandlerError> {
        ctx.state_mut(|s| s.handlers += 1);
        let answer = loop {
            Self::lean_wait(ctx).await;
            let now = to_timestamp(ctx.workflow_time());
            if let Some(a) = ctx.state_mut(|s| s.state.lean_acquire(&call, now)) {
                break a;
            }
        };
        ctx.state_mut(|s| {
            s.handlers -= 1;
            s.poke += 1;
        });
        Ok(answer)
    }

    /// Lean `release`: waits out the lease's own work, then answers.
    async fn lean_release(
        ctx: &mut WorkflowContext<Self>,
        call: LeaseCall,
    ) -> Result<Released, HandlerError> {
        ctx.state_mut(|s| s.handlers += 1);
        if ctx.state(|s| s.busy) {
            ctx.wait_condition(|s| !s.busy).await.ok();
        }
        let now = to_timestamp(ctx.workflow_time());
        let answer = ctx.state_mut(|s| s.state.lean_release(&call.holder, now));
        ctx.state_mut(|s| {
            s.handlers -= 1;
            s.poke += 1;
        });
        Ok(answer)
    }
}

#[workflow_methods]
impl AssignmentLease {
    #[init]
    pub fn new(ctx: &WorkflowContextView, input: LeaseInput) -> Self {
        let (state, lean) = if input.lean {
            // The first holder (if it came with the start) is answered here the same way its
            // activity answered itself.
            (input.start(to_timestamp(ctx.start_time())).0, true)
        } else {
            (input.carried.unwrap_or_default(), false)
        };
        Self {
            assignment: input.assignment,
            state,
            pending: VecDeque::new(),
            answers: BTreeMap::new(),
            handlers: 0,
            permits: BTreeSet::new(),
            lean,
            busy: false,
            poke: 0,
        }
    }

    #[run(name = lease::Workflow::NAME)]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<LeaseState> {
        if ctx.state(|s| s.lean) {
            return Self::run_lean(ctx).await;
        }
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
                        lean: false,
                        first: None,
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

    /// Hold the lease. Lean: answers what the caller must do. Classic: answers once access is
    /// in place (or AWS refused it).
    #[update(name = lease::Acquire::NAME)]
    pub async fn acquire(
        ctx: &mut WorkflowContext<Self>,
        call: LeaseCall,
    ) -> Result<Acquired, HandlerError> {
        if ctx.state(|s| s.lean) {
            return Self::lean_acquire(ctx, call).await;
        }
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

    /// Leave the lease. Lean: answers at once (kept, standing, or delete it). Classic:
    /// returns once the assignment is deleted (last holder) or kept.
    #[update(name = lease::Release::NAME)]
    pub async fn release(
        ctx: &mut WorkflowContext<Self>,
        call: LeaseCall,
    ) -> Result<Released, HandlerError> {
        if ctx.state(|s| s.lean) {
            return Self::lean_release(ctx, call).await;
        }
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

    /// Lean: the last holder deleted the assignment, as told, and confirmed it gone.
    #[signal(name = lease::Deleted::NAME)]
    pub fn deleted(&mut self, ctx: &mut SyncWorkflowContext<Self>, holder: String) {
        let now = to_timestamp(ctx.workflow_time());
        if self.state.lean_deleted(&holder, now) {
            self.poke += 1;
        }
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
