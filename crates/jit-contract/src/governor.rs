//! `AwsGovernor` (id [`governor_id`](jit_domain::lease::governor_id), one per task queue):
//! permits for asynchronous Identity Center operations, fleet-wide. Leases ask by signal
//! ([`Request`], through the `request_permit` activity, which starts the governor if needed)
//! and give back ([`Release`]); the governor answers with the lease's
//! [`Permit`](crate::lease::Permit) signal.

use jit_domain::{Governor, PermitRelease, PermitRequest};

workflow!(
    /// The governor workflow; its input is its state (a fresh one, or carried over).
    Workflow = "AwsGovernor", Governor => ()
);
signal!(
    /// A lease asks for a permit (idempotent per op).
    Request on Workflow = "request", PermitRequest
);
signal!(
    /// A lease returns its permit.
    Release on Workflow = "release", PermitRelease
);
query!(
    /// Limit, permits held, requests waiting, totals.
    State on Workflow = "state", Governor
);
