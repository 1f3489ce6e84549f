//! `AssignmentLease` (id [`lease_id`](jit_domain::lease::lease_id)): the one owner of a real
//! account assignment. Tickets *acquire* and *release* it through the `acquire_lease` /
//! `release_lease` activities: a lean lease's first holder starts it with its acquire in the
//! input ([`LeaseInput::first`](jit_domain::LeaseInput)), later ones send [`Acquire`] (with
//! start); a last holder told to delete confirms with [`Deleted`]. Classic leases (runs from
//! before lean leases) were granted permits by the governor ([`Permit`]). The reconciler hands
//! any lease its findings ([`Reconcile`]).

use jit_domain::{Acquired, Finding, LeaseCall, LeaseInput, LeaseState, LeaseStatus, Released};
use serde::{Deserialize, Serialize};

workflow!(
    /// The lease workflow; its result is its last state.
    Workflow = "AssignmentLease", LeaseInput => LeaseState
);

update!(
    /// Hold the lease. Lean: answers at once what the caller must do (create, share, or
    /// confirm standing access). Classic: answers once access is in place.
    Acquire on Workflow = "acquire", LeaseCall => Acquired
);
update!(
    /// Leave the lease. Lean: answers at once (kept, standing, or delete it). Classic:
    /// answers once the assignment is deleted (last holder) or kept.
    Release on Workflow = "release", LeaseCall => Released
);
signal!(
    /// Lean: the last holder deleted the assignment, as told, and confirmed it gone (the
    /// holder's workflow id).
    Deleted on Workflow = "deleted", String
);
signal!(
    /// The governor grants the permit for operation `op`.
    Permit on Workflow = "permit", String
);
signal!(
    /// The reconciler found this assignment out of place.
    Reconcile on Workflow = "reconcile", Finding
);
query!(
    /// The assignment, its holders, who owns it, and what the lease did lately.
    State on Workflow = "state", LeaseStatus
);

/// The task queue of the lease calls (activities that wait for a lease's answer): their
/// own queue and slots, so waiting calls can never starve the activities doing the work.
pub fn call_queue(task_queue: &str) -> String {
    format!("{task_queue}-leases")
}

/// A lease's answer to a ticket, with when it came: the ticket's access starts then. (The
/// workflow's own clock can be stale right after an activity result that arrives in a task
/// after a worker restart; an activity's result is the same live and on replay.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    pub acquired: Acquired,
    pub at: jiff::Timestamp,
}
