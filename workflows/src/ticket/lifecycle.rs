//! The ticket's life from evaluation to its end: [`TicketWorkflow::drive`], and the chat
//! announcements at the moments people need to know.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use jit_contract::activity;
use jit_contract::audit::SessionAuditInput;
use jit_contract::chat::{Announcement, ChatEvent};
use jit_contract::ticket::TicketOutcome;
use jit_domain::{AuditRecord, Decision, Phase, UserName};
use temporalio_sdk::{
    ActivityOptions, LocalActivityOptions, TimerOptions, TimerResult, WorkflowCancellationToken,
    WorkflowContext, WorkflowResult,
};

use super::{CHAT, Deadline, POLICY_CHECKS, TicketWorkflow, Waited};
use crate::options::{failure_message, retry};

impl TicketWorkflow {
    /// The ticket's life, from evaluation to its end (or a continue-as-new).
    pub(super) async fn drive(ctx: &WorkflowContext<Self>) -> WorkflowResult<TicketOutcome> {
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

    /// After the ticket ended, what its evaluation said to keep (`Ticket::keep`): the session
    /// audit (once CloudTrail had time to deliver) and the audit record. Never fatal: a
    /// failure is a line in the audit trail. Tickets from before keep nothing here.
    pub(super) async fn keep(ctx: &WorkflowContext<Self>) {
        let Some(keep) = ctx.state(|s| s.ticket.keep.clone()) else {
            return;
        };
        let window = ctx.state(|s| {
            let t = &s.ticket;
            let targets: Vec<_> = t
                .targets
                .iter()
                .filter(|x| !x.standing)
                .map(|x| (x.target.account.clone(), x.target.permission_set.clone()))
                .collect();
            match (t.active_since, t.ended_at, targets.is_empty()) {
                (Some(from), Some(ended), false) => Some(SessionAuditInput {
                    ticket_id: t.request.ticket_id.to_string(),
                    principal: t.request.principal.clone(),
                    targets,
                    from,
                    ended,
                    write_events: keep.export,
                }),
                _ => None,
            }
        });
        if let (Some(delay), Some(input)) = (keep.session_after, window) {
            let waited = ctx
                .timer(
                    TimerOptions::builder(delay.unsigned_abs())
                        .summary("wait for CloudTrail's delivery".to_owned())
                        .build(),
                )
                .await;
            if matches!(waited, TimerResult::Fired) {
                let options =
                    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(3600))
                        .heartbeat_timeout(Duration::from_secs(30))
                        .retry_policy(retry(10, Duration::from_secs(300)))
                        .summary("session audit".to_owned())
                        .build();
                let got = ctx
                    .execute_activity(activity::SessionAudit, input, options)
                    .await;
                let now = Self::now(ctx);
                ctx.state_mut(|s| match got {
                    Ok(summary) => {
                        s.ticket
                            .log(now, format!("session audit: {}", summary.line()));
                        s.ticket.session = Some(summary);
                    }
                    Err(e) => s.ticket.log(
                        now,
                        format!("session audit failed: {}", failure_message(&e)),
                    ),
                });
            }
        }
        if keep.export {
            let record = ctx.state(|s| AuditRecord::of(&s.ticket));
            // Written even if the workflow is cancelled meanwhile.
            let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(120))
                .retry_policy(retry(0, Duration::from_secs(300)))
                .cancellation_token(WorkflowCancellationToken::new())
                .summary("write the audit record".to_owned())
                .build();
            let written = ctx
                .execute_activity(activity::ExportAudit, record, options)
                .await;
            let now = Self::now(ctx);
            ctx.state_mut(|s| match written {
                Ok(at) => s.ticket.log(now, format!("audit record written: {at}")),
                Err(e) => s.ticket.log(
                    now,
                    format!("audit record not written: {}", failure_message(&e)),
                ),
            });
        }
    }

    /// Tells people through chat (behind the `chat-v1` patch: histories from before replay
    /// without it). Never fatal: a failure is a line in the audit trail.
    pub(super) async fn announce(ctx: &WorkflowContext<Self>, event: ChatEvent, to: Vec<UserName>) {
        if ctx.state(|s| s.quiet) || !Self::has(ctx, CHAT) {
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
            ctx.execute_activity(activity::Announce, a, options).await
        } else {
            ctx.execute_local_activity(activity::Announce, a, options)
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
}
