//! The ticket's updates, signals and queries, registered under the contract's names.
//!
//! Every vote, delegation, extension and early end is an update *and* a signal with the same
//! input: the `ticket_methods!` table below declares each pair once (its validator, its
//! handler, and what a refused signal is called in the audit trail) and generates the
//! validator, the update and the signal from it.

use jit_contract::chat::ChatEvent;
use jit_contract::ticket::{
    self, DelegateInput, EndInput, ExtendInput, TicketInput, TicketOutcome, VoteInput,
};
use jit_domain::{Decision, Delegation, EndKind, Ticket};
use temporalio_macros::workflow_methods;
use temporalio_sdk::{SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult};

use super::{FEATURES_AT_START, HandlerError, LEAN, TicketWorkflow, refused};
use crate::options::to_timestamp;

/// Generates the `#[workflow_methods]` block: the fixed methods (init, run, queries) as
/// given, then for every row a validator, an update and its signal twin. A row names the
/// update and signal (and their contract definitions), the validator, and the handler's
/// kind and parameters: `[async] (ctx: &mut WorkflowContext<Self>)` for handlers that may
/// run activities, `[] (&mut self, ctx: &mut SyncWorkflowContext<Self>)` for the others; and
/// what the signal does with a refusal (`refused(out)`).
macro_rules! ticket_methods {
    (
        fixed { $($fixed:tt)* }
        $(
            $(#[doc = $doc:literal])*
            $update:ident = $update_def:path, $signal:ident = $signal_def:path,
                $validator:ident(&$vself:ident, $input:ident: $ty:ty) -> $out:ty {
                validate $validate:block
                handle [$($kw:tt)*] ($($params:tt)*) $handle:block
                refused($refusal:ident) => $refused:expr
            }
        )*
    ) => {
        #[workflow_methods]
        impl TicketWorkflow {
            $($fixed)*

            $(
                #[update_validator($update)]
                fn $validator(
                    &$vself,
                    _ctx: &WorkflowContextView,
                    $input: &$ty,
                ) -> Result<(), HandlerError> {
                    ($validate).map_err(refused)
                }

                $(#[doc = $doc])*
                #[update(name = <$update_def>::NAME)]
                pub $($kw)* fn $update($($params)*, $input: $ty) -> Result<$out, HandlerError>
                    $handle

                #[doc = concat!("`", stringify!($update), "` for callers that cannot wait; a refusal is a line in the audit trail.")]
                #[signal(name = <$signal_def>::NAME)]
                pub $($kw)* fn $signal($($params)*, $input: $ty) {
                    let $refusal: Result<(), HandlerError> = ($handle).map(|_| ());
                    $refused
                }
            )*
        }
    };
}

ticket_methods! {
    fixed {
        #[init]
        pub fn new(ctx: &WorkflowContextView, input: TicketInput) -> Self {
            let now = to_timestamp(ctx.start_time());
            let (ticket, generation) = match input {
                TicketInput::New(request) => (Ticket::new(request, now), 0),
                TicketInput::Started { request, generation } => (Ticket::new(request, now), generation),
                TicketInput::Continued { continued, generation } => (*continued, generation),
            };
            // A generation decides every feature at once, with no marker.
            let decided = generation >= 2;
            Self {
                ticket,
                clock: now,
                announced: 0,
                current: decided,
                lean: decided,
                generation,
                quiet: false,
                fresh_until: None,
                granted_at: None,
            }
        }

        #[run(name = ticket::Workflow::NAME)]
        pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<TicketOutcome> {
            if ctx.state(|s| s.generation >= 2) {
                // Decided by the input (see `jit_contract::ticket::GENERATION`).
            } else if ctx.patched(LEAN) {
                ctx.state_mut(|s| {
                    s.current = true;
                    s.lean = true;
                });
            } else if ctx.patched(FEATURES_AT_START) {
                ctx.state_mut(|s| s.current = true);
            }
            let out = Self::drive(ctx).await;
            if ctx.state(|s| s.ticket.phase.is_terminal()) {
                let requester = ctx.state(|s| s.ticket.request.requester.clone());
                Self::announce(ctx, ChatEvent::Ended, vec![requester]).await;
                Self::keep(ctx).await;
            }
            out
        }

        /// The whole ticket: phase, targets, plan with votes (who voted as whom), delegations,
        /// extensions, times, resource stack, audit trail.
        #[query(name = ticket::Status::NAME)]
        pub fn status(&self, _ctx: &WorkflowContextView) -> Ticket {
            self.ticket.clone()
        }

        /// The audit trail as lines of text, oldest first.
        #[query(name = ticket::Audit::NAME)]
        pub fn audit(&self, _ctx: &WorkflowContextView) -> Vec<String> {
            self.ticket
                .audit
                .iter()
                .map(|e| format!("{}  {}", e.at, e.what))
                .collect()
        }
    }

    /// Approve the open approval (the request's, a break-glass ratification, or an
    /// extension's). Refused synchronously (and not recorded) for the requester, the
    /// principal, someone not eligible, or a second vote.
    approve = ticket::Approve, approve_signal = ticket::ApproveSignal,
        validate_approve(&self, input: VoteInput) -> String {
        validate { self.ticket.check_vote(&input.approver, self.clock).map(drop) }
        handle [async] (ctx: &mut WorkflowContext<Self>) {
            Self::checked_vote(ctx, input, Decision::Approve).await
        }
        refused(out) => Self::note_refusal(ctx, "vote", out)
    }

    /// Deny; the comment is the reason shown to the requester.
    deny = ticket::Deny, deny_signal = ticket::DenySignal,
        validate_deny(&self, input: VoteInput) -> String {
        validate { self.ticket.check_vote(&input.approver, self.clock).map(drop) }
        handle [async] (ctx: &mut WorkflowContext<Self>) {
            Self::checked_vote(ctx, input, Decision::Deny).await
        }
        refused(out) => Self::note_refusal(ctx, "vote", out)
    }

    /// Extend active access, up to the plan's total. Returns whether it applied at once
    /// (else it waits for re-approval while access stays).
    extend = ticket::Extend, extend_signal = ticket::ExtendSignal,
        validate_extend(&self, input: ExtendInput) -> bool {
        validate { self.ticket.check_extend(&input.by, input.extra) }
        handle [async] (ctx: &mut WorkflowContext<Self>) {
            Self::checked_extension(ctx, input).await
        }
        refused(out) => Self::note_refusal(ctx, "extension", out)
    }

    /// An approver hands their vote to someone else until a time.
    delegate = ticket::Delegate, delegate_signal = ticket::DelegateSignal,
        validate_delegate(&self, input: DelegateInput) -> () {
        validate { self.ticket.check_delegate(&input.from, &input.to, input.until, self.clock) }
        handle [] (&mut self, ctx: &mut SyncWorkflowContext<Self>) {
            self.apply_delegation(ctx, input)
        }
        refused(out) => self.signal_refused(ctx, "delegation", out)
    }

    /// The requester (or principal) is done: access is removed now.
    relinquish = ticket::Relinquish, relinquish_signal = ticket::RelinquishSignal,
        validate_relinquish(&self, input: EndInput) -> () {
        validate { self.ticket.check_end(EndKind::Relinquish, &input.by) }
        handle [] (&mut self, ctx: &mut SyncWorkflowContext<Self>) {
            self.end(ctx, EndKind::Relinquish, input)
        }
        refused(out) => self.signal_refused(ctx, "relinquish", out)
    }

    /// An approver or admin removes the access now.
    revoke = ticket::Revoke, revoke_signal = ticket::RevokeSignal,
        validate_revoke(&self, input: EndInput) -> () {
        validate { self.ticket.check_end(EndKind::Revoke, &input.by) }
        handle [] (&mut self, ctx: &mut SyncWorkflowContext<Self>) {
            self.end(ctx, EndKind::Revoke, input)
        }
        refused(out) => self.signal_refused(ctx, "revoke", out)
    }

    /// The requester withdraws the request before access is granted.
    cancel = ticket::Cancel, cancel_signal = ticket::CancelSignal,
        validate_cancel(&self, input: EndInput) -> () {
        validate { self.ticket.check_end(EndKind::Cancel, &input.by) }
        handle [] (&mut self, ctx: &mut SyncWorkflowContext<Self>) {
            self.end(ctx, EndKind::Cancel, input)
        }
        refused(out) => self.signal_refused(ctx, "cancel", out)
    }
}

impl TicketWorkflow {
    fn apply_delegation(
        &mut self,
        ctx: &SyncWorkflowContext<Self>,
        input: DelegateInput,
    ) -> Result<(), HandlerError> {
        let now = self.tick(ctx);
        self.ticket
            .delegate(
                Delegation {
                    from: input.from,
                    to: input.to,
                    until: input.until,
                    reason: input.reason,
                    at: now,
                },
                now,
            )
            .map_err(refused)
    }

    fn tick(&mut self, ctx: &SyncWorkflowContext<Self>) -> jiff::Timestamp {
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
            .request_end(kind, &input.by, input.reason, now)
            .map_err(refused)
    }

    /// A refused (async) signal goes to the audit trail instead of the caller.
    fn note_refusal(ctx: &WorkflowContext<Self>, what: &str, out: Result<(), HandlerError>) {
        if let Err(e) = out {
            let now = Self::now(ctx);
            ctx.state_mut(|s| s.ticket.note(now, format!("{what} ignored: {e}")));
        }
    }

    /// A refused (sync) signal goes to the audit trail instead of the caller.
    fn signal_refused(
        &mut self,
        ctx: &SyncWorkflowContext<Self>,
        what: &str,
        out: Result<(), HandlerError>,
    ) {
        if let Err(e) = out {
            let now = self.tick(ctx);
            self.ticket.note(now, format!("{what} ignored: {e}"));
        }
    }
}
