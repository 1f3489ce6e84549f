//! The deterministic workflows of jit. Nothing here does I/O, reads a clock or a file, or
//! draws randomness: time comes from the workflow context, everything else from activities.
//!
//! - [`TicketWorkflow`]: one access ticket, from request to revocation.
//! - [`DelegationWorkflow`]: one approver's standing delegations (`delegation-<user>`).
//! - [`CatalogWorkflow`]: what a user may request, for the API (which has no AWS access).
//! - [`AssignmentLease`]: the one owner of a real assignment; tickets acquire and release it.
//! - [`AwsGovernor`]: permits for asynchronous Identity Center operations, fleet-wide.
//! - [`ReconcileWorkflow`]: AWS against the leases, on a Temporal Schedule.
//! - [`search_attributes`]: the keys operators search by in the Temporal UI.
//! - [`start_options`]: how a ticket is started (id, UI summary, initial search attributes).

use std::time::{Duration, SystemTime};

use jiff::{SignedDuration, Timestamp};
use jit_activities::{
    Announcement, ChatEvent, Checked, Evaluation, GrantOutcome, LeaseActivities, Notification,
    Recheck, TicketActivities,
};
use jit_domain::{
    Acquired, AssignmentRef, Decision, Delegation, EndKind, EntryState, LeaseCall, Phase, Released,
    Ticket, TicketRequest, UserName, VoteEffect,
};
use serde::{Deserialize, Serialize};
use temporalio_common::RetryPolicy;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityExecutionError, ActivityOptions, CancellableFuture, ContinueAsNewOptions,
    LocalActivityOptions, SyncWorkflowContext, TimerOptions, TimerResult,
    WorkflowCancellationToken, WorkflowContext, WorkflowContextView, WorkflowResult,
};

pub mod catalog;
pub mod delegation;
pub mod governor;
pub mod lease;
pub mod reconcile;
pub mod search_attributes;
mod start;

pub use catalog::{CatalogWorkflow, UserLookupWorkflow};
pub use delegation::{DelegationWorkflow, SetDelegation};
pub use governor::AwsGovernor;
pub use lease::AssignmentLease;
pub use reconcile::{ReconcileReport, ReconcileWorkflow};
pub use start::start_options;

/// The workflow type name, as it appears in the Temporal UI.
pub const TICKET_WORKFLOW: &str = "TicketWorkflow";

/// An approver's vote, as sent with the `approve` / `deny` updates and signals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteInput {
    pub approver: UserName,
    #[serde(default)]
    pub comment: Option<String>,
}

/// An approver hands their vote to someone else until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegateInput {
    pub from: UserName,
    pub to: UserName,
    pub until: Timestamp,
    #[serde(default)]
    pub reason: Option<String>,
}

/// The requester (or principal) asks for more time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendInput {
    pub by: UserName,
    pub extra: SignedDuration,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Relinquish, revoke or cancel: who, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndInput {
    pub by: UserName,
    #[serde(default)]
    pub reason: Option<String>,
}

/// How a ticket ended: the workflow's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketOutcome {
    pub ticket_id: String,
    pub phase: Phase,
    pub reason: Option<String>,
    pub flagged: Option<String>,
    pub active_since: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
}

/// The workflow's input: a new request, or the ticket carried over by continue-as-new.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TicketInput {
    Continued { continued: Box<Ticket> },
    New(TicketRequest),
}

impl From<TicketRequest> for TicketInput {
    fn from(r: TicketRequest) -> Self {
        Self::New(r)
    }
}

/// Histories from before policy decisions were checked again (each vote against the
/// directory, eligibility at a scheduled start and on extension) replay without the checks.
const POLICY_CHECKS: &str = "policy-checks-v1";

/// Histories from before chat announcements replay without them.
const CHAT: &str = "chat-v1";

/// Histories from before leases created and deleted assignments themselves.
const LEASES: &str = "leases-v1";

/// Decided once, at the start of a run, before any activity: every feature above is on, and
/// the run's look-ups and chat announcements are ordinary activities, not local ones. (The
/// chaos run found two ways local activities broke replay after a worker restart: `patched`
/// asked after a local activity answers differently on replay when the activity's result
/// arrived after the workflow task yielded, and a local activity's marker recorded a task
/// later than it ran leaves replay without the activity it names.) Histories from before
/// keep their per-feature markers and local activities.
const FEATURES_AT_START: &str = "features-at-start-v1";

/// A ticket continues as a new run at this history length (Temporal's limit is far above).
pub const CONTINUE_AS_NEW_AFTER_EVENTS: u32 = 1000;

#[workflow]
pub struct TicketWorkflow {
    ticket: Ticket,
    /// The workflow time of the last activation: update validators have no clock of their
    /// own; handlers re-check with the exact time.
    clock: Timestamp,
    /// Chat announcements made in this run (their activity ids).
    announced: u32,
    /// This run decided its features at its start ([`FEATURES_AT_START`]).
    current: bool,
    /// When the last lease answered (the access starts then; see `Held`).
    granted_at: Option<Timestamp>,
}

fn to_timestamp(t: Option<SystemTime>) -> Timestamp {
    t.and_then(|t| Timestamp::try_from(t).ok())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The message of an activity failure, from the innermost cause (AWS's words).
fn failure_message(e: &ActivityExecutionError) -> String {
    let Some(mut f) = e.failure() else {
        return e.to_string();
    };
    while let Some(cause) = f.cause.as_deref() {
        f = cause;
    }
    f.message.clone()
}

fn retry(max_attempts: u32, max_interval: Duration) -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(Duration::from_millis(500))
        .backoff_coefficient(2.0)
        .maximum_interval(max_interval)
        .maximum_attempts(max_attempts)
        .build()
}

/// Look-ups: short, read-only, run as local activities (one marker event, no round trip).
fn lookup_options(summary: &str) -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .start_to_close_timeout(Duration::from_secs(30))
        .retry_policy(retry(8, Duration::from_secs(10)))
        .summary(summary.to_owned())
        .build()
}

/// Grant: bounded retries, then the ticket fails and unwinds. Heartbeats every second, so a
/// dead worker is noticed within the heartbeat timeout.
fn grant_options(what: &str) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(600))
        .heartbeat_timeout(Duration::from_secs(5))
        .retry_policy(retry(12, Duration::from_secs(30)))
        .summary(format!("create {what}"))
        .build()
}

/// Revoke: retries forever and ignores workflow cancellation: never abandoned.
fn revoke_options(what: &str) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(600))
        .heartbeat_timeout(Duration::from_secs(5))
        .retry_policy(retry(0, Duration::from_secs(60)))
        .cancellation_token(WorkflowCancellationToken::new())
        .summary(format!("delete {what}"))
        .build()
}

