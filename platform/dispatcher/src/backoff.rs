//! Exponential backoff with full jitter between delivery attempts.
//!
//! Full jitter (a uniformly random wait between zero and the exponential ceiling) spreads the
//! retries of many partitions that failed at the same moment — e.g. when a function restarts —
//! instead of hitting it again in lock-step.

use std::time::Duration;

use rand::Rng;

/// How often and how patiently a record is retried before it is dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The ceiling of the first wait; it doubles with every further attempt.
    pub base: Duration,
    /// No wait is longer than this.
    pub cap: Duration,
    /// Deliveries per record, the first one included (at least 1).
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(10),
            max_attempts: 8,
        }
    }
}

impl RetryPolicy {
    /// The longest wait after the `attempt`-th failed attempt (1-based): `min(cap, base·2^(attempt−1))`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.base.saturating_mul(1u32 << doublings).min(self.cap)
    }

    /// A random wait in `[0, ceiling(attempt)]`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        if ceiling.is_zero() {
            return ceiling;
        }
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::rng().random_range(0..=nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_from_the_base_up_to_the_cap() {
        let policy = RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            max_attempts: 8,
        };
        let ceilings: Vec<_> = (1..=6)
            .map(|attempt| policy.ceiling(attempt).as_millis())
            .collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy.ceiling(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn every_delay_lies_between_zero_and_its_ceiling() {
        let policy = RetryPolicy::default();
        for attempt in 1..=12 {
            for _ in 0..200 {
                assert!(policy.delay(attempt) <= policy.ceiling(attempt));
            }
        }
    }

    #[test]
    fn a_zero_base_never_waits() {
        let policy = RetryPolicy {
            base: Duration::ZERO,
            cap: Duration::from_secs(1),
            max_attempts: 3,
        };
        assert_eq!(policy.delay(3), Duration::ZERO);
    }
}
