//! A relay's life: [`Relay::start`] takes the lock, checks the server, finds the position to
//! resume from and opens the stream, then runs the pipeline (`pipeline.rs`) in a task; the
//! returned handle stops it cleanly or reports why it stopped on its own.

use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::binlog::{self, StreamSettings};
use crate::config::RelayConfig;
use crate::error::RelayError;
use crate::lock::RelayLock;
use crate::pipeline::{BinlogSource, Pipeline};
use crate::position::PositionStore;
use crate::publisher::Publisher;
use crate::status::{RelayState, RelayStatus};

/// A running relay.
#[derive(Debug)]
pub struct Relay {
    status: Arc<RelayStatus>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), RelayError>>,
}

impl Relay {
    /// Checks the server, finds the position to resume from, opens the binlog stream and
    /// starts relaying. When it returns, every transaction committed after the starting
    /// position will be published.
    pub async fn start(config: RelayConfig) -> Result<Self, RelayError> {
        Self::start_reporting(config, Arc::new(RelayStatus::default())).await
    }

    /// [`Relay::start`], reporting into `status` from the first step, so a relay that waits
    /// for the lock of an active one says so on `/healthz`.
    pub async fn start_reporting(config: RelayConfig, status: Arc<RelayStatus>) -> Result<Self, RelayError> {
        status.update(|status| {
            status.caught_up = false;
            status.failed_transaction = None;
        });
        status.set_state(RelayState::Starting);
        let lock = RelayLock::acquire(&config.position_store_url, &config.name, || {
            status.set_state(RelayState::WaitingForLock);
        })
        .await?;
        status.set_state(RelayState::Starting);
        crate::preflight::check(&config.cdc_url).await?;
        let store = PositionStore::connect(&config.position_store_url, &config.name).await?;
        let position = match store.load().await? {
            Some(position) => {
                tracing::info!(relay = %config.name, position = %position, "Resuming from the stored position.");
                position
            }
            None => {
                let position = binlog::current_position(&config.cdc_url).await?;
                tracing::warn!(
                    relay = %config.name,
                    position = %position,
                    "No stored position: starting at the server's current binlog position; \
                     outbox rows committed before it are not published."
                );
                // Stored at once, so a relay stopped before its first delivery resumes here
                // rather than at a later current position, past rows committed meanwhile.
                store.save(&position, "", 0).await?;
                position
            }
        };
        let settings = StreamSettings {
            url: config.cdc_url.clone(),
            server_id: config.server_id,
            heartbeat: config.heartbeat,
        };
        let stream = binlog::open(&settings, &position).await?;
        // Read after the stream is open, so it includes everything the stream will return
        // first; the relay is ready once it delivered up to here (`/readyz`).
        let start_target = binlog::current_position(&config.cdc_url).await?;
        let publisher = Publisher::new(&config.kafka_bootstrap_servers, config.linger)?;

        status.update(|status| {
            status.read_position = position.to_string();
            status.delivered_position = position.to_string();
            status.stored_position = position.to_string();
            status.start_target = start_target.to_string();
            status.events_in_flight = 0;
        });
        status.set_state(RelayState::Relaying);
        status.set_caught_up(position.covers(&start_target));
        let pipeline = Pipeline {
            config,
            lock,
            source: BinlogSource {
                stream,
                position,
                start_target,
            },
            publisher,
            store,
            status: Arc::clone(&status),
        };
        let (shutdown, shutdown_requested) = oneshot::channel();
        let task = tokio::spawn(pipeline.run(shutdown_requested));
        Ok(Self {
            status,
            shutdown: Some(shutdown),
            task,
        })
    }

    pub fn status(&self) -> Arc<RelayStatus> {
        Arc::clone(&self.status)
    }

    /// Completes when the relay stops on its own, which is always an error.
    pub async fn failed(&mut self) -> RelayError {
        match (&mut self.task).await {
            Ok(Ok(())) => RelayError::StreamEnded,
            Ok(Err(error)) => error,
            Err(error) => RelayError::Unexpected(anyhow::anyhow!("the relay task panicked: {error}")),
        }
    }

    /// Stops reading, waits for the outstanding delivery reports and stores the final position.
    pub async fn stop(mut self) -> Result<(), RelayError> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match (&mut self.task).await {
            Ok(outcome) => outcome,
            Err(error) => Err(RelayError::Unexpected(anyhow::anyhow!(
                "the relay task panicked: {error}"
            ))),
        }
    }
}
