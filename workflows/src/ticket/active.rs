//! While access is active: extensions (re-approved when the plan says so), break-glass
//! ratification, the expiry warning, and how access ends.

use jiff::SignedDuration;
use jit_contract::chat::ChatEvent;
use jit_contract::refusal::Refusal;
use jit_contract::ticket::ExtendInput;
use jit_domain::{Decision, Phase, RefusalKind};
use temporalio_sdk::WorkflowContext;

use super::{CHAT, Deadline, HandlerError, POLICY_CHECKS, TicketWorkflow, refused};
use crate::search_attributes;

impl TicketWorkflow {
    /// While active: moves the expiry on extensions, enforces break-glass ratification,
    /// and returns how access ends (phase, reason).
    /// `None`: continue as new (the history grew long).
    pub(super) async fn active(ctx: &WorkflowContext<Self>) -> Option<(Phase, Option<String>)> {
        let mut slot = None;
        let ended = Self::active_loop(ctx, &mut slot).await;
        Deadline::cancel(&mut slot);
        ended
    }

    pub(super) async fn active_loop<'a>(
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
            // Warn the requester before access ends (chat-v1 tickets only; from generation 2
            // only when someone would be told).
            let warned = ctx.state(|s| s.ticket.warned || (s.generation >= 2 && s.quiet));
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

    /// An extension, once the policy of now still lets the requester have this access.
    pub(super) async fn checked_extension(
        ctx: &WorkflowContext<Self>,
        input: ExtendInput,
    ) -> Result<bool, HandlerError> {
        if Self::has(ctx, POLICY_CHECKS) {
            ctx.state(|s| s.ticket.check_extend(&input.by, input.extra))
                .map_err(refused)?;
            if let Err(reason) = Self::recheck(ctx).await {
                return Err(refused(Refusal::new(
                    RefusalKind::NotAllowed,
                    format!("not allowed: {reason}"),
                )));
            }
        }
        let now = Self::now(ctx);
        ctx.state_mut(|s| {
            let applied = s.ticket.extend(&input.by, input.extra, input.reason, now)?;
            if applied {
                s.ticket.warned = false;
            }
            Ok::<bool, jit_domain::Refused>(applied)
        })
        .map_err(refused)
    }
}
