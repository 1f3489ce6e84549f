//! The deterministic workflows of jit. Nothing here does I/O, reads a clock or a file, or
//! draws randomness: time comes from the workflow context, everything else from activities.
//!
//! - [`TicketWorkflow`]: one access ticket, from request to revocation.
//! - [`search_attributes`]: the keys operators search by in the Temporal UI.
//! - [`start_options`]: how a ticket is started (id, UI summary, initial search attributes).

use std::time::{Duration, SystemTime};

use jiff::Timestamp;
use jit_activities::{Evaluation, GrantOutcome, TicketActivities};
use jit_domain::{
    AssignmentRef, Decision, EntryState, Phase, Ticket, TicketRequest, UserName, Vote,
};
use serde::{Deserialize, Serialize};
use temporalio_common::RetryPolicy;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityExecutionError, ActivityOptions, CancellableFuture, LocalActivityOptions,
    SyncWorkflowContext, TimerOptions, TimerResult, WorkflowCancellationToken, WorkflowContext,
    WorkflowContextView, WorkflowResult,
};

pub mod search_attributes;
mod start;

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

/// How a ticket ended: the workflow's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketOutcome {
    pub ticket_id: String,
    pub phase: Phase,
    pub reason: Option<String>,
    pub active_since: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
}

#[workflow]
pub struct TicketWorkflow {
    ticket: Ticket,
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
fn grant_options() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(600))
        .heartbeat_timeout(Duration::from_secs(5))
        .retry_policy(retry(12, Duration::from_secs(30)))
        .summary("create the account assignment".to_owned())
        .build()
}

/// Revoke: retries forever and ignores workflow cancellation: never abandoned.
fn revoke_options() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(600))
        .heartbeat_timeout(Duration::from_secs(5))
        .retry_policy(retry(0, Duration::from_secs(60)))
        .cancellation_token(WorkflowCancellationToken::new())
        .summary("delete the account assignment".to_owned())
        .build()
}

impl TicketWorkflow {
    fn now(ctx: &WorkflowContext<Self>) -> Timestamp {
        to_timestamp(ctx.workflow_time())
    }

    /// Moves to a non-terminal phase and tells the UI.
    fn enter(ctx: &mut WorkflowContext<Self>, phase: Phase) {
        let now = Self::now(ctx);
        ctx.state_mut(|s| s.ticket.enter(phase, now));
        search_attributes::upsert_phase(ctx, phase, None);
        ctx.set_current_details(ctx.state(|s| details(&s.ticket)));
    }

    /// Ends the ticket and builds the workflow's result.
    fn finish(
        ctx: &mut WorkflowContext<Self>,
        phase: Phase,
        reason: Option<String>,
    ) -> WorkflowResult<TicketOutcome> {
        let now = Self::now(ctx);
        ctx.state_mut(|s| s.ticket.end(phase, reason, now));
        search_attributes::upsert_phase(ctx, phase, None);
        ctx.set_current_details(ctx.state(|s| details(&s.ticket)));
        Ok(ctx.state(|s| TicketOutcome {
            ticket_id: s.ticket.request.ticket_id.to_string(),
            phase: s.ticket.phase,
            reason: s.ticket.reason.clone(),
            active_since: s.ticket.active_since,
            ended_at: s.ticket.ended_at,
        }))
    }

    /// Waits for a decision until the approval deadline; `None` if the deadline passed.
    /// The deadline timer is cancelled when a decision comes first (no stray timer events).
    async fn await_decision(
        ctx: &mut WorkflowContext<Self>,
        timeout: Duration,
    ) -> Result<Option<Decision>, ()> {
        let timer = ctx.timer(
            TimerOptions::builder(timeout)
                .summary("approval deadline".to_owned())
                .build(),
        );
        let mut timer = std::pin::pin!(timer);
        let decided = ctx.wait_condition(|s| s.ticket.decision().is_some());
        let mut decided = std::pin::pin!(decided);
        temporalio_sdk::workflows::select! {
            r = decided.as_mut() => {
                timer.cancel();
                match r {
                    Ok(()) => Ok(ctx.state(|s| s.ticket.decision().map(|v| v.decision))),
                    Err(_) => Err(()),
                }
            }
            t = timer.as_mut() => match t {
                TimerResult::Fired => Ok(None),
                _ => Err(()),
            },
        }
    }