/// The task queue of the lease calls (activities that wait for a lease's answer): their
/// own queue and slots, so waiting calls can never starve the activities doing the work.
pub fn lease_call_queue(task_queue: &str) -> String {
    format!("{task_queue}-leases")
}

/// Acquire / release a lease: the activity waits for the lease's answer (which may wait for
/// a governor permit under a burst), heartbeating; a retry attaches to the same update.
/// Release retries forever and ignores cancellation: never abandoned.
fn lease_options(task_queue: &str, what: &str, release: bool) -> ActivityOptions {
    let b = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(3600))
        .task_queue(lease_call_queue(task_queue))
        .heartbeat_timeout(Duration::from_secs(10))
        .summary(what.to_owned());
    if release {
        b.retry_policy(retry(0, Duration::from_secs(30)))
            .cancellation_token(WorkflowCancellationToken::new())
            .build()
    } else {
        b.retry_policy(retry(20, Duration::from_secs(30))).build()
    }
}

fn describe(a: &AssignmentRef) -> String {
    format!("the assignment in {}", a.account)
}

/// A pending deadline timer, kept across waits (see `wait_change_or`).
struct Deadline<'a> {
    at: Timestamp,
    timer: std::pin::Pin<Box<dyn CancellableFuture<Output = TimerResult> + 'a>>,
}

impl Deadline<'_> {
    /// Cancels the timer, if any: a timer that lost its race must not fire later.
    fn cancel(slot: &mut Option<Deadline<'_>>) {
        if let Some(d) = slot.take() {
            d.timer.cancel();
        }
    }
}

/// How waiting for approval ended.
enum Waited {
    Decided(Decision),
    DeadlinePassed,
    Ended,
    Cancelled,
    ContinueAsNew,
}

impl TicketWorkflow {
    /// Whether the feature guarded by `patch` is on in this run.
    fn has(ctx: &WorkflowContext<Self>, patch: &str) -> bool {
        ctx.state(|s| s.current) || ctx.patched(patch)
    }

