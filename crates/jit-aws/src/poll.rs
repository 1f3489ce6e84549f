//! The polling schedule for asynchronous assignment operations: fast at first (most answers
//! come within tens of milliseconds), then backing off, and bounded. The delays are
//! `backon`'s exponential backoff (no jitter: a poll is one request of one operation).

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

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
    /// The delays before each poll: doubling from `first`, capped at `max_interval`, endless
    /// (the caller stops at `bound`).
    pub fn delays(&self) -> impl Iterator<Item = Duration> + use<> {
        let max = self.max_interval;
        ExponentialBuilder::default()
            .with_min_delay(self.first)
            .with_factor(2.0)
            .with_max_delay(max)
            .without_max_times()
            .build()
            .chain(std::iter::repeat(max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_first_then_backing_off_then_capped() {
        let s = PollSchedule::default();
        let d: Vec<Duration> = s.delays().take(1000).collect();
        // Milliseconds, rounded (the backoff computes in floating point).
        let ms = |i: usize| (d[i].as_secs_f64() * 1000.0).round() as u64;
        assert_eq!(
            [ms(0), ms(1), ms(4), ms(8), ms(999)],
            [20, 40, 320, 5000, 5000]
        );
        let total: Duration = d[..100].iter().sum();
        assert!(total > s.bound, "100 polls outlast the bound");
    }
}
