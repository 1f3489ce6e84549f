//! `TicketWorkflow` (id `ticket-<id>`): one access ticket from request to revocation.
//!
//! Every vote, delegation, extension and early end is an update (refused synchronously by
//! the workflow's validator, with a [`RefusalKind`](jit_domain::RefusalKind)) and also a
//! signal of the same input for callers that cannot wait (a refused signal is a line in the
//! audit trail). Queries: [`Status`] (the whole [`Ticket`]) and [`Audit`].
//!
//! Also here: what the ticket's own activities exchange with it ([`Evaluation`],
//! [`Checked`], [`Recheck`], [`GrantOutcome`], [`Notification`]).

use jiff::{SignedDuration, Timestamp};
use jit_domain::{Evaluated, Phase, Principal, ResolvedTarget, Ticket, TicketRequest, UserName};
use serde::{Deserialize, Serialize};

workflow!(
    /// The ticket workflow.
    Workflow = "TicketWorkflow", TicketInput => TicketOutcome
);

update!(
    /// Approve the open approval (the request's, a break-glass ratification or an
    /// extension's); answers what the vote did.
    Approve on Workflow = "approve", VoteInput => String
);
update!(
    /// Deny; the comment is the reason shown to the requester.
    Deny on Workflow = "deny", VoteInput => String
);
update!(
    /// An approver hands their vote to someone else until a time.
    Delegate on Workflow = "delegate", DelegateInput => ()
);
update!(
    /// Extend active access; answers whether it applied at once (else it waits for
    /// re-approval while access stays).
    Extend on Workflow = "extend", ExtendInput => bool
);
update!(
    /// The requester (or principal) is done: access is removed now.
    Relinquish on Workflow = "relinquish", EndInput => ()
);
update!(
    /// An approver or admin removes the access now.
    Revoke on Workflow = "revoke", EndInput => ()
);
update!(
    /// The requester withdraws the request before access is granted.
    Cancel on Workflow = "cancel", EndInput => ()
);

signal!(ApproveSignal on Workflow = "approve_signal", VoteInput);
signal!(DenySignal on Workflow = "deny_signal", VoteInput);
signal!(DelegateSignal on Workflow = "delegate_signal", DelegateInput);
signal!(ExtendSignal on Workflow = "extend_signal", ExtendInput);
signal!(RelinquishSignal on Workflow = "relinquish_signal", EndInput);
signal!(RevokeSignal on Workflow = "revoke_signal", EndInput);
signal!(CancelSignal on Workflow = "cancel_signal", EndInput);

query!(
    /// The whole ticket: phase, targets, plan with votes (who voted as whom), delegations,
    /// extensions, times, resource stack, audit trail.
    Status on Workflow = "status", Ticket
);
query!(
    /// The audit trail as lines of text, oldest first.
    Audit on Workflow = "audit", Vec<String>
);

/// A ticket continues as a new run at this history length (Temporal's limit is far above).
pub const CONTINUE_AS_NEW_AFTER_EVENTS: u32 = 1000;

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

/// The generation of tickets started now. A ticket's generation, given in its input, decides
/// at once how the whole run behaves — no patch marker (nor the search-attribute upsert the
/// SDK adds with it) is written. `patched()` stays for changes that reach tickets already
/// running; generations are for what only new tickets do:
///
/// - 0 (the bare request, from before): the run asks its patches (`lean-v1`, …).
/// - 2: lean-v1's behaviour without its marker; no expiry-warning timer when nobody is told
///   of the warning.
///
/// A worker from before generations cannot read a generation's input: its workflow task fails
/// until a worker that can takes it (deploy workers before the API).
pub const GENERATION: u32 = 2;

/// The workflow's input: a new request (with its generation), the ticket carried over by
/// continue-as-new, or a bare request from before generations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TicketInput {
    Continued {
        continued: Box<Ticket>,
        #[serde(default, skip_serializing_if = "is_zero")]
        generation: u32,
    },
    Started {
        request: TicketRequest,
        generation: u32,
    },
    New(TicketRequest),
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl From<TicketRequest> for TicketInput {
    /// A ticket of the current [`GENERATION`].
    fn from(request: TicketRequest) -> Self {
        Self::Started {
            request,
            generation: GENERATION,
        }
    }
}

/// What the `evaluate` activity decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Evaluation {
    /// The request resolves to real AWS ids and an approval plan.
    Resolved(Box<Evaluated>),
    /// The request cannot be honoured; the reason names what is wrong.
    Rejected { reason: String },
}

/// What the `grant` activity achieved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GrantOutcome {
    /// Created (or found created by an earlier attempt), confirmed by listing.
    Granted,
    /// AWS refused for good (asynchronous FAILED with its reason, validation, access denied).
    Failed { reason: String },
}

/// Something to tell people about a ticket (reminders, escalation); the worker logs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub ticket_id: String,
    /// `reminder`, `escalation`, ...
    pub kind: String,
    pub to: Vec<UserName>,
    pub text: String,
}

/// A decision taken again on a running ticket, with the policy in force now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recheck {
    pub requester: UserName,
    pub principal: Principal,
    pub targets: Vec<ResolvedTarget>,
}

/// The answer of a check: allowed (by which policy) or refused (why).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Checked {
    Allowed { policy: String },
    Refused { reason: String },
}
