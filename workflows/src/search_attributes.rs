//! The search attributes of a ticket (registered on the server from `temporal-dev.yaml`).
//!
//! Requester, principal, accounts and permission sets are set once when the ticket starts
//! (part of the start event, no extra history event); the status and expiry are upserted when
//! they change.

use jiff::Timestamp;
use jit_domain::{Phase, TicketRequest};
use temporalio_common::search_attributes::{
    SearchAttributeKey, SearchAttributes, Timestamp as SaTimestamp,
};
use temporalio_sdk::WorkflowContext;

pub const STATUS: SearchAttributeKey<String> = SearchAttributeKey::keyword("JitStatus");
pub const REQUESTER: SearchAttributeKey<String> = SearchAttributeKey::keyword("JitRequester");
pub const PRINCIPAL: SearchAttributeKey<String> = SearchAttributeKey::keyword("JitPrincipal");
pub const ACCOUNTS: SearchAttributeKey<Vec<String>> =
    SearchAttributeKey::keyword_list("JitAccounts");
pub const PERMISSION_SETS: SearchAttributeKey<Vec<String>> =
    SearchAttributeKey::keyword_list("JitPermissionSets");
pub const EXPIRES_AT: SearchAttributeKey<SaTimestamp> =
    SearchAttributeKey::datetime("JitExpiresAt");
pub const PENDING_APPROVERS: SearchAttributeKey<Vec<String>> =
    SearchAttributeKey::keyword_list("JitPendingApprovers");

/// The attributes a ticket starts with.
pub fn initial(req: &TicketRequest) -> SearchAttributes {
    SearchAttributes::new([
        STATUS.value_set(Phase::Evaluating.as_str().to_owned()),
        REQUESTER.value_set(req.requester.to_string()),
        PRINCIPAL.value_set(req.principal.to_string()),
        ACCOUNTS.value_set(vec![req.account.to_string()]),
        PERMISSION_SETS.value_set(vec![req.permission_set.to_string()]),
    ])
}

/// Upserts the status (and the expiry, when it is known) in one command.
pub(crate) fn upsert_phase<W>(ctx: &WorkflowContext<W>, phase: Phase, expires: Option<Timestamp>) {
    let mut updates = vec![STATUS.value_set(phase.as_str().to_owned())];
    if let Some(t) = expires {
        updates.push(EXPIRES_AT.value_set(SaTimestamp::new(t.as_second(), t.subsec_nanosecond())));
    }
    ctx.upsert_search_attributes(updates);
}