    /// Runs a short activity: an ordinary one in current runs, a local one in histories
    /// from before [`FEATURES_AT_START`].
    async fn lookup<AD>(
        ctx: &WorkflowContext<Self>,
        activity: AD,
        input: AD::Input,
        local: LocalActivityOptions,
        summary: &str,
    ) -> Result<AD::Output, ActivityExecutionError>
    where
        AD: temporalio_common::ActivityDefinition,
        AD::Output: temporalio_common::data_converters::TemporalDeserializable,
    {
        if ctx.state(|s| s.current) {
            let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(60))
                .retry_policy(retry(8, Duration::from_secs(10)))
                .summary(summary.to_owned())
                .build();
            ctx.execute_activity(activity, input, options).await
        } else {
            ctx.execute_local_activity(activity, input, local).await
        }
    }

    fn now(ctx: &WorkflowContext<Self>) -> Timestamp {
        let now = to_timestamp(ctx.workflow_time());
        ctx.state_mut(|s| s.clock = now);
        now
    }

    fn refresh_ui(ctx: &WorkflowContext<Self>) {
        ctx.set_current_details(ctx.state(|s| details(&s.ticket)));
    }

    /// Moves to a non-terminal phase and tells the UI.
    fn enter(ctx: &WorkflowContext<Self>, phase: Phase) {
        let now = Self::now(ctx);
        // The resolved targets go out with the first phase change after evaluation.
        let targets = ctx.state_mut(|s| {
            let first = s.ticket.phase == Phase::Evaluating;
            s.ticket.enter(phase, now);
            first.then(|| s.ticket.targets.clone())
        });
        let (expires, pending) =
            ctx.state(|s| (s.ticket.expires_at, s.ticket.pending_approvers(now)));
        search_attributes::upsert_phase(ctx, phase, expires, Some(&pending), targets.as_deref());
        Self::refresh_ui(ctx);
    }

    /// Ends the ticket and builds the workflow's result.
    fn finish(
        ctx: &WorkflowContext<Self>,
        phase: Phase,
        reason: Option<String>,
    ) -> WorkflowResult<TicketOutcome> {
        let now = Self::now(ctx);
        ctx.state_mut(|s| s.ticket.end(phase, reason, now));
        search_attributes::upsert_phase(ctx, phase, None, Some(&[]), None);
        Self::refresh_ui(ctx);
        Ok(ctx.state(|s| TicketOutcome {
            ticket_id: s.ticket.request.ticket_id.to_string(),
            phase: s.ticket.phase,
            reason: s.ticket.reason.clone(),
            flagged: s.ticket.flagged.clone(),
            active_since: s.ticket.active_since,
            ended_at: s.ticket.ended_at,
        }))
    }

    /// Waits until the ticket changes (a vote, an extension, an end request) or `deadline`.
    /// Returns true if the deadline passed. The deadline's timer lives in `slot` across
    /// calls and is replaced only when the deadline moves, so votes and other changes add
    /// no timer events; callers cancel it (`Deadline::cancel`) when they stop waiting.
    async fn wait_change_or<'a>(
        ctx: &'a WorkflowContext<Self>,
        slot: &mut Option<Deadline<'a>>,
        deadline: Timestamp,
        summary: &str,
    ) -> Result<bool, ()> {
        let now = Self::now(ctx);
        if deadline <= now {
            Deadline::cancel(slot);
            return Ok(true);
        }
        if slot.as_ref().map(|d| d.at) != Some(deadline) {
            Deadline::cancel(slot);
            let timer = ctx.timer(
                TimerOptions::builder(deadline.duration_since(now).unsigned_abs())
                    .summary(summary.to_owned())
                    .build(),
            );
            *slot = Some(Deadline {
                at: deadline,
                timer: Box::pin(timer),
            });
        }
        let Some(d) = slot.as_mut() else {
            return Ok(true);
        };
        let seen = ctx.state(|s| s.ticket.version);
        let changed = ctx.wait_condition(move |s| s.ticket.version != seen);
        let mut changed = std::pin::pin!(changed);
        let fired = temporalio_sdk::workflows::select! {
            r = changed.as_mut() => return r.map(|()| false).map_err(|_| ()),
            t = d.timer.as_mut() => t,
        };
        *slot = None;
        match fired {
            TimerResult::Fired => Ok(true),
            _ => Err(()),
        }
    }

    /// Keeps `JitPendingApprovers` current while waiting.
    fn upsert_pending(ctx: &WorkflowContext<Self>, last: &mut Vec<UserName>) {
        let now = Self::now(ctx);
        let pending = ctx.state(|s| s.ticket.pending_approvers(now));
        if pending != *last {
            search_attributes::upsert_pending(ctx, &pending);
            *last = pending;
        }
    }

    /// Waits for the request's approval until the plan's deadline.
    async fn await_approval(ctx: &WorkflowContext<Self>) -> Waited {
        let now = Self::now(ctx);
        let (deadline, since, plan) = ctx.state(|s| {
            (
                s.ticket.approval_deadline.unwrap_or(now),
                s.ticket.pending_since.unwrap_or(now),
                s.ticket.plan.clone(),
            )
        });
        let remind_every = plan.as_ref().and_then(|p| p.remind_every);
        let escalate_at = plan
            .as_ref()
            .and_then(|p| p.escalation.as_ref())
            .and_then(|e| since.checked_add(e.after).ok());
        let mut last = ctx.state(|s| s.ticket.pending_approvers(now));
        let mut slot = None;
        loop {
            if let Some(d) = ctx.state(|s| s.ticket.approval.as_ref().and_then(|a| a.outcome)) {
                Deadline::cancel(&mut slot);
                return Waited::Decided(d);
            }
            if ctx.state(|s| s.ticket.end_request.is_some()) {
                Deadline::cancel(&mut slot);
                return Waited::Ended;
            }
            let now = Self::now(ctx);
            if now >= deadline {
                Deadline::cancel(&mut slot);
                return Waited::DeadlinePassed;
            }
            let escalated = ctx.state(|s| s.ticket.escalated);
            // Reminders first: when the worker catches up, due reminders go out in order.
            let sent = ctx.state(|s| s.ticket.reminders_sent);
            let next_reminder = remind_every.and_then(|every| {
                since
                    .checked_add(every * (i32::try_from(sent).unwrap_or(i32::MAX) + 1))
                    .ok()
            });
            if let Some(at) = next_reminder.filter(|at| *at <= now) {
                let pending = ctx.state(|s| s.ticket.pending_approvers(now));
                ctx.state_mut(|s| {
                    s.ticket.reminders_sent += 1;
                    s.ticket.log(
                        now,
                        format!(
                            "reminder {} sent to {}",
                            sent + 1,
                            pending
                                .iter()
                                .map(UserName::as_str)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                });
                let text = format!("waiting for your approval since {since} (reminder at {at})");
                Self::notify(ctx, "reminder", sent + 1, pending, text).await;
                continue;
            }
            if let Some(at) = escalate_at.filter(|at| *at <= now && !escalated) {
                let added = ctx.state_mut(|s| {
                    s.ticket.escalated = true;
                    s.ticket.escalate(now)
                });
                let text = format!(
                    "escalated after {:#}: you may now approve",
                    at.duration_since(since)
                );
                Self::notify(ctx, "escalation", 0, added, text).await;
                continue;
            }
            Self::upsert_pending(ctx, &mut last);
            if Self::should_continue_as_new(ctx) {
                Deadline::cancel(&mut slot);
                return Waited::ContinueAsNew;
            }
            let mut wake = (deadline, "approval deadline");
            if let Some(at) = escalate_at.filter(|_| !escalated)
                && at < wake.0
            {
                wake = (at, "escalate to the fallback approvers");
            }
            if let Some(at) = next_reminder
                && at < wake.0
            {
                wake = (at, "remind the approvers");
            }
            let before = ctx.state(|s| Self::vote_marks(&s.ticket));
            if let Err(()) = Self::wait_change_or(ctx, &mut slot, wake.0, wake.1).await {
                return Waited::Cancelled;
            }
            Self::announce_votes(ctx, before).await;
        }
    }

    /// How many votes and delegations the open approval has (to see what changed).
    fn vote_marks(t: &Ticket) -> (usize, Vec<UserName>) {
        t.approval
            .as_ref()
            .map(|a| {
                (
                    a.votes.len(),
                    a.delegations.iter().map(|d| d.to.clone()).collect(),
                )
            })
            .unwrap_or_default()
    }

    /// After a change while waiting for votes: the messages show the new votes, and whoever
    /// was just handed a vote hears about it. Decisions are announced by the caller.
    async fn announce_votes(ctx: &WorkflowContext<Self>, before: (usize, Vec<UserName>)) {
        let (after, decided) = ctx.state(|s| {
            (
                Self::vote_marks(&s.ticket),
                s.ticket
                    .approval
                    .as_ref()
                    .is_some_and(|a| a.outcome.is_some()),
            )
        });
        let delegates: Vec<UserName> = after
            .1
            .iter()
            .filter(|d| !before.1.contains(d))
            .cloned()
            .collect();
        if !delegates.is_empty() {
            Self::announce(ctx, ChatEvent::Delegated, delegates).await;
        } else if after.0 != before.0 && !decided {
            Self::announce(ctx, ChatEvent::Updated, Vec::new()).await;
        }
    }

    /// Tells people something through the notifier activity (idempotent per ticket, kind
    /// and sequence number). A notification that cannot be sent is logged, never fatal.
    async fn notify(
        ctx: &WorkflowContext<Self>,
        kind: &str,
        seq: u32,
        to: Vec<UserName>,
        text: String,
    ) {
        if to.is_empty() {
            return;
        }
        let ticket_id = ctx.state(|s| s.ticket.request.ticket_id.to_string());
        let n = Notification {
            ticket_id,
            kind: kind.to_owned(),
            to,
            text,
        };
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30))
            .retry_policy(retry(5, Duration::from_secs(30)))
            .activity_id(format!("notify-{kind}-{seq}"))
            .summary(format!("notify: {kind}"))
            .build();
        if let Err(e) = ctx
            .execute_activity(TicketActivities::notify, n, options)
            .await
        {
            let now = Self::now(ctx);
            let msg = failure_message(&e);
            ctx.state_mut(|s| {
                s.ticket
                    .log(now, format!("{kind} notification failed: {msg}"))
            });
        }
    }

    /// Deletes everything on the stack (or leaves every lease), last in first out, until it
    /// is all gone.
    async fn unwind(ctx: &WorkflowContext<Self>) {
        loop {
            let order = ctx.state(|s| s.ticket.stack.unwind_order());
            if order.is_empty() {
                return;
            }
            let leased = ctx.state(|s| s.ticket.leased);
            for i in order {
                let a = ctx.state(|s| s.ticket.stack.entries()[i].assignment.clone());
                let what = describe(&a);
                let done = if leased {
                    Self::release_one(ctx, a, &what).await
                } else {
                    ctx.execute_activity(TicketActivities::revoke, a, revoke_options(&what))
                        .await
                        .map(|()| format!("deleted {what}, confirmed gone"))
                };
                match done {
                    Ok(line) => {
                        let now = Self::now(ctx);
                        ctx.state_mut(|s| {
                            s.ticket.stack.mark(i, EntryState::Removed);
                            s.ticket.log(now, line);
                        });
                    }
                    Err(e) => {
                        // Only a non-retryable failure gets here; try again after a pause.
                        let now = Self::now(ctx);
                        let msg = failure_message(&e);
                        ctx.state_mut(|s| {
                            s.ticket.log(now, format!("revoke failed, retrying: {msg}"))
                        });
                        ctx.timer(
                            TimerOptions::builder(Duration::from_secs(60))
                                .cancellation_token(WorkflowCancellationToken::new())
                                .build(),
                        )
                        .await;
                    }
                }
            }
        }
    }

    /// Leaves the lease of `a`: the lease deletes the assignment if this ticket was its last
    /// holder. Returns the audit line.
    async fn release_one(
        ctx: &WorkflowContext<Self>,
        a: AssignmentRef,
        what: &str,
    ) -> Result<String, ActivityExecutionError> {
        let holder = ctx.workflow_id().to_owned();
        let released = ctx
            .execute_activity(
                LeaseActivities::release_lease,
                LeaseCall {
                    assignment: a,
                    holder,
                },
                lease_options(ctx.task_queue(), &format!("release {what}"), true),
            )
            .await?;
        Ok(match released {
            Released::Deleted => format!("deleted {what}, confirmed gone"),
            Released::Kept { for_holders } => format!(
                "left {what} in place: still granted by {}",
                for_holders.join(", ")
            ),
            Released::Standing => format!("left {what} in place: standing access"),
            Released::NotHeld => format!("{what}: the lease had nothing for this ticket"),
        })
    }

    /// Creates every target's assignment through the resource stack. On any failure
    /// everything created is unwound and `Err(reason)` returned.
    async fn provision(ctx: &WorkflowContext<Self>) -> Result<(), String> {
        let count = ctx.state(|s| s.ticket.targets.len());
        for i in 0..count {
            let (a, label) = ctx.state(|s| {
                let t = &s.ticket.targets[i];
                (
                    t.assignment.clone(),
                    format!(
                        "{} in {} ({})",
                        t.target.permission_set, t.account_name, t.target.account
                    ),
                )
            });
            if let Err(reason) = Self::provision_one(ctx, i, a, &label).await {
                Self::unwind(ctx).await;
                return Err(reason);
            }
        }
        Ok(())
    }

    async fn provision_one(
        ctx: &WorkflowContext<Self>,
        target: usize,
        a: AssignmentRef,
        label: &str,
    ) -> Result<(), String> {
        if ctx.state(|s| s.ticket.leased) || Self::has(ctx, LEASES) {
            ctx.state_mut(|s| s.ticket.leased = true);
            return Self::acquire_one(ctx, target, a, label).await;
        }
        // 1. Standing access? Never ours, never pushed.
        let exists = ctx
            .execute_local_activity(
                TicketActivities::assignment_exists,
                a.clone(),
                lookup_options("is the assignment there already?"),
            )
            .await
            .map_err(|e| {
                format!(
                    "{label}: could not check for standing access: {}",
                    failure_message(&e)
                )
            })?;
        if exists {
            let now = Self::now(ctx);
            ctx.state_mut(|s| {
                s.ticket.targets[target].standing = true;
                s.ticket.log(
                    now,
                    format!("{label}: the principal already has it (standing access): nothing created, nothing will be removed"),
                );
            });
            return Ok(());
        }
        // 2. Record the intent before acting.
        let index = ctx.state_mut(|s| s.ticket.stack.push_intent(a.clone()));
        // 3. Create (idempotent), poll, verify.
        let outcome = ctx
            .execute_activity(TicketActivities::grant, a, grant_options(label))
            .await;
        let failure = match outcome {
            Ok(GrantOutcome::Granted) => {
                let now = Self::now(ctx);
                ctx.state_mut(|s| {
                    s.ticket.stack.mark(index, EntryState::Created);
                    s.ticket.log(now, format!("{label}: created and verified"));
                });
                return Ok(());
            }
            Ok(GrantOutcome::Failed { reason }) => reason,
            Err(e) => failure_message(&e),
        };
        Err(format!("{label}: {failure}"))
    }

    /// Acquires the lease of `a`: it creates the assignment if this ticket is its first
    /// holder, or shares one already granted, or reports standing access. The stack records
    /// the lease before it is asked, so an unwind always leaves it.
    async fn acquire_one(
        ctx: &WorkflowContext<Self>,
        target: usize,
        a: AssignmentRef,
        label: &str,
    ) -> Result<(), String> {
        let index = ctx.state_mut(|s| s.ticket.stack.push_intent(a.clone()));
        let holder = ctx.workflow_id().to_owned();
        let acquired = ctx
            .execute_activity(
                LeaseActivities::acquire_lease,
                LeaseCall {
                    assignment: a,
                    holder,
                },
                lease_options(ctx.task_queue(), &format!("acquire {label}"), false),
            )
            .await
            .map_err(|e| format!("{label}: {}", failure_message(&e)))?;
        let now = acquired.at;
        ctx.state_mut(|s| s.granted_at = s.granted_at.max(Some(now)));
        let line = match acquired.acquired {
            Acquired::Created => format!("{label}: created and verified"),
            Acquired::Joined { with } => format!(
                "{label}: already granted by {}; shared through the lease (kept until the last ticket ends)",
                with.join(", ")
            ),
            Acquired::Standing => {
                ctx.state_mut(|s| s.ticket.targets[target].standing = true);
                format!(
                    "{label}: the principal already has it (standing access): nothing created, nothing will be removed"
                )
            }
            Acquired::Failed { reason } => return Err(format!("{label}: {reason}")),
        };
        ctx.state_mut(|s| {
            s.ticket.stack.mark(index, EntryState::Created);
            s.ticket.log(now, line);
        });
        Ok(())
    }

    /// While active: moves the expiry on extensions, enforces break-glass ratification,
    /// and returns how access ends (phase, reason).
    /// `None`: continue as new (the history grew long).
    async fn active(ctx: &WorkflowContext<Self>) -> Option<(Phase, Option<String>)> {
        let mut slot = None;
        let ended = Self::active_loop(ctx, &mut slot).await;
        Deadline::cancel(&mut slot);
        ended
    }

    async fn active_loop<'a>(
        ctx: &'a WorkflowContext<Self>,
        slot: &mut Option<Deadline<'a>>,
    ) -> Option<(Phase, Option<String>)> {
        let mut last = Vec::new();
        loop {
            let now = Self::now(ctx);
            if let Some(ending) = ctx.state(|s| s.ticket.ending()) {
                return Some(ending);
            }
            // Break-glass: ratified, or denied.
            if ctx.state(|s| s.ticket.ratify_by.is_some()) {
                match ctx.state(|s| s.ticket.approval.as_ref().and_then(|a| a.outcome)) {
                    Some(Decision::Approve) => {
                        ctx.state_mut(|s| {
                            s.ticket.ratify_by = None;
                            s.ticket.approved_at = Some(now);
                            s.ticket.log(now, "break-glass access ratified");
                        });
                    }
                    Some(Decision::Deny) => {
                        let reason = "break-glass access denied on review".to_owned();
                        ctx.state_mut(|s| s.ticket.flagged = Some(reason.clone()));
                        return Some((Phase::Revoked, Some(reason)));
                    }
                    None => {}
                }
            }
            // A decided extension.
            match ctx.state(|s| s.ticket.extension_decision()) {
                Some(Decision::Approve) => {
                    ctx.state_mut(|s| {
                        s.ticket.apply_extension(now);
                        s.ticket.warned = false;
                    });
                    let (exp, pending) =
                        ctx.state(|s| (s.ticket.expires_at, s.ticket.pending_approvers(now)));
                    search_attributes::upsert_phase(ctx, Phase::Active, exp, Some(&pending), None);
                    last = pending;
                    Self::refresh_ui(ctx);
                }
                Some(Decision::Deny) => ctx.state_mut(|s| s.ticket.drop_extension(now)),
                None => {}
            }
            let (expires, ratify_by) = ctx.state(|s| (s.ticket.expires_at, s.ticket.ratify_by));
            let expires = expires.unwrap_or(now);
            if let Some(r) = ratify_by
                && r <= now
            {
                let reason = "break-glass access was not ratified in time".to_owned();
                ctx.state_mut(|s| s.ticket.flagged = Some(reason.clone()));
                return Some((Phase::Revoked, Some(reason)));
            }
            if expires <= now {
                return Some((Phase::Expired, None));
            }
            Self::upsert_pending(ctx, &mut last);
            if Self::should_continue_as_new(ctx) {
                return None;
            }
            let (mut deadline, mut summary) = match ratify_by {
                Some(r) if r < expires => (r, "break-glass ratification deadline"),
                _ => (expires, "access expires"),
            };
            // Warn the requester before access ends (chat-v1 tickets only).
            let warned = ctx.state(|s| s.ticket.warned);
            if !warned && Self::has(ctx, CHAT) {
                let granted = ctx.state(|s| s.ticket.granted());
                let before = (granted / 4).min(SignedDuration::from_mins(15));
                let warn_at = expires.checked_sub(before).unwrap_or(expires);
                if warn_at <= now {
                    ctx.state_mut(|s| s.ticket.warned = true);
                    let requester = ctx.state(|s| s.ticket.request.requester.clone());
                    Self::announce(ctx, ChatEvent::ExpiringSoon, vec![requester]).await;
                    continue;
                }
                if warn_at < deadline {
                    (deadline, summary) = (warn_at, "warn of the coming expiry");
                }
            }
            if let Err(()) = Self::wait_change_or(ctx, slot, deadline, summary).await {
                return Some((
                    Phase::Revoked,
                    Some("the workflow was cancelled: access removed before expiry".into()),
                ));
            }
        }
    }
}

