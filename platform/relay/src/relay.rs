//! The pipeline: one reader task (binlog → transactions → producer) and one committer task
//! (delivery reports → stored position), joined by a bounded queue of pending transactions.
//!
//! The reader hands every record to the producer in commit order without waiting for
//! acknowledgements, so Kafka round trips overlap. The committer awaits the reports strictly
//! in that same order; a transaction's position becomes "delivered" only when its reports and
//! all earlier ones succeeded, and the delivered position is stored at most every
//! `flush_interval` or every `store_every_events` events, whichever comes first. At most
//! `max_events_in_flight` events wait for their reports, which is also the backpressure: while
//! Kafka is down the reader stops reading. After a crash the relay repeats at most what was in
//! flight or delivered since the last
//! store — duplicates, never gaps; consumers deduplicate on the event id.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::binlog::{self, OutboxTables, StreamSettings};
use crate::error::RelayError;
use crate::gtid::GtidPosition;
use crate::lock::RelayLock;
use crate::position::PositionStore;
use crate::publisher::{PendingDelivery, Publisher};
use crate::transaction::{Assembler, Committed};

/// Everything the relay needs to run.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The CDC account: streams the binlog and runs the preflight.
    pub cdc_url: String,
    /// The account and schema of the position store (`relay.relay_position`).
    pub position_store_url: String,
    pub kafka_bootstrap_servers: String,
    /// The key of this relay's row in the position store.
    pub name: String,
    /// The replica server id for the binlog dump; unique among the server's replicas.
    pub server_id: u32,
    /// The schemas whose `outbox` table is published.
    pub schemas: Vec<String>,
    /// How often the delivered position is stored.
    pub flush_interval: Duration,
    /// How often the position is stored when only non-outbox transactions moved it. Longer
    /// than `flush_interval`, because storing it is itself a transaction in the binlog.
    pub idle_store_interval: Duration,
    /// The server's heartbeat period on a quiet binlog; three missed ones count as a dead link.
    pub heartbeat: Duration,
    /// How many transactions may wait for delivery reports before the reader pauses.
    pub max_pending_transactions: usize,
    /// How many events may wait for delivery reports before the reader pauses. Together with
    /// `store_every_events` it bounds what a crash publishes twice.
    pub max_events_in_flight: usize,
    /// The delivered position is stored after this many events even before `flush_interval`.
    pub store_every_events: u64,
    /// How long the producer waits to fill a batch (`linger.ms`): the relay's median latency
    /// at a moderate rate, traded against batch size under load.
    pub linger: Duration,
}

impl RelayConfig {
    /// The platform's defaults for everything but the addresses.
    pub fn new(cdc_url: String, position_store_url: String, kafka_bootstrap_servers: String) -> Self {
        Self {
            cdc_url,
            position_store_url,
            kafka_bootstrap_servers,
            name: "outbox-relay".to_owned(),
            server_id: 4_242,
            schemas: crate::CONTEXT_SCHEMAS
                .iter()
                .map(|schema| (*schema).to_owned())
                .collect(),
            flush_interval: Duration::from_millis(200),
            idle_store_interval: Duration::from_secs(10),
            heartbeat: Duration::from_secs(1),
            max_pending_transactions: 10_000,
            max_events_in_flight: 2_000,
            store_every_events: 1_000,
            linger: crate::publisher::DEFAULT_LINGER,
        }
    }
}

