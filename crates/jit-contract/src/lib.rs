//! The contract between jit's workflows, its activities and every caller (the API, the
//! CLI's tools, the tests): names and message types, and nothing that runs.
//!
//! Each definition is a unit struct implementing the SDK's definition trait
//! (`WorkflowDefinition`, `UpdateDefinition`, `SignalDefinition`, `QueryDefinition`,
//! `ActivityDefinition`) with its wire name as `NAME`: callers pass it to the client
//! (`client.start_workflow(ticket::Workflow, ..)`, `handle.execute_update(ticket::Approve, ..)`),
//! workflows call activities with it (`ctx.execute_activity(activity::Grant, ..)`),
//! `workflows/` registers its handlers under its `NAME`, and `activities/` implements it
//! (`#[activity(definition = ..)]`, checked by the compiler).
//!
//! - [`ticket`]: `TicketWorkflow` — updates, signals, queries and their messages.
//! - [`lease`], [`governor`]: `AssignmentLease` and `AwsGovernor`.
//! - [`reconcile`]: `ReconcileWorkflow` and its report.
//! - [`delegation`]: `DelegationWorkflow` (standing delegations).
//! - [`catalog`], [`user_lookup`]: the questions the API asks a worker.
//! - [`audit`]: session audit (the ticket's summary, a live look), the audit record's export,
//!   and the account's `SessionCutoff` entity.
//! - [`activity`]: every activity; [`chat`]: what the `announce` activity is told.
//! - [`search_attributes`]: the keys operators and the API search by, and their values.
//! - [`start`]: how a ticket's workflow is started (id, UI summary, initial attributes).
//! - [`refusal`]: how an update's refusal carries its [`RefusalKind`](jit_domain::RefusalKind)
//!   to the caller.
//!
//! Depends on `jit-domain` (the model types the messages carry), `serde`, `jiff` and
//! `temporalio-common` (the definition traits) only: no SDK runtime, no client, no I/O.

#[macro_use]
mod defs;

pub mod activity;
pub mod audit;
pub mod catalog;
pub mod chat;
pub mod delegation;
pub mod governor;
pub mod lease;
pub mod reconcile;
pub mod refusal;
pub mod search_attributes;
pub mod start;
pub mod ticket;
pub mod user_lookup;

pub use refusal::Refusal;