impl TicketWorkflow {
    /// A vote, once the directory confirmed the voter is still eligible (the recorded plan's
    /// groups; see [`jit_domain::VoterCheck`]).
    async fn checked_vote(
        ctx: &WorkflowContext<Self>,
        input: VoteInput,
        decision: Decision,
    ) -> Result<String, HandlerError> {
        if Self::has(ctx, POLICY_CHECKS) {
            let now = Self::now(ctx);
            let check = ctx.state(|s| s.ticket.voter_check(&input.approver, now))?;
            let summary = "check the voter in the directory";
            match Self::lookup(
                ctx,
                TicketActivities::check_voter,
                check,
                lookup_options(summary),
                summary,
            )
            .await
            {
                Ok(Checked::Allowed { .. }) => {}
                Ok(Checked::Refused { reason }) => return Err(reason.into()),
                Err(e) => {
                    return Err(format!(
                        "the vote could not be checked against the directory: {}",
                        failure_message(&e)
                    )
                    .into());
                }
            }
        }
        let now = Self::now(ctx);
        let effect =
            ctx.state_mut(|s| s.ticket.vote(&input.approver, decision, input.comment, now))?;
        Ok(match effect {
            VoteEffect::Counted => "counted; the step needs more approvals",
            VoteEffect::StepComplete => "counted; the step is complete, the next one starts",
            VoteEffect::Approved => "counted; approved",
            VoteEffect::Denied => "counted; denied",
        }
        .to_owned())
    }

