//! Provisioning through the resource stack (each target's lease acquired, or in histories
//! from before leases: created by the ticket itself), and the unwind that removes it all.

use std::time::Duration;

use jit_contract::activity;
use jit_contract::ticket::GrantOutcome;
use jit_domain::{Acquired, ApprovalTimes, AssignmentRef, EntryState, LeaseCall, Released};
use temporalio_sdk::{
    ActivityExecutionError, TimerOptions, WorkflowCancellationToken, WorkflowContext,
};

use super::{LEASES, TicketWorkflow, describe};
use crate::options::{
    failure_message, grant_options, lease_options, lookup_options, revoke_options,
};

impl TicketWorkflow {
    /// Deletes everything on the stack (or leaves every lease), last in first out, until it
    /// is all gone.
    pub(super) async fn unwind(ctx: &WorkflowContext<Self>) {
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
                    ctx.execute_activity(activity::Revoke, a, revoke_options(&what))
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
    pub(super) async fn release_one(
        ctx: &WorkflowContext<Self>,
        a: AssignmentRef,
        what: &str,
    ) -> Result<String, ActivityExecutionError> {
        let holder = ctx.workflow_id().to_owned();
        let now = Self::now(ctx);
        let due = ctx
            .state(|s| s.ticket.expires_at)
            .filter(|e| *e <= now)
            .unwrap_or(now);
        let released = ctx
            .execute_activity(
                activity::ReleaseLease,
                LeaseCall {
                    due: Some(due),
                    ..LeaseCall::new(a, holder)
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
            // The activity carries a lean lease's instruction out; it never returns it.
            Released::Delete => format!("{what}: the lease asked for a deletion not confirmed"),
        })
    }

    /// Creates every target's assignment through the resource stack. On any failure
    /// everything created is unwound and `Err(reason)` returned.
    pub(super) async fn provision(ctx: &WorkflowContext<Self>) -> Result<(), String> {
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

    pub(super) async fn provision_one(
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
                activity::AssignmentExists,
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
            .execute_activity(activity::Grant, a, grant_options(label))
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
    pub(super) async fn acquire_one(
        ctx: &WorkflowContext<Self>,
        target: usize,
        a: AssignmentRef,
        label: &str,
    ) -> Result<(), String> {
        let index = ctx.state_mut(|s| s.ticket.stack.push_intent(a.clone()));
        let holder = ctx.workflow_id().to_owned();
        // The last target's acquire carries the approval's times (for metrics only).
        let approval = ctx.state(|s| {
            let t = &s.ticket;
            let last = target + 1 == t.targets.len();
            let approved = t.approved_at?;
            let due = t.request.start_at.map_or(approved, |s| s.max(approved));
            last.then(|| ApprovalTimes {
                waiting_since: t.pending_since.unwrap_or(t.requested_at),
                approved_at: due,
            })
        });
        let acquired = ctx
            .execute_activity(
                activity::AcquireLease,
                LeaseCall {
                    approval,
                    ..LeaseCall::new(a, holder)
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
            // The activity carries a lean lease's instruction out; it never returns it.
            Acquired::Create | Acquired::Share { .. } => {
                return Err(format!("{label}: access was not confirmed"));
            }
        };
        ctx.state_mut(|s| {
            s.ticket.stack.mark(index, EntryState::Created);
            s.ticket.log(now, line);
        });
        Ok(())
    }
}