impl RelayConfig {
    /// From the environment: `CDC_DATABASE_URL`, `RELAY_DATABASE_URL` (the position store),
    /// `KAFKA_BOOTSTRAP_SERVERS`, and optionally `RELAY_NAME`, `RELAY_SERVER_ID`,
    /// `RELAY_SCHEMAS` (comma-separated; by default every context schema) and
    /// `RELAY_LINGER_MS` (the producer's `linger.ms`, default 1).
    pub fn from_env() -> anyhow::Result<Self> {
        let required = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.trim().is_empty())
                .ok_or_else(|| anyhow::anyhow!("the environment variable {name} is required but not set"))
        };
        let mut config = Self::new(
            required("CDC_DATABASE_URL")?,
            required("RELAY_DATABASE_URL")?,
            required("KAFKA_BOOTSTRAP_SERVERS")?,
        );
        if let Ok(name) = std::env::var("RELAY_NAME") {
            config.name = name;
        }
        if let Ok(schemas) = std::env::var("RELAY_SCHEMAS") {
            config.schemas = schemas
                .split(',')
                .map(str::trim)
                .filter(|schema| !schema.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(bad) = config.schemas.iter().find(|schema| !is_plain_identifier(schema)) {
            anyhow::bail!(
                "RELAY_SCHEMAS names {bad:?}, which is not a plain schema name (letters, digits, _)"
            );
        }
        if config.schemas.is_empty() {
            anyhow::bail!("RELAY_SCHEMAS names no schema");
        }
        let default_linger_ms = u64::try_from(config.linger.as_millis()).unwrap_or(u64::MAX);
        config.linger =
            Duration::from_millis(runtime::config::parsed_or("RELAY_LINGER_MS", default_linger_ms)?);
        if let Ok(server_id) = std::env::var("RELAY_SERVER_ID") {
            config.server_id = server_id
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("RELAY_SERVER_ID {server_id:?} is not a server id"))?;
        }
        Ok(config)
    }
}

fn is_plain_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

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

    fn update(&self, change: impl FnOnce(&mut StatusSnapshot)) {
        if let Ok(mut status) = self.inner.lock() {
            change(&mut status);
        }
    }
}

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
        let publisher = Publisher::new(&config.kafka_bootstrap_servers, config.linger)?;

        status.update(|status| {
            status.read_position = position.to_string();
            status.delivered_position = position.to_string();
            status.stored_position = position.to_string();
            status.events_in_flight = 0;
        });
        status.set_state(RelayState::Relaying);
        let (shutdown, shutdown_requested) = oneshot::channel();
        let task = tokio::spawn(run(
            config,
            lock,
            stream,
            position,
            publisher,
            store,
            Arc::clone(&status),
            shutdown_requested,
        ));
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

