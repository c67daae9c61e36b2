//! Keeps a relay running across lost connections.
//!
//! A relay that loses MariaDB (a restart, a failover) or gives up on Kafka (a delivery that
//! timed out) stops after storing what was delivered; the supervisor starts a new one from
//! that stored position after a pause that doubles on each failure in a row (with jitter, up
//! to 30 s) and resets once a relay ran for a while. Anything that is not a lost connection —
//! a wrong setting, DDL on an outbox, an unknown event — needs an operator, because starting
//! again would meet the same problem. The supervisor then keeps the process up in the
//! `failed` state, so `/healthz`, `/readyz` and the metrics say why, and waits: it starts
//! the relay again as soon as the stored position moves (an operator's `outbox-relay skip`
//! or `republish`, docs/adr/0026), and otherwise only when the process is restarted
//! (docs/adr/0025).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::RelayError;
use crate::position::PositionStore;
use crate::{Relay, RelayConfig, RelayState, RelayStatus};

/// The first pause after a failure.
const FIRST_PAUSE: Duration = Duration::from_millis(500);
/// The longest pause.
const LONGEST_PAUSE: Duration = Duration::from_secs(30);
/// A relay that ran this long before failing starts over from the first pause.
const HEALTHY_RUN: Duration = Duration::from_secs(60);
/// How often a failed relay looks whether an operator moved its stored position.
const OPERATOR_POLL: Duration = Duration::from_secs(1);

/// Runs relays until `shutdown` completes, then stops the running one cleanly. A relay that
/// fails on something reconnecting cannot cure waits for an operator (see the module docs);
/// if the shutdown comes while it waits, that failure is returned.
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
        status.record_error(&error);
        if !error.is_transient() {
            // Read before the state says `failed`, so an operator who acts on that state
            // cannot move the position before the relay knows where it stood.
            let mut store = StoredPosition::new(&config);
            let at_failure = store.read().await;
            status.set_state(RelayState::Failed);
            let transaction = status.snapshot().failed_transaction;
            tracing::error!(
                error = %error,
                transaction = transaction.as_deref().unwrap_or("none"),
                "The relay stopped on a problem that needs an operator; it starts again when its \
                 stored position moves (outbox-relay skip or republish) or when it is restarted."
            );
            tokio::select! {
                () = store.moves_from(at_failure) => {
                    tracing::info!("The stored position moved; starting the relay again.");
                    failures_in_a_row = 0;
                    continue;
                }
                () = &mut shutdown => return Err(error),
            }
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

/// The relay's stored position, read again and again while a failed relay waits.
struct StoredPosition<'a> {
    config: &'a RelayConfig,
    store: Option<PositionStore>,
}

impl<'a> StoredPosition<'a> {
    fn new(config: &'a RelayConfig) -> Self {
        Self { config, store: None }
    }

    /// The stored position (`Some(None)` when there is none), or `None` when it cannot be
    /// read now (MariaDB unreachable).
    async fn read(&mut self) -> Option<Option<String>> {
        if self.store.is_none() {
            self.store = PositionStore::connect(&self.config.position_store_url, &self.config.name)
                .await
                .ok();
        }
        let store = self.store.as_ref()?;
        match store.load().await {
            Ok(position) => Some(position.map(|position| position.to_string())),
            Err(error) => {
                tracing::debug!(%error, "Cannot read the stored position; trying again.");
                store.close().await;
                self.store = None;
                None
            }
        }
    }

    /// Completes when the stored position differs from `before` (when `before` is unknown,
    /// from the first reading that succeeds).
    async fn moves_from(&mut self, mut before: Option<Option<String>>) {
        loop {
            tokio::time::sleep(OPERATOR_POLL).await;
            let Some(now) = self.read().await else { continue };
            match &before {
                Some(earlier) if *earlier != now => break,
                Some(_) => {}
                None => before = Some(now),
            }
        }
        if let Some(store) = self.store.take() {
            store.close().await;
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
