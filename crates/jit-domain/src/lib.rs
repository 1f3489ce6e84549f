//! The pure model of jit. No I/O, no clock, no Temporal: everything here is deterministic
//! and safe to use from workflow code.
//!
//! - [`duration`]: durations as people write them (`90s`, `8h`).
//! - [`ids`]: validated identifiers and text ([`AccountId::parse`], [`UserName::parse`], ...);
//!   errors name the field.
//! - [`stack`]: the resource stack and its record-intent-before-acting rule.
//! - [`approval`]: approval plans, quorum steps, delegation: the [`Approval`] state machine.
//! - [`card`]: what a chat message says about a ticket ([`Card`]).
//! - [`lease`]: who holds an assignment ([`LeaseState`], [`Ownership`], the lean lease's
//!   rules) and the [`Governor`]'s rules of outstanding Identity Center operations.
//! - [`delegation`]: standing delegations (vacations) held per approver.
//! - [`request`]: what someone asks for ([`TicketRequest`], [`Principal`], [`Target`],
//!   [`Limits`]).
//! - [`phase`]: where a ticket is ([`Phase`], the one list of phases).
//! - [`evaluation`]: what evaluation decided ([`Evaluated`], [`ResolvedTarget`],
//!   [`PolicyRecord`]) and what a vote needs confirmed ([`VoterCheck`]).
//! - [`refusal`]: why an action was refused ([`Refused`] with its [`RefusalKind`]).
//! - [`ticket`]: the [`Ticket`] state and its rules (votes, extensions, early ends).
//! - [`session`]: what the principal did with the access ([`SessionSummary`], from CloudTrail).
//! - [`audit`]: the durable record of an ended ticket ([`AuditRecord`], a versioned schema).

pub mod approval;
pub mod audit;
pub mod card;
pub mod delegation;
pub mod duration;
pub mod evaluation;
pub mod ids;
pub mod lease;
pub mod phase;
pub mod refusal;
pub mod request;
pub mod session;
pub mod stack;
pub mod ticket;

pub use approval::{
    Approval, ApprovalPlan, ApprovalStep, Decision, Delegation, DelegationRejected, Escalation,
    NotifyRoute, Unsatisfiable, Vote, VoteEffect, VoteRejected,
};
pub use audit::{AUDIT_SCHEMA, AuditRecord};
pub use card::{Card, ChatMessage};
pub use delegation::{DelegationEntity, StandingDelegation};
pub use evaluation::{AuditHints, Evaluated, Hints, PolicyRecord, ResolvedTarget, VoterCheck};
pub use ids::{
    AccountId, BundleName, GroupName, InstanceArn, InvalidInput, Justification, PermissionSetArn,
    PermissionSetName, PrincipalId, QUOTED_CHARS, TicketId, UserName, quoted,
};
pub use lease::{
    Acquired, ApprovalTimes, Deleting, Finding, Governor, LeaseCall, LeaseInput, LeaseState,
    LeaseStatus, Ownership, Permit, PermitRelease, PermitRequest, Released,
};
pub use phase::Phase;
pub use refusal::{RefusalKind, Refused};
pub use request::{BREAK_GLASS_MIN_JUSTIFICATION, Limits, Principal, Target, TicketRequest};
pub use session::{Cutoff, SessionSummary};
pub use stack::{AssignmentRef, EntryState, PrincipalType, ResourceStack, StackEntry};
pub use ticket::{AuditEvent, EndKind, EndRequest, Extension, Ticket};
