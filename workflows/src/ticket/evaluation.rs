//! Evaluation (the request resolved and decided by the policy, recorded in history) and
//! the same decision taken again later (at a scheduled start, on extension).

use jiff::{SignedDuration, Timestamp};
use jit_contract::activity;
use jit_contract::ticket::{Checked, Evaluation, Recheck, TicketOutcome};
use jit_domain::Phase;
use temporalio_sdk::{WorkflowContext, WorkflowResult};

use super::TicketWorkflow;
use crate::options::{failure_message, lookup_options};

impl TicketWorkflow {
    /// The request's decision taken again with the policy and directory of now.
    pub(super) async fn recheck(ctx: &WorkflowContext<Self>) -> Result<(), String> {
        let recheck = ctx.state(|s| Recheck {
            requester: s.ticket.request.requester.clone(),
            principal: s.ticket.request.principal.clone(),
            targets: s.ticket.targets.clone(),
        });
        let summary = "check the request against the policy of now";
        match Self::lookup(
            ctx,
            activity::Recheck,
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

    /// Evaluates the request; on success the ticket is pending approval, approved by the
    /// plan, or granted break-glass. `Err` carries the workflow's end when it is refused.
    pub(super) async fn evaluate(
        ctx: &WorkflowContext<Self>,
    ) -> Result<(), WorkflowResult<TicketOutcome>> {
        let request = ctx.state(|s| s.ticket.request.clone());
        let summary = "resolve principal, targets and approval plan";
        let evaluated = match Self::lookup(
            ctx,
            activity::Evaluate,
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
        let hints = evaluated.hints.clone();
        ctx.state_mut(|s| {
            s.ticket.keep = hints.audit.clone();
            if s.lean {
                s.quiet = hints.quiet;
                s.fresh_until = hints
                    .directory_fresh_for
                    .and_then(|d| now.checked_add(d).ok());
            }
        });
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
}