/// A transaction whose records are with the producer.
struct Pending {
    committed_position: GtidPosition,
    file: String,
    log_pos: u32,
    deliveries: Vec<PendingDelivery>,
    /// Its share of `max_events_in_flight`, given back once its reports are in.
    _in_flight: Option<tokio::sync::OwnedSemaphorePermit>,
    /// Schema and id of each of its rows, to purge once delivered.
    rows: Vec<(String, String)>,
    /// The newest `occurred_at` among its rows, for the lag.
    occurred_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[allow(clippy::too_many_arguments)]
async fn run(
    config: RelayConfig,
    lock: RelayLock,
    stream: mysql_async::BinlogStream,
    position: GtidPosition,
    publisher: Publisher,
    store: PositionStore,
    status: Arc<RelayStatus>,
    shutdown: oneshot::Receiver<()>,
) -> Result<(), RelayError> {
    let (pending_sender, pending_receiver) = mpsc::channel(config.max_pending_transactions);
    let committer = tokio::spawn(commit_loop(
        pending_receiver,
        store.clone(),
        position.clone(),
        config.clone(),
        Arc::clone(&status),
    ));
    // The lock is watched beside the reader; losing it stops the reader at once. The watcher
    // owns the lock's connection, so ending it (below) releases the lock.
    let (lock_lost_sender, lock_lost) = oneshot::channel();
    let lock_watcher = tokio::spawn(async move {
        let _ = lock_lost_sender.send(lock.lost().await);
    });
    let read_outcome = read_loop(
        &config,
        stream,
        position,
        &publisher,
        pending_sender,
        &status,
        shutdown,
        lock_lost,
    )
    .await;
    // The reader dropped its sender: the committer drains what was handed over and stores
    // the final position, also when the reader failed, so good work is not repeated.
    let commit_outcome = committer
        .await
        .map_err(|error| RelayError::Unexpected(anyhow::anyhow!("the committer panicked: {error}")))?;
    store.close().await;
    lock_watcher.abort();
    // The committer's error is the cause when the reader merely saw the queue close.
    commit_outcome.and(read_outcome)
}

#[allow(clippy::too_many_arguments)]
async fn read_loop(
    config: &RelayConfig,
    mut stream: mysql_async::BinlogStream,
    mut position: GtidPosition,
    publisher: &Publisher,
    pending: mpsc::Sender<Pending>,
    status: &RelayStatus,
    mut shutdown: oneshot::Receiver<()>,
    mut lock_lost: oneshot::Receiver<RelayError>,
) -> Result<(), RelayError> {
    let tables = OutboxTables::new(config.schemas.iter().cloned());
    let mut assembler = Assembler::new(tables.clone());
    let silence = config.heartbeat * 3;
    let in_flight = Arc::new(tokio::sync::Semaphore::new(config.max_events_in_flight));
    loop {
        let next = tokio::select! {
            biased;
            _ = &mut shutdown => return Ok(()),
            lost = &mut lock_lost => {
                return Err(lost.unwrap_or_else(|_| RelayError::LockLost("the lock watcher ended".to_owned())));
            }
            // The committer failed; stop reading at once rather than at the next commit.
            () = pending.closed() => return Ok(()),
            next = tokio::time::timeout(silence, stream.next()) => next,
        };
        let event = match next {
            Err(_) => return Err(RelayError::StreamSilent(silence)),
            Ok(None) => return Err(RelayError::StreamEnded),
            Ok(Some(event)) => event?,
        };
        let decoded = binlog::decode(&event, &stream, &tables)?;
        let Some(committed) = assembler.push(decoded)? else {
            continue;
        };
        position.advance(committed.gtid);
        // Waits while too many events wait for their reports (Kafka slow or down): reading
        // stops, nothing is lost. A transaction larger than the whole allowance takes all of it.
        let permit = if committed.rows.is_empty() {
            None
        } else {
            let wanted = committed.rows.len().min(config.max_events_in_flight) as u32;
            let permit = Arc::clone(&in_flight)
                .acquire_many_owned(wanted)
                .await
                .map_err(|_| RelayError::Unexpected(anyhow::anyhow!("the in-flight allowance was closed")))?;
            Some(permit)
        };
        let mut pending_transaction = publish(publisher, committed, &position).await?;
        pending_transaction._in_flight = permit;
        let rows = pending_transaction.deliveries.len() as u64;
        status.update(|status| {
            status.read_position = position.to_string();
            status.events_in_flight += rows;
        });
        metrics::gauge!("outbox_relay_events_in_flight").increment(rows as f64);
        if pending.send(pending_transaction).await.is_err() {
            // The committer stopped; its error says why.
            return Ok(());
        }
    }
}

async fn publish(
    publisher: &Publisher,
    committed: Committed,
    position: &GtidPosition,
) -> Result<Pending, RelayError> {
    let mut deliveries = Vec::with_capacity(committed.rows.len());
    for row in &committed.rows {
        deliveries.push(publisher.publish(row).await?);
    }
    if !committed.rows.is_empty() {
        tracing::debug!(gtid = %committed.gtid, rows = committed.rows.len(), "Publishing a transaction.");
    }
    Ok(Pending {
        committed_position: position.clone(),
        file: committed.file,
        log_pos: committed.log_pos,
        deliveries,
        _in_flight: None,
        rows: committed
            .rows
            .iter()
            .map(|row| (row.schema.clone(), row.id.clone()))
            .collect(),
        occurred_at: committed.rows.iter().map(|row| row.occurred_at).max(),
    })
}

async fn commit_loop(
    mut pending: mpsc::Receiver<Pending>,
    store: PositionStore,
    start: GtidPosition,
    config: RelayConfig,
    status: Arc<RelayStatus>,
) -> Result<(), RelayError> {
    let mut delivered = Delivered {
        position: start.clone(),
        file: String::new(),
        log_pos: 0,
    };
    let mut stored = start;
    let mut published: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut events_since_store: u64 = 0;
    let mut last_store = Instant::now();
    let mut rate_window = (Instant::now(), 0_u64);
    let mut ticker = tokio::time::interval(config.flush_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let outcome = loop {
        tokio::select! {
            biased;
            _ = ticker.tick() => {
                let due = events_since_store > 0 || last_store.elapsed() >= config.idle_store_interval;
                if due && delivered.position != stored {
                    stored = store_delivered(&store, &mut published, &delivered, &status).await?;
                    events_since_store = 0;
                    last_store = Instant::now();
                }
                let (since, count) = rate_window;
                let seconds = since.elapsed().as_secs_f64();
                if seconds >= 1.0 {
                    metrics::gauge!("outbox_relay_events_per_second").set(count as f64 / seconds);
                    rate_window = (Instant::now(), 0);
                }
            }
            next = pending.recv() => {
                let Some(transaction) = next else { break Ok(()) };
                let rows = transaction.deliveries.len() as u64;
                if let Err(error) = acknowledge(transaction.deliveries).await {
                    break Err(error);
                }
                for (schema, id) in transaction.rows {
                    published.entry(schema).or_default().push(id);
                }
                delivered = Delivered {
                    position: transaction.committed_position,
                    file: transaction.file,
                    log_pos: transaction.log_pos,
                };
                let lag_ms = transaction
                    .occurred_at
                    .map(|occurred_at| (chrono::Utc::now() - occurred_at).num_milliseconds().max(0) as u64);
                if rows > 0 {
                    events_since_store += rows;
                    rate_window.1 += rows;
                    metrics::counter!("outbox_relay_events_published_total").increment(rows);
                    metrics::gauge!("outbox_relay_events_in_flight").decrement(rows as f64);
                }
                if let Some(lag_ms) = lag_ms {
                    metrics::gauge!("outbox_relay_lag_milliseconds").set(lag_ms as f64);
                }
                for gtid in delivered.position.iter() {
                    metrics::gauge!("outbox_relay_delivered_sequence", "domain" => gtid.domain.to_string())
                        .set(gtid.sequence as f64);
                }
                status.update(|status| {
                    status.delivered_position = delivered.position.to_string();
                    status.events_in_flight = status.events_in_flight.saturating_sub(rows);
                    status.events_published += rows;
                    if let Some(lag_ms) = lag_ms {
                        status.lag_ms = lag_ms;
                    }
                });
                // A burst (catching up after a restart) delivers thousands of events within one
                // tick; storing by count too bounds what a crash in the burst repeats.
                if events_since_store >= config.store_every_events {
                    stored = store_delivered(&store, &mut published, &delivered, &status).await?;
                    events_since_store = 0;
                    last_store = Instant::now();
                }
            }
        }
    };
    // Store what was delivered before stopping, also after a failed delivery: everything up
    // to the failed transaction is safely in Kafka.
    if delivered.position != stored {
        store_delivered(&store, &mut published, &delivered, &status).await?;
    }
    outcome
}

/// Purges the delivered rows, then stores the delivered position; returns it.
async fn store_delivered(
    store: &PositionStore,
    published: &mut std::collections::BTreeMap<String, Vec<String>>,
    delivered: &Delivered,
    status: &RelayStatus,
) -> Result<GtidPosition, RelayError> {
    purge(store, published).await?;
    store
        .save(&delivered.position, &delivered.file, delivered.log_pos)
        .await?;
    record_stored(status, &delivered.position);
    Ok(delivered.position.clone())
}

struct Delivered {
    position: GtidPosition,
    file: String,
    log_pos: u32,
}

async fn acknowledge(deliveries: Vec<PendingDelivery>) -> Result<(), RelayError> {
    for delivery in deliveries {
        delivery.acknowledged().await?;
    }
    Ok(())
}

/// Deletes the delivered rows from their outboxes, before the position that covers them is
/// stored: a crash in between publishes them again rather than leaving them behind.
async fn purge(
    store: &PositionStore,
    published: &mut std::collections::BTreeMap<String, Vec<String>>,
) -> Result<(), RelayError> {
    if published.is_empty() {
        return Ok(());
    }
    let deleted = store.purge(published).await?;
    metrics::counter!("outbox_relay_rows_purged_total").increment(deleted);
    published.clear();
    Ok(())
}

fn record_stored(status: &RelayStatus, stored: &GtidPosition) {
    for gtid in stored.iter() {
        metrics::gauge!("outbox_relay_stored_sequence", "domain" => gtid.domain.to_string())
            .set(gtid.sequence as f64);
    }
    status.update(|status| status.stored_position = stored.to_string());
}
