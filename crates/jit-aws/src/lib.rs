//! The only crate that knows the AWS SDK.
//!
//! - [`IdentityCenter`] (in [`identity_center`]): create and delete account assignments —
//!   check first, poll the asynchronous status on a [`PollSchedule`] that is fast at first and
//!   backs off, then verify by listing; resolve user, account and permission-set names.
//! - [`error`]: every failure classified as retryable (throttling, 5xx, conflict, network,
//!   still in progress), not found, or final (validation, access denied, FAILED with AWS's
//!   reason).
//! - [`rate`]: [`RateLimiter`], evenly spaced request slots; every Identity Center request
//!   of the process waits for one.
//! - [`ops`]: [`OpsLimiter`], this process's share of the outstanding asynchronous
//!   operations, one per account and permission set; every create and delete holds a permit.
//! - [`metrics`]: [`AwsMetrics`], told of every request attempt (service, operation,
//!   [`Outcome`], latency) by an SDK interceptor, and of every rate-limiter wait.
//! - S3 (the organization trail's log files, the audit bucket) and Organizations (jit's
//!   session cut-off policies on an account) are methods of [`IdentityCenter`] too.
//! - [`sandbox`]: seeding an empty Identity Center (moto) from `temporal-dev.yaml`.

pub mod error;
pub mod identity_center;
pub mod metrics;
pub mod ops;
pub mod poll;
pub mod rate;
pub mod sandbox;

pub use error::{AwsError, RetryKind};
pub use identity_center::{
    AwsSettings, CutoffPolicy, IdentityCenter, Instance, NoProgress, OUTSTANDING_OPERATIONS,
    Object, Progress, Retention, cutoff_policy_name,
};
pub use metrics::{AwsMetrics, Outcome};
pub use ops::{OpPermit, OpsLimiter, OpsState};
pub use poll::PollSchedule;
pub use rate::RateLimiter;
pub use sandbox::SeedReport;
