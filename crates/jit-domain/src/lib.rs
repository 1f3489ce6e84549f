//! The pure model of jit. No I/O, no clock, no Temporal: everything here is deterministic
//! and safe to use from workflow code.
//!
//! - [`ids`]: validated identifiers and text ([`AccountId::parse`], [`UserName::parse`], ...);
//!   errors name the field.
//! - [`stack`]: the resource stack and its record-intent-before-acting rule.
//! - [`ticket`]: the request, the lifecycle [`Phase`], votes and the [`Ticket`] state.

pub mod approval;
pub mod ids;
pub mod stack;
pub mod ticket;

pub use ids::{
    AccountId, InstanceArn, InvalidInput, Justification, PermissionSetArn, PermissionSetName,
    PrincipalId, TicketId, UserName,
};
pub use stack::{AssignmentRef, EntryState, PrincipalType, ResourceStack, StackEntry};
pub use ticket::{
    AuditEvent, Decision, Limits, Phase, ResolvedTarget, Ticket, TicketRequest, Vote, VoteRejected,
};