    /// An extension, once the policy of now still lets the requester have this access.
    async fn checked_extension(
        ctx: &WorkflowContext<Self>,
        input: ExtendInput,
    ) -> Result<bool, HandlerError> {
        if Self::has(ctx, POLICY_CHECKS) {
            ctx.state(|s| s.ticket.check_extend(&input.by, input.extra))?;
            if let Err(reason) = Self::recheck(ctx).await {
                return Err(format!("not allowed: {reason}").into());
            }
        }
        let now = Self::now(ctx);
        Ok(ctx.state_mut(|s| {
            let applied = s.ticket.extend(&input.by, input.extra, input.reason, now)?;
            if applied {
                s.ticket.warned = false;
            }
            Ok::<bool, jit_domain::Refused>(applied)
        })?)
    }

    /// The request's decision taken again with the policy and directory of now.
    async fn recheck(ctx: &WorkflowContext<Self>) -> Result<(), String> {
        let recheck = ctx.state(|s| Recheck {
            requester: s.ticket.request.requester.clone(),
            principal: s.ticket.request.principal.clone(),
            targets: s.ticket.targets.clone(),
        });
        let summary = "check the request against the policy of now";
        match Self::lookup(
            ctx,
            TicketActivities::recheck,
            recheck,
            lookup_options(summary),
            summary,
        )
        .await
        {
            Ok(Checked::Allowed { .. }) => Ok(()),
            Ok(Checked::Refused { reason }) => Err(reason),
            Err(e) => Err(format!(
                "the policy could not be checked: {}",
                failure_message(&e)
            )),
        }
    }

