//! What a relay is doing, shared between its tasks and its `/healthz`, and mirrored in
//! metrics.

use std::sync::Mutex;

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
    /// Events read from the binlog and not yet acknowledged: the lag in events.
    pub events_in_flight: u64,
    /// From the last delivered event's `occurred_at` to its acknowledgement.
    pub lag_ms: u64,
    pub events_published: u64,
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
    /// Stopped on a problem that needs an operator (the log says which).
    Failed,
}

impl RelayState {
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
        for candidate in [
            RelayState::Starting,
            RelayState::WaitingForLock,
            RelayState::Relaying,
            RelayState::Reconnecting,
            RelayState::Failed,
        ] {
            let value = if candidate == state { 1.0 } else { 0.0 };
            metrics::gauge!("outbox_relay_state", "state" => candidate.label()).set(value);
        }
    }

    pub fn snapshot(&self) -> StatusSnapshot {
        self.inner.lock().map(|status| status.clone()).unwrap_or_default()
    }

    pub(crate) fn update(&self, change: impl FnOnce(&mut StatusSnapshot)) {
        if let Ok(mut status) = self.inner.lock() {
            change(&mut status);
        }
    }
}
