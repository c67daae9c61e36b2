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
//! flight or delivered since the last store — duplicates, never gaps; consumers deduplicate on
//! the event id.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};

use crate::binlog::{self, OutboxTables};
use crate::config::RelayConfig;
use crate::error::RelayError;
use crate::gtid::GtidPosition;
use crate::lock::RelayLock;
use crate::position::PositionStore;
use crate::publisher::{PendingDelivery, Publisher};
use crate::status::RelayStatus;
use crate::transaction::{Assembler, Committed};

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

/// Everything a started relay runs with, prepared by [`crate::lifecycle`].
pub(crate) struct Pipeline {
    pub config: RelayConfig,
    /// Held for as long as the pipeline runs; losing it stops the reader.
    pub lock: RelayLock,
    pub source: BinlogSource,
    pub publisher: Publisher,
    pub store: PositionStore,
    pub status: Arc<RelayStatus>,
}

/// Where the reader reads: the open binlog stream, the position it was opened at, and the
/// server's position just after it was opened (delivering up to there makes the relay ready).
pub(crate) struct BinlogSource {
    pub stream: mysql_async::BinlogStream,
    pub position: GtidPosition,
    pub start_target: GtidPosition,
}

/// What ends the reader from outside the stream: a requested shutdown (a clean stop), or the
/// lock lost to another relay (which the reader returns as its error).
struct StopSignals {
    shutdown: oneshot::Receiver<()>,
    lock_lost: oneshot::Receiver<RelayError>,
}

impl Pipeline {
    /// Runs until `shutdown` fires or something fails, then stores the delivered position.
    pub async fn run(self, shutdown: oneshot::Receiver<()>) -> Result<(), RelayError> {
        let Self {
            config,
            lock,
            source,
            publisher,
            store,
            status,
        } = self;
        let (pending_sender, pending_receiver) = mpsc::channel(config.max_pending_transactions);
        let committer = tokio::spawn(commit_loop(
            pending_receiver,
            store.clone(),
            (source.position.clone(), source.start_target.clone()),
            config.clone(),
            Arc::clone(&status),
        ));
        // The lock is watched beside the reader; losing it stops the reader at once. The
        // watcher owns the lock's connection, so ending it (below) releases the lock.
        let (lock_lost_sender, lock_lost) = oneshot::channel();
        let lock_watcher = tokio::spawn(async move {
            let _ = lock_lost_sender.send(lock.lost().await);
        });
        let stop = StopSignals { shutdown, lock_lost };
        let read_outcome = read_loop(&config, source, &publisher, pending_sender, &status, stop).await;
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
}

async fn read_loop(
    config: &RelayConfig,
    source: BinlogSource,
    publisher: &Publisher,
    pending: mpsc::Sender<Pending>,
    status: &RelayStatus,
    mut stop: StopSignals,
) -> Result<(), RelayError> {
    let BinlogSource {
        mut stream,
        mut position,
        ..
    } = source;
    let tables = OutboxTables::new(config.schemas.iter().cloned());
    let mut assembler = Assembler::new(tables.clone());
    let silence = config.heartbeat * 3;
    let in_flight = Arc::new(tokio::sync::Semaphore::new(config.max_events_in_flight));
    loop {
        let next = tokio::select! {
            biased;
            _ = &mut stop.shutdown => return Ok(()),
            lost = &mut stop.lock_lost => {
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
        let pushed = binlog::decode(&event, &stream, &tables).and_then(|decoded| assembler.push(decoded));
        let committed = match pushed {
            Ok(Some(committed)) => committed,
            Ok(None) => continue,
            Err(error) => {
                // Named on `/healthz`: the GTID an operator's `skip` or `republish` needs.
                let transaction = assembler.open_gtid().map(|gtid| gtid.to_string());
                status.update(|status| status.failed_transaction = transaction);
                return Err(error);
            }
        };
        // The fault knobs (`local-stack/faults`): paused, the relay reads nothing further (the
        // binlog keeps it all); slowed, it waits before each transaction.
        loop {
            let knobs = faults::current().relay.clone();
            let wait = if knobs.paused {
                Duration::from_millis(200)
            } else {
                Duration::from_millis(knobs.delay_ms)
            };
            if !wait.is_zero() {
                tokio::select! {
                    biased;
                    _ = &mut stop.shutdown => return Ok(()),
                    () = tokio::time::sleep(wait) => {}
                }
            }
            if !knobs.paused {
                break;
            }
        }
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
    (start, start_target): (GtidPosition, GtidPosition),
    config: RelayConfig,
    status: Arc<RelayStatus>,
) -> Result<(), RelayError> {
    let mut caught_up = start.covers(&start_target);
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
                if !caught_up && delivered.position.covers(&start_target) {
                    caught_up = true;
                    status.set_caught_up(true);
                    tracing::info!(position = %delivered.position, "Caught up with the binlog as it was at the start.");
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
