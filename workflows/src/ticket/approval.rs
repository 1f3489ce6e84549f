//! Waiting for approval: reminders, escalation, the deadline; votes checked against the
//! directory before they count; what approvers and delegates hear.

use std::time::Duration;

use jiff::Timestamp;
use jit_contract::activity;
use jit_contract::chat::ChatEvent;
use jit_contract::refusal::Refusal;
use jit_contract::ticket::{Checked, Notification, VoteInput};
use jit_domain::{Decision, RefusalKind, Ticket, UserName, VoteEffect, VoterCheck};
use temporalio_sdk::{ActivityOptions, WorkflowContext};

use super::{Deadline, HandlerError, POLICY_CHECKS, TicketWorkflow, Waited, refused};
use crate::options::{failure_message, lookup_options, retry};

impl TicketWorkflow {
    /// Waits for the request's approval until the plan's deadline.
    pub(super) async fn await_approval(ctx: &WorkflowContext<Self>) -> Waited {
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
    pub(super) fn vote_marks(t: &Ticket) -> (usize, Vec<UserName>) {
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
    pub(super) async fn announce_votes(
        ctx: &WorkflowContext<Self>,
        before: (usize, Vec<UserName>),
    ) {
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
    pub(super) async fn notify(
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
        if let Err(e) = ctx.execute_activity(activity::Notify, n, options).await {
            let now = Self::now(ctx);
            let msg = failure_message(&e);
            ctx.state_mut(|s| {
                s.ticket
                    .log(now, format!("{kind} notification failed: {msg}"))
            });
        }
    }

    /// A vote, once the directory confirmed the voter is still eligible (the recorded plan's
    /// groups; see [`jit_domain::VoterCheck`]).
    pub(super) async fn checked_vote(
        ctx: &WorkflowContext<Self>,
        input: VoteInput,
        decision: Decision,
    ) -> Result<String, HandlerError> {
        if Self::has(ctx, POLICY_CHECKS) {
            let now = Self::now(ctx);
            let check = ctx
                .state(|s| s.ticket.voter_check(&input.approver, now))
                .map_err(refused)?;
            if ctx.state(|s| s.answered_by_evaluation(&check, now)) {
                return Self::count_vote(ctx, input, decision);
            }
            let summary = "check the voter in the directory";
            match Self::lookup(
                ctx,
                activity::CheckVoter,
                check,
                lookup_options(summary),
                summary,
            )
            .await
            {
                Ok(Checked::Allowed { .. }) => {}
                Ok(Checked::Refused { reason }) => {
                    return Err(refused(Refusal::new(RefusalKind::NotAllowed, reason)));
                }
                Err(e) => {
                    return Err(refused(Refusal::new(
                        RefusalKind::Unavailable,
                        format!(
                            "the vote could not be checked against the directory: {}",
                            failure_message(&e)
                        ),
                    )));
                }
            }
        }
        Self::count_vote(ctx, input, decision)
    }

    /// Whether the directory check of `check` would only repeat the evaluation's answer: a
    /// lean run, the approver votes in person, the evaluation resolved them as an approver
    /// of this step, and the directory cache would still give the evaluation's answers.
    fn answered_by_evaluation(&self, check: &VoterCheck, now: Timestamp) -> bool {
        self.lean
            && check.cast_by == check.voter
            && self.fresh_until.is_some_and(|t| now < t)
            && self.ticket.plan.as_ref().is_some_and(|p| {
                p.steps
                    .iter()
                    .any(|s| s.name == check.step && s.approvers.contains(&check.voter))
            })
    }

    fn count_vote(
        ctx: &WorkflowContext<Self>,
        input: VoteInput,
        decision: Decision,
    ) -> Result<String, HandlerError> {
        let now = Self::now(ctx);
        let effect = ctx
            .state_mut(|s| s.ticket.vote(&input.approver, decision, input.comment, now))
            .map_err(refused)?;
        Ok(match effect {
            VoteEffect::Counted => "counted; the step needs more approvals",
            VoteEffect::StepComplete => "counted; the step is complete, the next one starts",
            VoteEffect::Approved => "counted; approved",
            VoteEffect::Denied => "counted; denied",
        }
        .to_owned())
    }
}
