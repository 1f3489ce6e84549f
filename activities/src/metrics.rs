//! What the activities report for jit's metrics, to an [`ActivityMetrics`] the worker supplies
//! (workflows cannot record metrics: they replay; the activities that do the work can).

use std::time::Duration;

/// Where the activities' measurements go.
pub trait ActivityMetrics: Send + Sync + std::fmt::Debug {
    /// A ticket's release confirmed its assignment gone `lag` after the access should have
    /// ended (its expiry, or the moment it decided to end early).
    fn revoked(&self, lag: Duration);
    /// A ticket's access is in place: it waited `approval_wait` for approval, and access came
    /// `to_active` after the approval (or the scheduled start, if later).
    fn granted(&self, approval_wait: Duration, to_active: Duration);
    /// A reconcile scan found `orphans` and `missing` assignments.
    fn reconciled(&self, orphans: usize, missing: usize);
    /// One chat delivery (a post or an update) on `channel` (`slack`, `teams`).
    fn chat_delivery(&self, channel: &'static str, ok: bool);
}

/// Measures nothing: a worker without a metrics endpoint.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMetrics;

impl ActivityMetrics for NoMetrics {
    fn revoked(&self, _: Duration) {}
    fn granted(&self, _: Duration, _: Duration) {}
    fn reconciled(&self, _: usize, _: usize) {}
    fn chat_delivery(&self, _: &'static str, _: bool) {}
}

/// The lag from `due` to `now`; zero when `now` is earlier (clocks of different machines).
pub fn lag(due: jiff::Timestamp, now: jiff::Timestamp) -> Duration {
    Duration::try_from(now.duration_since(due)).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_never_negative() {
        let due: jiff::Timestamp = "2026-12-04T10:00:00Z".parse().unwrap();
        let later: jiff::Timestamp = "2026-12-04T10:00:07.5Z".parse().unwrap();
        assert_eq!(lag(due, later), Duration::from_millis(7500));
        assert_eq!(lag(later, due), Duration::ZERO);
    }
}
