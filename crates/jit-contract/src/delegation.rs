//! `DelegationWorkflow` (id `delegation-<user>`): one approver's standing delegations, e.g.
//! for a holiday. The `evaluate` activity reads them ([`Delegations`]) for every new ticket.

use jiff::Timestamp;
use jit_domain::{DelegationEntity, StandingDelegation, UserName};
use serde::{Deserialize, Serialize};

workflow!(
    /// The entity runs until `clear`, continuing as new when its history grows.
    Workflow = "DelegationWorkflow", DelegationEntity => ()
);
update!(
    /// Sets (or replaces) a delegation.
    Set on Workflow = "set", SetDelegation => ()
);
update!(
    /// Ends every delegation now, and the entity with them.
    Clear on Workflow = "clear", () => ()
);
query!(
    /// The standing delegations (expired ones included until pruned).
    Delegations on Workflow = "delegations", Vec<StandingDelegation>
);

/// Hand my approvals to `to` until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetDelegation {
    pub to: UserName,
    pub until: Timestamp,
    #[serde(default)]
    pub reason: Option<String>,
}