    /// The ticket's life, from evaluation to its end (or a continue-as-new).
    async fn drive(ctx: &WorkflowContext<Self>) -> WorkflowResult<TicketOutcome> {
        // A continued run resumes where the previous one stopped waiting.
        let mut phase = ctx.state(|s| s.ticket.phase);
        if phase == Phase::Evaluating {
            if let Err(ended) = Self::evaluate(ctx).await {
                return ended;
            }
            phase = ctx.state(|s| s.ticket.phase);
            if phase == Phase::PendingApproval {
                Self::announce(ctx, ChatEvent::AwaitingApproval, Vec::new()).await;
            }
        }

        if phase == Phase::PendingApproval {
            match Self::await_approval(ctx).await {
                Waited::Decided(Decision::Approve) => {}
                Waited::Decided(Decision::Deny) => {
                    let reason = ctx.state(|s| s.ticket.denial());
                    return Self::finish(ctx, Phase::Denied, reason);
                }
                Waited::DeadlinePassed => {
                    let t = ctx.state(|s| s.ticket.plan.as_ref().map(|p| p.approval_timeout));
                    let reason = format!(
                        "nobody approved within {:#}",
                        t.unwrap_or(SignedDuration::ZERO)
                    );
                    return Self::finish(ctx, Phase::ApprovalExpired, Some(reason));
                }
                Waited::Ended => {
                    let (phase, reason) = ctx
                        .state(|s| s.ticket.ending())
                        .unwrap_or((Phase::Cancelled, None));
                    return Self::finish(ctx, phase, reason);
                }
                Waited::Cancelled => {
                    return Self::finish(
                        ctx,
                        Phase::Cancelled,
                        Some("cancelled before approval".into()),
                    );
                }
                Waited::ContinueAsNew => return Self::continue_as_new(ctx),
            }
            let now = Self::now(ctx);
            ctx.state_mut(|s| s.ticket.approved_at = Some(now));
            let requester = ctx.state(|s| s.ticket.request.requester.clone());
            Self::announce(ctx, ChatEvent::Approved, vec![requester]).await;
        }

        if phase != Phase::Active {
            // Scheduled start: wait, unless the request is cancelled meanwhile.
            let (start_at, break_glass) =
                ctx.state(|s| (s.ticket.request.start_at, s.ticket.request.break_glass));
            if let Some(start) = start_at
                && !break_glass
            {
                if phase != Phase::Scheduled {
                    Self::enter(ctx, Phase::Scheduled);
                }
                let mut slot = None;
                loop {
                    if let Some((phase, reason)) = ctx.state(|s| s.ticket.ending()) {
                        Deadline::cancel(&mut slot);
                        // Nothing was granted yet: an early end is a cancellation here,
                        // unless an approver revoked the approval.
                        let phase = match phase {
                            Phase::Revoked => Phase::Revoked,
                            _ => Phase::Cancelled,
                        };
                        return Self::finish(ctx, phase, reason);
                    }
                    if Self::should_continue_as_new(ctx) {
                        Deadline::cancel(&mut slot);
                        return Self::continue_as_new(ctx);
                    }
                    match Self::wait_change_or(ctx, &mut slot, start, "scheduled start").await {
                        Ok(true) => {
                            if Self::has(ctx, POLICY_CHECKS)
                                && let Err(reason) = Self::recheck(ctx).await
                            {
                                let reason = format!("at the scheduled start: {reason}");
                                return Self::finish(ctx, Phase::Rejected, Some(reason));
                            }
                            break;
                        }
                        Ok(false) => {}
                        Err(()) => {
                            return Self::finish(
                                ctx,
                                Phase::Cancelled,
                                Some("cancelled before the start".into()),
                            );
                        }
                    }
                }
            }

            // Provision every target through the resource stack.
            Self::enter(ctx, Phase::Provisioning);
            if let Err(reason) = Self::provision(ctx).await {
                return Self::finish(ctx, Phase::Failed, Some(reason));
            }

            // Active: the clock starts now, not at request time (with leases: when the last
            // lease answered — the same time live and on replay).
            let now = Self::now(ctx);
            let now = match ctx.state(|s| s.granted_at) {
                // The lease's time, unless the workflow clock is far ahead of it (the dev
                // server's time skipping moves only the workflow's clock).
                Some(at)
                    if ctx.state(|s| s.current) && now <= at + SignedDuration::from_mins(1) =>
                {
                    at
                }
                _ => now,
            };
            let duration = ctx.state(|s| s.ticket.request.duration);
            let expires = now.checked_add(duration).unwrap_or(Timestamp::MAX);
            ctx.state_mut(|s| {
                s.ticket.active_since = Some(now);
                s.ticket.expires_at = Some(expires);
            });
            Self::enter(ctx, Phase::Active);
            let (requester, break_glass) = ctx.state(|s| {
                (
                    s.ticket.request.requester.clone(),
                    s.ticket.ratify_by.is_some(),
                )
            });
            if break_glass {
                Self::announce(ctx, ChatEvent::BreakGlass, Vec::new()).await;
            }
            Self::announce(ctx, ChatEvent::Active, vec![requester]).await;
        }
        let Some((phase, reason)) = Self::active(ctx).await else {
            return Self::continue_as_new(ctx);
        };

        // Revoke: unwind the stack; never abandoned.
        Self::enter(ctx, Phase::Revoking);
        Self::unwind(ctx).await;
        Self::finish(ctx, phase, reason)
    }

