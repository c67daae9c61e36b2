//! Waiting for a state by polling with a deadline.
//!
//! A test that sleeps "long enough" is either slow on a quiet machine or wrong on a busy one.
//! These helpers ask again every `interval` and give up only at the deadline, so they return
//! as soon as the state is there however loaded the machine is.

use std::future::Future;
use std::time::{Duration, Instant};

/// How long to keep asking, and how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Polling {
    deadline: Duration,
    interval: Duration,
}

impl Polling {
    pub const fn new(deadline: Duration, interval: Duration) -> Self {
        Self { deadline, interval }
    }

    /// Reads `probe` until `done` holds for a reading or the deadline passes, and returns the
    /// last reading either way, so the caller's assertion says what was expected and what was
    /// seen.
    pub async fn until<T, F, Fut>(self, mut probe: F, done: impl Fn(&T) -> bool) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = T>,
    {
        let started = Instant::now();
        loop {
            let reading = probe().await;
            if done(&reading) || started.elapsed() > self.deadline {
                return reading;
            }
            tokio::time::sleep(self.interval).await;
        }
    }

    /// Asks `check` until it answers true.
    ///
    /// # Panics
    /// When `check` still answers false at the deadline, naming `what` did not happen.
    pub async fn eventually<F, Fut>(self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let started = Instant::now();
        while !check().await {
            assert!(
                started.elapsed() < self.deadline,
                "{what} did not happen within {:?}",
                self.deadline
            );
            tokio::time::sleep(self.interval).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    const QUICK: Polling = Polling::new(Duration::from_secs(5), Duration::from_millis(1));

    #[tokio::test]
    async fn until_returns_the_first_reading_that_is_done() {
        let asked = AtomicU32::new(0);
        let reading = QUICK
            .until(
                || async { asked.fetch_add(1, Ordering::Relaxed) + 1 },
                |count| *count == 3,
            )
            .await;
        assert_eq!(reading, 3);
    }

    #[tokio::test]
    async fn until_returns_the_last_reading_at_the_deadline() {
        let never = Polling::new(Duration::from_millis(20), Duration::from_millis(1));
        let reading = never.until(|| async { "still placed" }, |_| false).await;
        assert_eq!(reading, "still placed");
    }

    #[tokio::test]
    async fn eventually_returns_once_the_check_holds() {
        let asked = AtomicU32::new(0);
        QUICK
            .eventually("the third answer", || async {
                asked.fetch_add(1, Ordering::Relaxed) >= 2
            })
            .await;
        assert_eq!(asked.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    #[should_panic(expected = "the impossible did not happen within")]
    async fn eventually_names_what_did_not_happen() {
        let never = Polling::new(Duration::from_millis(20), Duration::from_millis(1));
        never.eventually("the impossible", || async { false }).await;
    }
}
