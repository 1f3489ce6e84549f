//! Upserting the contract's search attributes from a workflow (the keys and values are
//! `jit_contract::search_attributes`'): one command per change.

use jiff::Timestamp;
use jit_contract::search_attributes as sa;
use jit_domain::{Phase, ResolvedTarget, UserName};
use temporalio_sdk::WorkflowContext;

/// Upserts the status, and the expiry, pending approvers and resolved targets (a bundle's
/// included) when given, in one command.
pub(crate) fn upsert_phase<W>(
    ctx: &WorkflowContext<W>,
    phase: Phase,
    expires: Option<Timestamp>,
    pending: Option<&[UserName]>,
    targets: Option<&[ResolvedTarget]>,
) {
    ctx.upsert_search_attributes(sa::phase(phase, expires, pending, targets));
}

/// Upserts who can act on the open approval now.
pub(crate) fn upsert_pending<W>(ctx: &WorkflowContext<W>, pending: &[UserName]) {
    ctx.upsert_search_attributes([sa::pending_approvers(pending)]);
}

/// Upserts a reconcile run's counts.
pub(crate) fn upsert_drift<W>(ctx: &WorkflowContext<W>, orphans: usize, missing: usize) {
    ctx.upsert_search_attributes(sa::drift(orphans, missing));
}