    /// Deletes everything on the stack, last in first out, until it is all gone.
    async fn unwind(ctx: &mut WorkflowContext<Self>) {
        loop {
            let order = ctx.state(|s| s.ticket.stack.unwind_order());
            if order.is_empty() {
                return;
            }
            for i in order {
                let a = ctx.state(|s| s.ticket.stack.entries()[i].assignment.clone());
                match ctx
                    .execute_activity(TicketActivities::revoke, a, revoke_options())
                    .await
                {
                    Ok(()) => {
                        let now = Self::now(ctx);
                        ctx.state_mut(|s| {
                            s.ticket.stack.mark(i, EntryState::Removed);
                            s.ticket.log(now, "assignment deleted and confirmed gone");
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

    /// Creates the assignment through the resource stack. `Err(reason)` after unwinding.
    async fn provision(ctx: &mut WorkflowContext<Self>, a: AssignmentRef) -> Result<(), String> {
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
                    "could not check for standing access: {}",
                    failure_message(&e)
                )
            })?;
        if exists {
            let now = Self::now(ctx);
            ctx.state_mut(|s| {
                s.ticket.standing_access = true;
                s.ticket.log(
                    now,
                    "the principal already has this assignment (standing access): nothing created, nothing will be removed",
                );
            });
            return Ok(());
        }
        // 2. Record the intent before acting.
        let index = ctx.state_mut(|s| s.ticket.stack.push_intent(a.clone()));
        // 3. Create (idempotent), poll, verify.
        let outcome = ctx
            .execute_activity(TicketActivities::grant, a, grant_options())
            .await;
        let failure = match outcome {
            Ok(GrantOutcome::Granted) => {
                let now = Self::now(ctx);
                ctx.state_mut(|s| {
                    s.ticket.stack.mark(index, EntryState::Created);
                    s.ticket.log(now, "assignment created and verified");
                });
                return Ok(());
            }
            Ok(GrantOutcome::Failed { reason }) => reason,
            Err(e) => failure_message(&e),
        };
        Self::unwind(ctx).await;
        Err(failure)
    }
}

/// One line for the Temporal UI's "current details".
fn details(t: &Ticket) -> String {
    let r = &t.request;
    let what = format!(
        "{} → {} in {} for {:#}",
        r.principal, r.permission_set, r.account, r.duration
    );
    match (t.phase, t.expires_at, &t.reason) {
        (Phase::Active, Some(exp), _) => format!("**Active** until {exp}: {what}"),
        (phase, _, Some(reason)) => format!("**{phase}**: {what}. {reason}"),
        (phase, _, None) => format!("**{phase}**: {what}"),
    }
}

#[workflow_methods]
impl TicketWorkflow {
    #[init]
    pub fn new(ctx: &WorkflowContextView, request: TicketRequest) -> Self {
        Self {
            ticket: Ticket::new(request, to_timestamp(ctx.start_time())),
        }
    }

    #[run(name = "TicketWorkflow")]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<TicketOutcome> {
        // Evaluate: resolve names to AWS ids; refuse what cannot be honoured.
        let request = ctx.state(|s| s.ticket.request.clone());
        let target = match ctx
            .execute_local_activity(
                TicketActivities::evaluate,
                request.clone(),
                lookup_options("resolve principal, account and permission set"),
            )
            .await
        {
            Ok(Evaluation::Resolved(t)) => t,
            Ok(Evaluation::Rejected { reason }) => {
                return Self::finish(ctx, Phase::Rejected, Some(reason));
            }
            Err(e) => {
                let reason = format!("evaluation failed: {}", failure_message(&e));
                return Self::finish(ctx, Phase::Failed, Some(reason));
            }
        };
        ctx.state_mut(|s| s.ticket.target = Some(target.clone()));

        // Approve: one approval from someone other than requester and principal.
        Self::enter(ctx, Phase::PendingApproval);
        let timeout = request.approval_timeout.unsigned_abs();
        match Self::await_decision(ctx, timeout).await {
            Ok(Some(Decision::Approve)) => {}
            Ok(Some(Decision::Deny)) => {
                let reason = ctx.state(|s| {
                    s.ticket.decision().map(|v| match &v.comment {
                        Some(c) => format!("denied by {}: {c}", v.voter),
                        None => format!("denied by {}", v.voter),
                    })
                });
                return Self::finish(ctx, Phase::Denied, reason);
            }
            Ok(None) => {
                let reason = format!("nobody approved within {:#}", request.approval_timeout);
                return Self::finish(ctx, Phase::ApprovalExpired, Some(reason));
            }
            Err(()) => {
                return Self::finish(
                    ctx,
                    Phase::Cancelled,
                    Some("cancelled before approval".into()),
                );
            }
        }

        // Provision through the resource stack.
        Self::enter(ctx, Phase::Provisioning);
        if let Err(reason) = Self::provision(ctx, target.assignment).await {
            return Self::finish(ctx, Phase::Failed, Some(reason));
        }

        // Active: the clock starts now, not at request time.
        let now = Self::now(ctx);
        let expires = now.checked_add(request.duration).unwrap_or(Timestamp::MAX);
        ctx.state_mut(|s| {
            s.ticket.active_since = Some(now);
            s.ticket.expires_at = Some(expires);
            s.ticket.enter(Phase::Active, now);
        });
        search_attributes::upsert_phase(ctx, Phase::Active, Some(expires));
        ctx.set_current_details(ctx.state(|s| details(&s.ticket)));
        let fired = ctx
            .timer(
                TimerOptions::builder(request.duration.unsigned_abs())
                    .summary("access expires".to_owned())
                    .build(),
            )
            .await;

        // Revoke: unwind the stack; never abandoned.
        Self::enter(ctx, Phase::Revoking);
        Self::unwind(ctx).await;
        match fired {
            TimerResult::Fired => Self::finish(ctx, Phase::Expired, None),
            _ => Self::finish(
                ctx,
                Phase::Revoked,
                Some("the workflow was cancelled: access removed before expiry".into()),
            ),
        }
    }

    /// The whole ticket: phase, target, votes, resource stack, times, audit trail.
    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> Ticket {
        self.ticket.clone()
    }

    #[update_validator(approve)]
    fn validate_approve(
        &self,
        _ctx: &WorkflowContextView,
        input: &VoteInput,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.ticket.check_vote(&input.approver)?)
    }

    /// Approve the ticket. Refused synchronously (and not recorded) for the requester, the
    /// principal, a second vote, or a ticket not waiting for approval.
    #[update]
    pub fn approve(&mut self, ctx: &mut SyncWorkflowContext<Self>, input: VoteInput) {
        self.vote(ctx, input, Decision::Approve);
    }

    #[update_validator(deny)]
    fn validate_deny(
        &self,
        _ctx: &WorkflowContextView,
        input: &VoteInput,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.ticket.check_vote(&input.approver)?)
    }

    /// Deny the ticket; the comment is the reason shown to the requester.
    #[update]
    pub fn deny(&mut self, ctx: &mut SyncWorkflowContext<Self>, input: VoteInput) {
        self.vote(ctx, input, Decision::Deny);
    }

    /// `approve` for callers that cannot wait for an answer; a refused vote is recorded in
    /// the audit trail.
    #[signal]
    pub fn approve_signal(&mut self, ctx: &mut SyncWorkflowContext<Self>, input: VoteInput) {
        self.vote(ctx, input, Decision::Approve);
    }

    /// `deny` for callers that cannot wait for an answer.
    #[signal]
    pub fn deny_signal(&mut self, ctx: &mut SyncWorkflowContext<Self>, input: VoteInput) {
        self.vote(ctx, input, Decision::Deny);
    }
}

impl TicketWorkflow {
    fn vote(&mut self, ctx: &SyncWorkflowContext<Self>, input: VoteInput, decision: Decision) {
        let at = to_timestamp(ctx.workflow_time());
        let vote = Vote {
            voter: input.approver,
            decision,
            comment: input.comment,
            at,
        };
        if let Err(e) = self.ticket.record_vote(vote) {
            self.ticket.log(at, format!("vote ignored: {e}"));
        }
    }
}
