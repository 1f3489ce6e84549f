//! The deterministic workflows of jit. Nothing here does I/O, reads a clock or a file, or
//! draws randomness: time comes from the workflow context, everything else from activities.
//! Every workflow registers under the names of `jit-contract`'s definitions and calls its
//! activities by them; this crate depends on the domain, the contract and the SDK only.
//!
//! - [`TicketWorkflow`] ([`ticket`]): one access ticket, from request to revocation.
//! - [`DelegationWorkflow`]: one approver's standing delegations (`delegation-<user>`).
//! - [`CatalogWorkflow`], [`ExplainWorkflow`], [`KnownTargetsWorkflow`], [`UserLookupWorkflow`]: questions the API
//!   asks a worker.
//! - [`AssignmentLease`]: the one owner of a real assignment; tickets acquire and release it.
//! - [`AwsGovernor`]: permits for asynchronous Identity Center operations, fleet-wide.
//! - [`ReconcileWorkflow`]: AWS against the leases, on a Temporal Schedule.
//! - [`SessionCutoff`]: one account's session cut-off policies (`session-cutoff-<account>`);
//!   [`SessionEventsWorkflow`]: a live look at a ticket's sessions, for the API.
//! - `options`: activity options and retry policies; `search_attributes`: the upserts.

pub mod audit;
pub mod catalog;
pub mod delegation;
pub mod governor;
pub mod lease;
mod options;
pub mod reconcile;
mod search_attributes;
pub mod ticket;

pub use audit::{SessionCutoff, SessionEventsWorkflow};
pub use catalog::{CatalogWorkflow, ExplainWorkflow, KnownTargetsWorkflow, UserLookupWorkflow};
pub use delegation::DelegationWorkflow;
pub use governor::AwsGovernor;
pub use lease::AssignmentLease;
pub use reconcile::ReconcileWorkflow;
pub use ticket::TicketWorkflow;

#[cfg(test)]
mod contract_tests;
