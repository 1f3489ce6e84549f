//! The search attributes of jit's workflows (registered on the server from
//! `temporal-dev.yaml`), and the values they take — the one place their names are written.
//!
//! A ticket starts with requester, principal and explicit targets (part of the start event,
//! no extra history event); the resolved targets (bundles expanded) go with the first phase
//! change; status, expiry and pending approvers are upserted together when they change.
//! These are indexes, readable by anyone with visibility access: they hold user names,
//! account ids and permission-set names, never justifications.

use jiff::Timestamp;
use jit_domain::{Phase, Principal, ResolvedTarget, TicketRequest, UserName};
use temporalio_common::search_attributes::{
    SearchAttributeKey, SearchAttributeUpdate, SearchAttributes, Timestamp as SaTimestamp,
};

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

/// Reconcile reports: assignments in AWS without a lease, and leases without their assignment.
pub const ORPHANS: SearchAttributeKey<i64> = SearchAttributeKey::int("JitOrphans");
pub const MISSING: SearchAttributeKey<i64> = SearchAttributeKey::int("JitMissing");

/// The `JitPrincipal` value of a principal: the user name, or `group:<name>`.
pub fn principal(p: &Principal) -> String {
    match p {
        Principal::User(u) => u.to_string(),
        Principal::Group(g) => format!("group:{g}"),
    }
}

fn sorted_unique(it: impl Iterator<Item = String>) -> Vec<String> {
    let set: std::collections::BTreeSet<String> = it.collect();
    set.into_iter().collect()
}

/// The attributes a ticket starts with.
pub fn initial(req: &TicketRequest) -> SearchAttributes {
    let mut updates = vec![
        STATUS.value_set(Phase::Evaluating.as_str().to_owned()),
        REQUESTER.value_set(req.requester.to_string()),
        PRINCIPAL.value_set(principal(&req.principal)),
    ];
    if !req.targets.is_empty() {
        updates.push(ACCOUNTS.value_set(sorted_unique(
            req.targets.iter().map(|t| t.account.to_string()),
        )));
        updates.push(PERMISSION_SETS.value_set(sorted_unique(
            req.targets.iter().map(|t| t.permission_set.to_string()),
        )));
    }
    SearchAttributes::new(updates)
}

/// The status, and the expiry, pending approvers and resolved targets (a bundle's included)
/// when given: one upsert.
pub fn phase(
    phase: Phase,
    expires: Option<Timestamp>,
    pending: Option<&[UserName]>,
    targets: Option<&[ResolvedTarget]>,
) -> Vec<SearchAttributeUpdate> {
    let mut updates: Vec<SearchAttributeUpdate> = vec![STATUS.value_set(phase.as_str().to_owned())];
    if let Some(t) = targets {
        updates.push(ACCOUNTS.value_set(sorted_unique(
            t.iter().map(|x| x.target.account.to_string()),
        )));
        updates.push(PERMISSION_SETS.value_set(sorted_unique(
            t.iter().map(|x| x.target.permission_set.to_string()),
        )));
    }
    if let Some(t) = expires {
        updates.push(EXPIRES_AT.value_set(SaTimestamp::new(t.as_second(), t.subsec_nanosecond())));
    }
    if let Some(p) = pending {
        updates.push(pending_approvers(p));
    }
    updates
}

/// Who can act on the open approval now.
pub fn pending_approvers(pending: &[UserName]) -> SearchAttributeUpdate {
    PENDING_APPROVERS.value_set(pending.iter().map(ToString::to_string).collect())
}

/// A reconcile run's counts.
pub fn drift(orphans: usize, missing: usize) -> Vec<SearchAttributeUpdate> {
    let n = |x: usize| i64::try_from(x).unwrap_or(i64::MAX);
    vec![ORPHANS.value_set(n(orphans)), MISSING.value_set(n(missing))]
}
