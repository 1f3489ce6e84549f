//! `ReconcileWorkflow` (run by the Temporal Schedule `jit-reconcile-<task queue>`): the
//! assignments of the JIT-managed permission sets in AWS against the live leases.

use jiff::Timestamp;
use jit_domain::{AssignmentRef, Finding};
use serde::{Deserialize, Serialize};

workflow!(
    /// One reconcile run.
    Workflow = "ReconcileWorkflow", ReconcileInput => ReconcileReport
);
query!(
    /// What this run found (and asked to repair).
    Report on Workflow = "report", ReconcileReport
);

/// What the reconciler is asked to look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileInput {
    /// The JIT-managed permission sets (names): every assignment of these belongs to a lease.
    pub permission_sets: Vec<String>,
    /// Report only, repair nothing.
    pub dry_run: bool,
    /// Only these accounts (ids); empty: every account of the organization.
    #[serde(default)]
    pub accounts: Vec<String>,
}

/// One assignment the reconciler found out of place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    pub assignment: AssignmentRef,
    pub finding: Finding,
    /// How many rows AWS lists for it (more than one: duplicates).
    pub listed: usize,
}

/// What one scan (the `reconcile_scan` activity) saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scan {
    /// Assignments of managed permission sets in AWS (rows).
    pub assignments: usize,
    /// Leases running.
    pub leases: usize,
    pub drift: Vec<Drift>,
    /// Managed permission set names that do not exist in the instance.
    pub unknown_permission_sets: Vec<String>,
    /// Accounts whose session cut-off policies hold statements that expired (a cut-off entity
    /// that stopped before pruning them): handed to the account's entity to prune.
    #[serde(default)]
    pub stale_cutoffs: Vec<String>,
}

/// What one reconcile run found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileReport {
    pub at: Option<Timestamp>,
    pub dry_run: bool,
    /// Assignment rows of managed permission sets in AWS.
    pub assignments: usize,
    /// Leases running.
    pub leases: usize,
    pub orphans: usize,
    pub missing: usize,
    /// Orphans whose AWS listing has duplicate rows.
    pub duplicates: usize,
    /// Findings handed to their lease for repair.
    pub repairs_requested: usize,
    pub drift: Vec<Drift>,
    pub unknown_permission_sets: Vec<String>,
    /// Accounts whose cut-off policies held expired statements (see [`Scan::stale_cutoffs`]).
    #[serde(default)]
    pub stale_cutoffs: Vec<String>,
    /// Set when the scan could not be done.
    pub error: Option<String>,
}
