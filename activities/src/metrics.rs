//! What the activities report for jit's metrics, to an [`ActivityMetrics`] the worker supplies
//! (workflows cannot record metrics: they replay; the activities that do the work can).

use std::time::Duration;

/// Where the activities' measurements go.
pub trait ActivityMetrics: Send + Sync + std::fmt::Debug {
    /// A ticket's release confirmed its assignment gone `lag` after the access should have
    /// ended (its expiry, or the moment it decided to end early).
    fn revoked(&self, lag: Duration);
}

/// Measures nothing: a worker without a metrics endpoint.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMetrics;

impl ActivityMetrics for NoMetrics {
    fn revoked(&self, _: Duration) {}
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