    /// Tells people through chat (behind the `chat-v1` patch: histories from before replay
    /// without it). Never fatal: a failure is a line in the audit trail.
    async fn announce(ctx: &WorkflowContext<Self>, event: ChatEvent, to: Vec<UserName>) {
        if !Self::has(ctx, CHAT) {
            return;
        }
        let now = Self::now(ctx);
        let (a, seq) = ctx.state_mut(|s| {
            s.announced += 1;
            (
                Announcement {
                    event,
                    card: s.ticket.card(),
                    approvers: s.ticket.pending_approvers(now),
                    to,
                    route: s
                        .ticket
                        .plan
                        .as_ref()
                        .map(|p| p.notify.clone())
                        .unwrap_or_default(),
                    messages: s.ticket.messages.clone(),
                },
                s.announced,
            )
        });
        // Histories from before FEATURES_AT_START: a local activity.
        let options = LocalActivityOptions::builder()
            .start_to_close_timeout(Duration::from_secs(60))
            .retry_policy(retry(5, Duration::from_secs(30)))
            .activity_id(format!("announce-{seq}"))
            .summary(format!("chat: {event:?}"))
            .build();
        let sent = if ctx.state(|s| s.current) {
            let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(60))
                .retry_policy(retry(5, Duration::from_secs(30)))
                .activity_id(format!("announce-{seq}"))
                .summary(format!("chat: {event:?}"))
                .build();
            ctx.execute_activity(TicketActivities::announce, a, options)
                .await
        } else {
            ctx.execute_local_activity(TicketActivities::announce, a, options)
                .await
        };
        match sent {
            Ok(posted) => ctx.state_mut(|s| s.ticket.messages.extend(posted)),
            Err(e) => {
                let msg = failure_message(&e);
                ctx.state_mut(|s| s.ticket.log(now, format!("chat ({event:?}) failed: {msg}")));
            }
        }
    }

    /// Evaluates the request; on success the ticket is pending approval, approved by the
    /// plan, or granted break-glass. `Err` carries the workflow's end when it is refused.
    async fn evaluate(ctx: &WorkflowContext<Self>) -> Result<(), WorkflowResult<TicketOutcome>> {
        let request = ctx.state(|s| s.ticket.request.clone());
        let summary = "resolve principal, targets and approval plan";
        let evaluated = match Self::lookup(
            ctx,
            TicketActivities::evaluate,
            request.clone(),
            lookup_options(summary),
            summary,
        )
        .await
        {
            Ok(Evaluation::Resolved(e)) => e,
            Ok(Evaluation::Rejected { reason }) => {
                return Err(Self::finish(ctx, Phase::Rejected, Some(reason)));
            }
            Err(e) => {
                let reason = format!("evaluation failed: {}", failure_message(&e));
                return Err(Self::finish(ctx, Phase::Failed, Some(reason)));
            }
        };
        let now = Self::now(ctx);
        if let Err(reason) = ctx.state_mut(|s| s.ticket.evaluated(*evaluated, now)) {
            return Err(Self::finish(ctx, Phase::Rejected, Some(reason)));
        }
        if request.break_glass {
            // Immediate access, ratified afterwards.
            let within = ctx.state(|s| {
                s.ticket
                    .plan
                    .as_ref()
                    .and_then(|p| p.break_glass_ratify_within)
            });
            let ratify_by = now
                .checked_add(within.unwrap_or(SignedDuration::from_hours(1)))
                .unwrap_or(Timestamp::MAX);
            ctx.state_mut(|s| {
                s.ticket.ratify_by = Some(ratify_by);
                s.ticket.log(
                    now,
                    format!("BREAK-GLASS: access now, to be ratified by {ratify_by}"),
                );
            });
        } else if ctx.state(|s| {
            s.ticket
                .approval
                .as_ref()
                .is_some_and(|a| a.outcome.is_none())
        }) {
            let timeout = ctx.state(|s| s.ticket.plan.as_ref().map(|p| p.approval_timeout));
            let deadline = now
                .checked_add(timeout.unwrap_or(SignedDuration::from_hours(24)))
                .unwrap_or(Timestamp::MAX);
            ctx.state_mut(|s| {
                s.ticket.approval_deadline = Some(deadline);
                s.ticket.pending_since = Some(now);
            });
            Self::enter(ctx, Phase::PendingApproval);
        } else {
            ctx.state_mut(|s| {
                s.ticket.approved_at = Some(now);
                s.ticket.log(now, "auto-approved by the plan");
            });
        }
        Ok(())
    }

    /// Long tickets (many votes, extensions, signals) start a fresh history, carrying the
    /// ticket, well before Temporal's limits.
    fn should_continue_as_new(ctx: &WorkflowContext<Self>) -> bool {
        ctx.continue_as_new_suggested() || ctx.history_length() >= CONTINUE_AS_NEW_AFTER_EVENTS
    }

    fn continue_as_new(ctx: &WorkflowContext<Self>) -> WorkflowResult<TicketOutcome> {
        let now = Self::now(ctx);
        let length = ctx.history_length();
        ctx.state_mut(|s| {
            s.ticket.log(
                now,
                format!("history has {length} events: continuing as a new run"),
            );
        });
        let ticket = ctx.state(|s| s.ticket.clone());
        let options = ContinueAsNewOptions::builder()
            .search_attributes(ctx.search_attributes())
            .build();
        match ctx.continue_as_new(
            TicketInput::Continued {
                continued: Box::new(ticket),
            },
            options,
        ) {
            Err(e) => Err(e),
            Ok(never) => match never {},
        }
    }
}

