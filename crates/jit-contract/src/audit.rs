//! Session audit, the audit record, and session cut-off: the messages between tickets, the
//! API and the workers (`docs/audit.md`).
//!
//! - A ticket whose evaluation said so ([`jit_domain::AuditHints`]) waits after its access
//!   ended for CloudTrail's late delivery, then runs [`SessionAudit`](crate::activity::SessionAudit)
//!   and keeps the summary; then [`ExportAudit`](crate::activity::ExportAudit) writes its
//!   record to the audit bucket.
//! - While access is active, the API asks a worker for the events so far with a short
//!   [`EventsWorkflow`] (the API holds no AWS credentials).
//! - At revocation the last holder's lease call signals the account's [`CutoffWorkflow`]
//!   (id [`cutoff_id`]): one per account, so concurrent revocations queue and none is lost;
//!   it writes the account's cut-off policies and prunes them when their statements expire.

use jiff::Timestamp;
use jit_domain::{AccountId, Cutoff, PermissionSetName, Principal, SessionSummary};
use serde::{Deserialize, Serialize};

/// What a ticket's session audit reads: the principal's sessions as each target's permission
/// set in its account, issued between `from` and `ended`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionAuditInput {
    pub ticket_id: String,
    pub principal: Principal,
    pub targets: Vec<(AccountId, PermissionSetName)>,
    pub from: Timestamp,
    pub ended: Timestamp,
    /// Write every attributed event to the audit bucket (the ended ticket's summary does;
    /// a live look does not).
    #[serde(default)]
    pub write_events: bool,
}

/// A live look at a ticket's sessions: the summary so far and the latest events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEventsInput {
    pub audit: SessionAuditInput,
    /// At most this many events (the latest).
    pub limit: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEvents {
    pub summary: SessionSummary,
    /// The latest attributed events as CloudTrail wrote them (JSON), oldest first.
    pub events: Vec<String>,
}

workflow!(
    /// One live look at a ticket's sessions, answered by a worker.
    EventsWorkflow = "SessionEventsWorkflow", SessionEventsInput => SessionEvents
);

/// The id of `account`'s cut-off entity.
pub fn cutoff_id(account: &str) -> String {
    format!("session-cutoff-{account}")
}

/// The cut-off entity's input: its account and what it carries across continue-as-new.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CutoffInput {
    pub account: String,
    #[serde(default)]
    pub pending: Vec<Cutoff>,
    /// jit's cut-off policies on the account, as last written (documents).
    #[serde(default)]
    pub documents: Vec<String>,
}

workflow!(
    /// One account's cut-off policies: adds what revocations send, prunes what expired, ends
    /// when nothing is left to deny.
    CutoffWorkflow = "SessionCutoff", CutoffInput => ()
);

signal!(
    /// Cut these sessions off (an empty list: prune now).
    CutoffAdd on CutoffWorkflow = "add", Vec<Cutoff>
);

query!(
    /// The account's cut-off policies as last written, and what waits to be added.
    CutoffState on CutoffWorkflow = "state", CutoffInput
);

/// What [`ApplyCutoffs`](crate::activity::ApplyCutoffs) is asked: write `add` into the
/// account's policies, pruning what expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CutoffBatch {
    pub account: String,
    pub add: Vec<Cutoff>,
    /// What counts as expired: statements expiring at or before this go (the entity's
    /// workflow time; absent: the worker's clock).
    #[serde(default)]
    pub now: Option<Timestamp>,
}

/// What the account's policies hold after a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CutoffApplied {
    pub documents: Vec<String>,
    /// When the next statement expires (prune then); `None`: nothing left.
    pub next_expiry: Option<Timestamp>,
    /// Cut-offs that could not be written (AWS's limits), each with why.
    #[serde(default)]
    pub refused: Vec<String>,
}
