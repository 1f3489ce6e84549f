//! The polling schedule for asynchronous assignment operations: fast at first (most answers
//! come within tens of milliseconds), then backing off, and bounded.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollSchedule {
    /// Delay before the first status poll.
    pub first: Duration,
    /// Longest delay between two polls.
    pub max_interval: Duration,
    /// Give up (as retryable) after polling this long.
    pub bound: Duration,
    /// A fresh request id may be unknown to the status API for a short while.
    pub not_found_grace: Duration,
}

impl Default for PollSchedule {
    fn default() -> Self {
        Self {
            first: Duration::from_millis(20),
            max_interval: Duration::from_secs(5),
            bound: Duration::from_secs(300),
            not_found_grace: Duration::from_secs(10),
        }
    }
}

impl PollSchedule {
    /// Delay before poll number `attempt` (0-based): doubling from `first`, capped.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        self.first.saturating_mul(factor).min(self.max_interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_first_then_backing_off_then_capped() {
        let s = PollSchedule::default();
        assert_eq!(s.delay(0), Duration::from_millis(20));
        assert_eq!(s.delay(1), Duration::from_millis(40));
        assert_eq!(s.delay(4), Duration::from_millis(320));
        assert_eq!(s.delay(8), Duration::from_secs(5));
        assert_eq!(s.delay(1000), Duration::from_secs(5));
        let total: Duration = (0..100).map(|a| s.delay(a)).sum();
        assert!(total > s.bound, "100 polls outlast the bound");
    }
}