/// One line for the Temporal UI's "current details".
fn details(t: &Ticket) -> String {
    let r = &t.request;
    let targets = if t.targets.is_empty() {
        r.targets
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        t.targets
            .iter()
            .map(|x| format!("{} in {}", x.target.permission_set, x.account_name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let what = format!("{} → {targets} for {:#}", r.principal, r.duration);
    let mut line = match (t.phase, t.expires_at, &t.reason) {
        (Phase::Active, Some(exp), _) => format!("**Active** until {exp}: {what}"),
        (phase, _, Some(reason)) => format!("**{phase}**: {what}. {reason}"),
        (phase, _, None) => format!("**{phase}**: {what}"),
    };
    if let Some(f) = &t.flagged {
        line.push_str(&format!(" ⚑ {f}"));
    }
    line
}

type HandlerError = Box<dyn std::error::Error + Send + Sync>;

#[workflow_methods]
impl TicketWorkflow {
    #[init]
    pub fn new(ctx: &WorkflowContextView, input: TicketInput) -> Self {
        let now = to_timestamp(ctx.start_time());
        match input {
            TicketInput::New(request) => Self {
                ticket: Ticket::new(request, now),
                clock: now,
                announced: 0,
                current: false,
                granted_at: None,
            },
            TicketInput::Continued { continued } => Self {
                ticket: *continued,
                clock: now,
                announced: 0,
                current: false,
                granted_at: None,
            },
        }
    }

    #[run(name = "TicketWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<TicketOutcome> {
        if ctx.patched(FEATURES_AT_START) {
            ctx.state_mut(|s| s.current = true);
        }
        let out = Self::drive(ctx).await;
        if ctx.state(|s| s.ticket.phase.is_terminal()) {
            let requester = ctx.state(|s| s.ticket.request.requester.clone());
            Self::announce(ctx, ChatEvent::Ended, vec![requester]).await;
        }
        out
    }

    /// The whole ticket: phase, targets, plan with votes (who voted as whom), delegations,
    /// extensions, times, resource stack, audit trail.
    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> Ticket {
        self.ticket.clone()
    }

    /// The audit trail as lines of text, oldest first.
    #[query]
    pub fn audit(&self, _ctx: &WorkflowContextView) -> Vec<String> {
        self.ticket
            .audit
            .iter()
            .map(|e| format!("{}  {}", e.at, e.what))
            .collect()
    }

    #[update_validator(approve)]
    fn validate_approve(
        &self,
        _ctx: &WorkflowContextView,
        input: &VoteInput,
    ) -> Result<(), HandlerError> {
        self.ticket.check_vote(&input.approver, self.clock)?;
        Ok(())
    }

    /// Approve the open approval (the request's, a break-glass ratification, or an
    /// extension's). Refused synchronously (and not recorded) for the requester, the
    /// principal, someone not eligible, or a second vote.
    #[update]
    pub async fn approve(
        ctx: &mut WorkflowContext<Self>,
        input: VoteInput,
    ) -> Result<String, HandlerError> {
        Self::checked_vote(ctx, input, Decision::Approve).await
    }

    #[update_validator(deny)]
    fn validate_deny(
        &self,
        _ctx: &WorkflowContextView,
        input: &VoteInput,
    ) -> Result<(), HandlerError> {
        self.ticket.check_vote(&input.approver, self.clock)?;
        Ok(())
    }

    /// Deny; the comment is the reason shown to the requester.
    #[update]
    pub async fn deny(
        ctx: &mut WorkflowContext<Self>,
        input: VoteInput,
    ) -> Result<String, HandlerError> {
        Self::checked_vote(ctx, input, Decision::Deny).await
    }

    #[update_validator(delegate)]
    fn validate_delegate(
        &self,
        _ctx: &WorkflowContextView,
        input: &DelegateInput,
    ) -> Result<(), HandlerError> {
        self.ticket
            .check_delegate(&input.from, &input.to, input.until, self.clock)?;
        Ok(())
    }

    /// An approver hands their vote to someone else until a time.
    #[update]
    pub fn delegate(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        input: DelegateInput,
    ) -> Result<(), HandlerError> {
        self.apply_delegation(ctx, input)
    }

    #[update_validator(extend)]
    fn validate_extend(
        &self,
        _ctx: &WorkflowContextView,
        input: &ExtendInput,
    ) -> Result<(), HandlerError> {
        self.ticket.check_extend(&input.by, input.extra)?;
        Ok(())
    }

    /// Extend active access, up to the plan's total. Returns whether it applied at once
    /// (else it waits for re-approval while access stays).
    #[update]
    pub async fn extend(
        ctx: &mut WorkflowContext<Self>,
        input: ExtendInput,
    ) -> Result<bool, HandlerError> {
        Self::checked_extension(ctx, input).await
    }

    #[update_validator(relinquish)]
    fn validate_relinquish(
        &self,
        _ctx: &WorkflowContextView,
        input: &EndInput,
    ) -> Result<(), HandlerError> {
        self.ticket.check_end(EndKind::Relinquish, &input.by)?;
        Ok(())
    }

    /// The requester (or principal) is done: access is removed now.
    #[update]
    pub fn relinquish(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        input: EndInput,
    ) -> Result<(), HandlerError> {
        self.end(ctx, EndKind::Relinquish, input)
    }

    #[update_validator(revoke)]
    fn validate_revoke(
        &self,
        _ctx: &WorkflowContextView,
        input: &EndInput,
    ) -> Result<(), HandlerError> {
        self.ticket.check_end(EndKind::Revoke, &input.by)?;
        Ok(())
    }

    /// An approver or admin removes the access now.
    #[update]
    pub fn revoke(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        input: EndInput,
    ) -> Result<(), HandlerError> {
        self.end(ctx, EndKind::Revoke, input)
    }

    #[update_validator(cancel)]
    fn validate_cancel(
        &self,
        _ctx: &WorkflowContextView,
        input: &EndInput,
    ) -> Result<(), HandlerError> {
        self.ticket.check_end(EndKind::Cancel, &input.by)?;
        Ok(())
    }

    /// The requester withdraws the request before access is granted.
    #[update]
    pub fn cancel(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        input: EndInput,
    ) -> Result<(), HandlerError> {
        self.end(ctx, EndKind::Cancel, input)
    }

    /// `approve` for callers that cannot wait for an answer; a refused vote is recorded in
    /// the audit trail.
    #[signal]
    pub async fn approve_signal(ctx: &mut WorkflowContext<Self>, input: VoteInput) {
        let out = Self::checked_vote(ctx, input, Decision::Approve).await;
        Self::note_refusal(ctx, "vote", out.map(|_| ()));
    }

    /// `deny` for callers that cannot wait for an answer.
    #[signal]
    pub async fn deny_signal(ctx: &mut WorkflowContext<Self>, input: VoteInput) {
        let out = Self::checked_vote(ctx, input, Decision::Deny).await;
        Self::note_refusal(ctx, "vote", out.map(|_| ()));
    }

    /// `delegate` for callers that cannot wait.
    #[signal]
    pub fn delegate_signal(&mut self, ctx: &mut SyncWorkflowContext<Self>, input: DelegateInput) {
        self.signalled(ctx, "delegation", |s, c| s.apply_delegation(c, input));
    }

    /// `extend` for callers that cannot wait.
    #[signal]
    pub async fn extend_signal(ctx: &mut WorkflowContext<Self>, input: ExtendInput) {
        let out = Self::checked_extension(ctx, input).await;
        Self::note_refusal(ctx, "extension", out.map(|_| ()));
    }

    /// `relinquish` for callers that cannot wait.
    #[signal]
    pub fn relinquish_signal(&mut self, ctx: &mut SyncWorkflowContext<Self>, input: EndInput) {
        self.signalled(ctx, "relinquish", |s, c| {
            s.end(c, EndKind::Relinquish, input)
        });
    }

    /// `revoke` for callers that cannot wait.
    #[signal]
    pub fn revoke_signal(&mut self, ctx: &mut SyncWorkflowContext<Self>, input: EndInput) {
        self.signalled(ctx, "revoke", |s, c| s.end(c, EndKind::Revoke, input));
    }

    /// `cancel` for callers that cannot wait.
    #[signal]
    pub fn cancel_signal(&mut self, ctx: &mut SyncWorkflowContext<Self>, input: EndInput) {
        self.signalled(ctx, "cancel", |s, c| s.end(c, EndKind::Cancel, input));
    }
}

impl TicketWorkflow {
    fn apply_delegation(
        &mut self,
        ctx: &SyncWorkflowContext<Self>,
        input: DelegateInput,
    ) -> Result<(), HandlerError> {
        let now = self.tick(ctx);
        self.ticket.delegate(
            Delegation {
                from: input.from,
                to: input.to,
                until: input.until,
                reason: input.reason,
                at: now,
            },
            now,
        )?;
        Ok(())
    }

    fn tick(&mut self, ctx: &SyncWorkflowContext<Self>) -> Timestamp {
        self.clock = to_timestamp(ctx.workflow_time());
        self.clock
    }

    fn end(
        &mut self,
        ctx: &SyncWorkflowContext<Self>,
        kind: EndKind,
        input: EndInput,
    ) -> Result<(), HandlerError> {
        let now = self.tick(ctx);
        self.ticket
            .request_end(kind, &input.by, input.reason, now)?;
        Ok(())
    }

    /// A refused signal goes to the audit trail instead of the caller.
    fn note_refusal(ctx: &WorkflowContext<Self>, what: &str, out: Result<(), HandlerError>) {
        if let Err(e) = out {
            let now = Self::now(ctx);
            ctx.state_mut(|s| s.ticket.note(now, format!("{what} ignored: {e}")));
        }
    }

    /// Runs a signal's action; a refusal goes to the audit trail instead of the caller.
    fn signalled(
        &mut self,
        ctx: &SyncWorkflowContext<Self>,
        what: &str,
        act: impl FnOnce(&mut Self, &SyncWorkflowContext<Self>) -> Result<(), HandlerError>,
    ) {
        if let Err(e) = act(self, ctx) {
            let now = self.tick(ctx);
            self.ticket.note(now, format!("{what} ignored: {e}"));
        }
    }
}
