//! Activity options, retry policies and the small helpers every workflow shares.

use std::time::{Duration, SystemTime};

use jiff::Timestamp;
use temporalio_common::RetryPolicy;
use temporalio_sdk::{
    ActivityExecutionError, ActivityOptions, LocalActivityOptions, WorkflowCancellationToken,
};

pub(crate) fn to_timestamp(t: Option<SystemTime>) -> Timestamp {
    t.and_then(|t| Timestamp::try_from(t).ok())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The message of an activity failure, from the innermost cause (AWS's words).
pub(crate) fn failure_message(e: &ActivityExecutionError) -> String {
    let Some(mut f) = e.failure() else {
        return e.to_string();
    };
    while let Some(cause) = f.cause.as_deref() {
        f = cause;
    }
    f.message.clone()
}

pub(crate) fn retry(max_attempts: u32, max_interval: Duration) -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(Duration::from_millis(500))
        .backoff_coefficient(2.0)
        .maximum_interval(max_interval)
        .maximum_attempts(max_attempts)
        .build()
}

/// Look-ups: short, read-only, run as local activities (one marker event, no round trip).
pub(crate) fn lookup_options(summary: &str) -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .start_to_close_timeout(Duration::from_secs(30))
        .retry_policy(retry(8, Duration::from_secs(10)))
        .summary(summary.to_owned())
        .build()
}

/// Grant: bounded retries, then the ticket fails and unwinds. Heartbeats every second, so a
/// dead worker is noticed within the heartbeat timeout.
pub(crate) fn grant_options(what: &str) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(600))
        .heartbeat_timeout(Duration::from_secs(5))
        .retry_policy(retry(12, Duration::from_secs(30)))
        .summary(format!("create {what}"))
        .build()
}

/// Revoke: retries forever and ignores workflow cancellation: never abandoned.
pub(crate) fn revoke_options(what: &str) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(600))
        .heartbeat_timeout(Duration::from_secs(5))
        .retry_policy(retry(0, Duration::from_secs(60)))
        .cancellation_token(WorkflowCancellationToken::new())
        .summary(format!("delete {what}"))
        .build()
}

/// Acquire / release a lease: the activity waits for the lease's answer (which may wait for
/// a governor permit under a burst), heartbeating; a retry attaches to the same update.
/// Release retries forever and ignores cancellation: never abandoned.
pub(crate) fn lease_options(task_queue: &str, what: &str, release: bool) -> ActivityOptions {
    let b = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(3600))
        .task_queue(jit_contract::lease::call_queue(task_queue))
        .heartbeat_timeout(Duration::from_secs(10))
        .summary(what.to_owned());
    if release {
        b.retry_policy(retry(0, Duration::from_secs(30)))
            .cancellation_token(WorkflowCancellationToken::new())
            .build()
    } else {
        b.retry_policy(retry(20, Duration::from_secs(30))).build()
    }
}

/// Short activities of leases and the governor (ordinary ones: local activities proved
/// fragile in replay after worker restarts, see `FEATURES_AT_START` in the ticket workflow).
pub(crate) fn short_options(summary: &str) -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30))
        .retry_policy(retry(10, Duration::from_secs(5)))
        .summary(summary.to_owned())
        .build()
}
