//! The pure model of jit. No I/O, no clock, no Temporal: everything here is deterministic
//! and safe to use from workflow code.
//!
//! - [`duration`]: durations as people write them (`90s`, `8h`).
//! - [`ids`]: validated identifiers and text ([`AccountId::parse`], [`UserName::parse`], ...);
//!   errors name the field.
//! - [`stack`]: the resource stack and its record-intent-before-acting rule.
//! - [`approval`]: approval plans, quorum steps, delegation: the [`Approval`] state machine.
//! - [`card`]: what a chat message says about a ticket ([`Card`]).
//! - [`lease`]: who holds an assignment ([`LeaseState`], [`Ownership`]) and the fleet's
//!   [`Governor`] of outstanding Identity Center operations.
//! - [`delegation`]: standing delegations (vacations) held per approver.
//! - [`ticket`]: the request, the lifecycle [`Phase`], extensions, early ends and the
//!   [`Ticket`] state.

pub mod approval;
pub mod card;
pub mod delegation;
pub mod duration;
pub mod ids;
pub mod lease;
pub mod stack;
pub mod ticket;

pub use approval::{
    Approval, ApprovalPlan, ApprovalStep, Decision, Delegation, DelegationRejected, Escalation,
    NotifyRoute, Unsatisfiable, Vote, VoteEffect, VoteRejected,
};
pub use card::{Card, ChatMessage};
pub use delegation::{DelegationEntity, StandingDelegation};
pub use ids::{
    AccountId, BundleName, GroupName, InstanceArn, InvalidInput, Justification, PermissionSetArn,
    PermissionSetName, PrincipalId, TicketId, UserName,
};
pub use lease::{
    Acquired, Finding, Governor, LeaseCall, LeaseInput, LeaseState, LeaseStatus, Ownership, Permit,
    PermitRelease, PermitRequest, Released,
};
pub use stack::{AssignmentRef, EntryState, PrincipalType, ResourceStack, StackEntry};
pub use ticket::{
    AuditEvent, EndKind, EndRequest, Evaluated, Extension, Limits, Phase, PolicyRecord, Principal,
    Refused, ResolvedTarget, Target, Ticket, TicketRequest, VoterCheck,
};
