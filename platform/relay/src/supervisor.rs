//! Keeps a relay running across lost connections.
//!
//! A relay that loses MariaDB (a restart, a failover) or gives up on Kafka (a delivery that
//! timed out) stops after storing what was delivered; the supervisor starts a new one from
//! that stored position after a pause that doubles on each failure in a row (with jitter, up
//! to 30 s) and resets once a relay ran for a while. Anything that is not a lost connection —
//! a wrong setting, DDL on an outbox, an unknown event — ends the process instead, because
//! starting again would meet the same problem.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::RelayError;
use crate::{Relay, RelayConfig, RelayState, RelayStatus};

/// The first pause after a failure.
const FIRST_PAUSE: Duration = Duration::from_millis(500);
/// The longest pause.
const LONGEST_PAUSE: Duration = Duration::from_secs(30);
/// A relay that ran this long before failing starts over from the first pause.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// Runs relays until `shutdown` completes (then stops the running one cleanly) or a relay
/// fails on something reconnecting cannot cure.
pub async fn run(
    config: RelayConfig,
    status: Arc<RelayStatus>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RelayError> {
    tokio::pin!(shutdown);
    let mut failures_in_a_row: u32 = 0;
    loop {
        let started_at = Instant::now();
        let started = tokio::select! {
            started = Relay::start_reporting(config.clone(), Arc::clone(&status)) => started,
            () = &mut shutdown => return Ok(()),
        };
        let error = match started {
            Ok(mut relay) => tokio::select! {
                error = relay.failed() => error,
                () = &mut shutdown => return relay.stop().await,
            },
            Err(error) => error,
        };
        if !error.is_transient() {
            status.set_state(RelayState::Failed);
            tracing::error!(error = %error, "The relay stopped on a problem that needs an operator.");
            return Err(error);
        }
        if started_at.elapsed() >= HEALTHY_RUN {
            failures_in_a_row = 0;
        }
        let pause = pause_after(failures_in_a_row);
        failures_in_a_row = failures_in_a_row.saturating_add(1);
        status.set_state(RelayState::Reconnecting);
        metrics::counter!("outbox_relay_restarts_total").increment(1);
        tracing::warn!(
            error = %error,
            pause_ms = pause.as_millis() as u64,
            attempt = failures_in_a_row,
            "The relay lost a connection; starting again from the stored position after a pause."
        );
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = &mut shutdown => return Ok(()),
        }
    }
}

/// The pause after `failures` failures in a row: doubling from [`FIRST_PAUSE`] up to
/// [`LONGEST_PAUSE`], less up to a quarter at random so a fleet does not reconnect in step.
fn pause_after(failures: u32) -> Duration {
    let full = FIRST_PAUSE
        .saturating_mul(2_u32.saturating_pow(failures.min(16)))
        .min(LONGEST_PAUSE);
    let jitter = rand::random_range(0.0..0.25);
    full.mul_f64(1.0 - jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_longest_and_keep_some_jitter() {
        for failures in 0..40 {
            let pause = pause_after(failures);
            let full = FIRST_PAUSE
                .saturating_mul(2_u32.saturating_pow(failures.min(16)))
                .min(LONGEST_PAUSE);
            assert!(
                pause <= full && pause >= full.mul_f64(0.75),
                "{failures}: {pause:?}"
            );
        }
        assert!(pause_after(0) <= FIRST_PAUSE);
        assert!(pause_after(30) >= LONGEST_PAUSE.mul_f64(0.75));
    }
}
