//! What a relay is doing, shared between its tasks and its `/healthz` and `/readyz`, and
//! mirrored in metrics an alert can watch (docs/adr/0025):
//!
//! - `outbox_relay_state{state}`: 1 for the state the relay is in, 0 for the others;
//! - `outbox_relay_up`: 1 while the relay is [ready](StatusSnapshot::is_ready), else 0;
//! - `outbox_relay_last_error_timestamp_seconds` and `outbox_relay_errors_total{kind}`.

use std::sync::Mutex;

use crate::error::RelayError;

/// What `/healthz` and the metrics report, shared with the running tasks.
#[derive(Debug, Default)]
pub struct RelayStatus {
    inner: Mutex<StatusSnapshot>,
}

/// One reading of [`RelayStatus`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusSnapshot {
    /// What the relay is doing: see [`RelayState`].
    pub state: RelayState,
    /// Where the reader stands (last committed transaction read).
    pub read_position: String,
    /// The last position whose events were all acknowledged by Kafka.
    pub delivered_position: String,
    /// The last position written to the position store.
    pub stored_position: String,
    /// The server's binlog position when this relay started; it is caught up once everything
    /// up to it was delivered.
    pub start_target: String,
    /// Everything committed before the relay started has been delivered.
    pub caught_up: bool,
    /// Events read from the binlog and not yet acknowledged: the lag in events.
    pub events_in_flight: u64,
    /// From the last delivered event's `occurred_at` to its acknowledgement.
    pub lag_ms: u64,
    pub events_published: u64,
    /// The transaction the reader was in when it last failed, if it was in one.
    pub failed_transaction: Option<String>,
    /// The last error, transient or not; kept after recovery, with its time.
    pub last_error: Option<LastError>,
}

impl StatusSnapshot {
    /// Ready: relaying, and everything committed before the relay started is in Kafka. A
    /// relay that starts in front of a transaction it cannot pass never gets there, so it is
    /// never reported ready, however briefly it seemed to run.
    pub fn is_ready(&self) -> bool {
        self.state == RelayState::Relaying && self.caught_up
    }
}

/// The last error a relay met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    /// [`RelayError::kind`].
    pub kind: &'static str,
    pub message: String,
    /// The transaction being read when it happened, if any.
    pub transaction: Option<String>,
    /// Whether only an operator can get the relay past it (see [`RelayError::is_transient`]).
    pub needs_operator: bool,
    /// Seconds since the epoch.
    pub at: i64,
}

/// What a relay process is doing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RelayState {
    #[default]
    Starting,
    /// Another relay with the same name holds the lock; this one is the standby.
    WaitingForLock,
    Relaying,
    /// A connection was lost; it starts again from the stored position after a pause.
    Reconnecting,
    /// Stopped on a problem that needs an operator; the last error says which. The process
    /// stays up to say so, and starts again once an operator moved the stored position.
    Failed,
}

impl RelayState {
    pub const ALL: [RelayState; 5] = [
        Self::Starting,
        Self::WaitingForLock,
        Self::Relaying,
        Self::Reconnecting,
        Self::Failed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::WaitingForLock => "waiting-for-lock",
            Self::Relaying => "relaying",
            Self::Reconnecting => "reconnecting",
            Self::Failed => "failed",
        }
    }
}

impl RelayStatus {
    pub fn set_state(&self, state: RelayState) {
        self.update(|status| status.state = state);
        for candidate in RelayState::ALL {
            let value = if candidate == state { 1.0 } else { 0.0 };
            metrics::gauge!("outbox_relay_state", "state" => candidate.label()).set(value);
        }
        self.publish_readiness();
    }

    /// Records whether everything committed before the start has been delivered.
    pub(crate) fn set_caught_up(&self, caught_up: bool) {
        self.update(|status| status.caught_up = caught_up);
        self.publish_readiness();
    }

    /// Records an error the relay stopped on, and the transaction it was reading then.
    pub fn record_error(&self, error: &RelayError) {
        let at = chrono::Utc::now().timestamp();
        self.update(|status| {
            status.last_error = Some(LastError {
                kind: error.kind(),
                message: error.to_string(),
                transaction: status.failed_transaction.clone(),
                needs_operator: !error.is_transient(),
                at,
            });
        });
        metrics::gauge!("outbox_relay_last_error_timestamp_seconds").set(at as f64);
        metrics::counter!("outbox_relay_errors_total", "kind" => error.kind()).increment(1);
    }

    pub fn snapshot(&self) -> StatusSnapshot {
        self.inner.lock().map(|status| status.clone()).unwrap_or_default()
    }

    pub(crate) fn update(&self, change: impl FnOnce(&mut StatusSnapshot)) {
        if let Ok(mut status) = self.inner.lock() {
            change(&mut status);
        }
    }

    fn publish_readiness(&self) {
        let up = if self.snapshot().is_ready() { 1.0 } else { 0.0 };
        metrics::gauge!("outbox_relay_up").set(up);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relay_is_ready_only_when_relaying_and_caught_up() {
        let status = RelayStatus::default();
        status.set_state(RelayState::Relaying);
        assert!(!status.snapshot().is_ready(), "not caught up yet");
        status.set_caught_up(true);
        assert!(status.snapshot().is_ready());
        status.set_state(RelayState::Failed);
        assert!(!status.snapshot().is_ready());
    }

    #[test]
    fn the_last_error_names_the_transaction_and_whether_an_operator_is_needed() {
        let status = RelayStatus::default();
        status.update(|snapshot| snapshot.failed_transaction = Some("0-1-42".to_owned()));
        status.record_error(&RelayError::CompressedEvent {
            event_type: 169,
            log_pos: 4,
        });
        let last = status.snapshot().last_error.expect("an error");
        assert_eq!(last.kind, "compressed-event");
        assert_eq!(last.transaction.as_deref(), Some("0-1-42"));
        assert!(last.needs_operator);
        assert!(last.at > 0);
    }
}
