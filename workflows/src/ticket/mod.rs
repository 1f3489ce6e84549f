//! [`TicketWorkflow`]: one access ticket, from request to revocation, driving the domain's
//! [`Ticket`] by phase:
//!
//! - [`evaluation`]: the request resolved and decided by the policy (an activity).
//! - [`approval`]: waiting for votes, reminders, escalation, the deadline.
//! - [`lifecycle`]: [`TicketWorkflow::drive`], scheduled start, chat announcements.
//! - [`provisioning`]: every target through the resource stack and its lease; the unwind.
//! - [`active`]: extensions, break-glass ratification, expiry.
//! - [`handlers`]: the updates, signals and queries (each update and its signal declared once).

use std::time::Duration;

use jiff::Timestamp;
use jit_contract::refusal::Refusal;
use jit_contract::ticket::{CONTINUE_AS_NEW_AFTER_EVENTS, TicketInput, TicketOutcome};
use jit_domain::{AssignmentRef, Decision, Phase, Ticket, UserName};
use temporalio_macros::workflow;
use temporalio_sdk::{
    ActivityExecutionError, ActivityOptions, CancellableFuture, ContinueAsNewOptions,
    LocalActivityOptions, TimerOptions, TimerResult, WorkflowContext, WorkflowResult,
};

use crate::options::{retry, to_timestamp};
use crate::search_attributes;

mod active;
mod approval;
mod evaluation;
mod handlers;
mod lifecycle;
mod provisioning;

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

/// Everything [`FEATURES_AT_START`] decides, and the ticket is lean: it skips the activities
/// whose answer the evaluation already gave — announcements when no chat is configured, the
/// directory check of a vote cast within the directory cache's freshness by an approver the
/// evaluation resolved (see [`jit_domain::Hints`]). Asked instead of `FEATURES_AT_START` (one
/// marker per run); runs from before replay as they ran.
const LEAN: &str = "lean-v1";

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
    /// This run started [`LEAN`] (or its generation includes it); the two below come from its
    /// evaluation's hints.
    lean: bool,
    /// The ticket's generation, from its input (`jit_contract::ticket::GENERATION`); 0 for
    /// tickets from before generations, whose runs ask their patches.
    generation: u32,
    /// Nobody to announce to.
    quiet: bool,
    /// Until when a vote by an approver the evaluation resolved needs no directory check.
    fresh_until: Option<Timestamp>,
    /// When the last lease answered (the access starts then; see `Held`).
    granted_at: Option<Timestamp>,
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

pub(crate) type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// A refusal as an update's error: its kind travels with it to the caller.
fn refused(e: impl Into<Refusal>) -> HandlerError {
    Box::new(e.into())
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
        let generation = ctx.state(|s| s.generation);
        match ctx.continue_as_new(
            TicketInput::Continued {
                continued: Box::new(ticket),
                generation,
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
