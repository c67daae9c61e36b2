//! One consumer group per subscription, with per-partition ordering and safe offset storage.
//!
//! The receive loop copies each record out of rdkafka and hands it to the worker task of its
//! partition through a bounded channel. A worker spreads its records over a few lanes by key
//! (a hash of the key picks the lane): a lane delivers its records one at a time in offset
//! order, so the records of one key keep their order, while records of other keys go on in
//! the other lanes: one slow order (a payment that times out and is retried for seconds)
//! holds up its lane, not the whole partition. Records of different keys had no order to keep:
//! the producer already spreads keys over partitions.
//!
//! A worker stores an offset only once every record up to it is acknowledged or dead-lettered
//! (the lowest record still in a lane bounds it); librdkafka's auto-commit then commits stored
//! offsets only, so a commit never covers an unfinished record. After a crash the records
//! finished beyond that bound are delivered again, which the functions' idempotency absorbs.
//! Different partitions proceed concurrently.
//!
//! Why a worker per partition rather than `split_partition_queue`: the receive loop stays the
//! only place that polls the consumer (so rebalance callbacks run in one known place), and
//! workers come and go with assignments without re-splitting queues. The price is that a full
//! channel of one slow partition pauses the receive loop for all partitions of this
//! subscription until it drains. Fetches are kept small per partition (64 KiB) so librdkafka
//! hands the partitions' records over interleaved in short runs, and each channel holds more
//! than one such run: under a backlog every worker stays fed, and the drain runs at six
//! delivery loops rather than one (docs/benchmarks/dispatcher.md has the before and after).
//!
//! Rebalances: when partitions are revoked, their workers are flagged; a flagged worker
//! finishes its in-flight record and drops the rest (their offsets were not stored, so the
//! next owner delivers them again). If a partition comes back, its new worker first waits for
//! the old one, so two deliveries of one partition never overlap.
//!
//! Membership: with an [`InstanceName`] the consumer joins its group as a static member, so a
//! restarted dispatcher gets its partitions back at once (see [`crate::membership`]). A
//! static member that another process fenced out (same instance id) cannot consume any more;
//! that ends the subscription with an error that says so, rather than a warning per poll.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::delivery::stopped;
use crate::membership::InstanceName;
use crate::metrics;
use crate::pipeline::Pipeline;
use crate::record::Record;
use crate::subscription::Subscription;

/// Settings of the group consumers.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Records buffered per partition between the receive loop and the partition's worker.
    pub partition_buffer: usize,
    /// Concurrent deliveries per partition, each for its own share of the keys. 1 delivers a
    /// partition strictly in offset order.
    pub key_lanes: usize,
    /// The most bytes one fetch brings per partition. Small fetches make librdkafka hand over
    /// the partitions' records interleaved in small runs instead of thousands of one
    /// partition in a row, so the receive loop keeps every worker fed instead of waiting on
    /// the one partition whose buffer is full (measured in docs/benchmarks/dispatcher.md).
    pub fetch_bytes_per_partition: usize,
    /// How many bytes a fetch waits for (`fetch.min.bytes`), at most for `fetch_wait`.
    pub fetch_min_bytes: u32,
    /// How long the broker may hold a fetch that has less than `fetch_min_bytes`.
    pub fetch_wait: Duration,
    /// How often stored offsets are committed.
    pub auto_commit_interval: Duration,
    /// How often the lag gauges are refreshed.
    pub lag_interval: Duration,
    /// The name this dispatcher joins its groups under (static membership), or `None` to join
    /// anonymously. A dispatcher restarted under the same name resumes at once; an anonymous
    /// one waits until the broker gives up on its previous member (`session_timeout`).
    pub instance: Option<InstanceName>,
    /// How long the broker waits for a member it hears nothing from before it hands that
    /// member's partitions to others. With static membership this no longer delays a restart;
    /// it only bounds how long the partitions of a dispatcher that never comes back wait.
    pub session_timeout: Duration,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self {
            partition_buffer: 1024,
            key_lanes: 4,
            fetch_bytes_per_partition: 64 * 1024,
            // librdkafka's defaults: answer as soon as a record is there, else after 500 ms.
            fetch_min_bytes: 1,
            fetch_wait: Duration::from_millis(500),
            auto_commit_interval: Duration::from_secs(1),
            lag_interval: Duration::from_secs(10),
            instance: None,
            // librdkafka's default, stated so that it is visible where it matters.
            session_timeout: Duration::from_secs(45),
        }
    }
}

type Consumer_ = StreamConsumer<RebalanceContext>;

/// Flags the workers of revoked partitions. librdkafka calls it from inside `recv()`, i.e.
/// in the receive loop, before the partitions move.
struct RebalanceContext {
    function: String,
    topic: String,
    live_workers: Mutex<HashMap<i32, Arc<AtomicBool>>>,
}

impl ClientContext for RebalanceContext {}

impl ConsumerContext for RebalanceContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            let mut live = self
                .live_workers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for element in partitions.elements() {
                if let Some(revoked) = live.remove(&element.partition()) {
                    revoked.store(true, Ordering::SeqCst);
                }
            }
            tracing::info!(function = %self.function, topic = %self.topic, partitions = partitions.count(), "Partitions revoked.");
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(partitions) => {
                let assigned: Vec<i32> = partitions
                    .elements()
                    .iter()
                    .map(|element| element.partition())
                    .collect();
                tracing::info!(function = %self.function, topic = %self.topic, ?assigned, "Partitions assigned.");
            }
            Rebalance::Error(error) => {
                tracing::error!(function = %self.function, topic = %self.topic, %error, "Rebalance failed.")
            }
            Rebalance::Revoke(_) => {}
        }
    }
}

/// A spawned task that is aborted when its handle is dropped, so aborting the dispatcher
/// also stops every worker (and with them the last references to the consumer).
struct OwnedTask(JoinHandle<()>);

impl OwnedTask {
    async fn finished(mut self) {
        let _ = (&mut self.0).await;
    }
}

impl Drop for OwnedTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct Worker {
    sender: mpsc::Sender<Record>,
    revoked: Arc<AtomicBool>,
    task: OwnedTask,
}

/// What every worker of one subscription shares.
struct Shared {
    subscription: Subscription,
    consumer: Arc<Consumer_>,
    pipeline: Arc<Pipeline>,
    /// The next offset to deliver per partition, for the lag gauge.
    progress: Mutex<HashMap<i32, i64>>,
}

/// Consumes `subscription`'s topic until `shutdown` turns true, then finishes in-flight
/// deliveries, commits stored offsets and closes the consumer.
pub(crate) async fn run(
    subscription: Subscription,
    bootstrap_servers: String,
    config: ConsumerConfig,
    pipeline: Arc<Pipeline>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let context = RebalanceContext {
        function: subscription.function.clone(),
        topic: subscription.topic.clone(),
        live_workers: Mutex::new(HashMap::new()),
    };
    let mut settings = ClientConfig::new();
    settings
        .set("bootstrap.servers", &bootstrap_servers)
        .set("group.id", &subscription.group_id)
        .set("client.id", format!("dispatcher.{}", subscription.function))
        .set("enable.auto.commit", "true")
        // Offsets are stored by the workers, only for finished records.
        .set("enable.auto.offset.store", "false")
        .set(
            "auto.commit.interval.ms",
            config.auto_commit_interval.as_millis().to_string(),
        )
        .set("auto.offset.reset", "earliest")
        .set(
            "max.partition.fetch.bytes",
            config.fetch_bytes_per_partition.to_string(),
        )
        .set("fetch.min.bytes", config.fetch_min_bytes.to_string())
        .set("fetch.wait.max.ms", config.fetch_wait.as_millis().to_string())
        .set(
            "session.timeout.ms",
            config.session_timeout.as_millis().to_string(),
        );
    let instance_id = match &config.instance {
        Some(instance) => Some(instance.group_instance_id(&subscription)?),
        None => None,
    };
    if let Some(instance_id) = &instance_id {
        settings.set("group.instance.id", instance_id);
    }
    let consumer: Consumer_ = settings.create_with_context(context)?;
    consumer.subscribe(&[&subscription.topic])?;
    tracing::info!(
        function = %subscription.function,
        topic = %subscription.topic,
        group = %subscription.group_id,
        instance = instance_id.as_deref().unwrap_or("(dynamic)"),
        target = %subscription.target,
        "Subscribed."
    );

    let shared = Arc::new(Shared {
        subscription,
        consumer: Arc::new(consumer),
        pipeline,
        progress: Mutex::new(HashMap::new()),
    });
    let mut workers: HashMap<i32, Worker> = HashMap::new();
    let mut lag_ticker = tokio::time::interval(config.lag_interval);
    let mut lag_refresh: Option<OwnedTask> = None;
    let mut stop_signal = shutdown.clone();

    let result = loop {
        tokio::select! {
            biased;
            () = stopped(&mut stop_signal) => break Ok(()),
            _ = lag_ticker.tick() => {
                // A refresh still running (the broker is slow) is not doubled up.
                if lag_refresh.as_ref().is_none_or(|task| task.0.is_finished()) {
                    let shared = Arc::clone(&shared);
                    lag_refresh = Some(OwnedTask(tokio::task::spawn_blocking(move || refresh_lag(&shared))));
                }
            }
            received = shared.consumer.recv() => match received {
                Ok(message) => {
                    let record = Record::from_message(&message);
                    // The borrowed message goes before anything is awaited (docs/adr/0004).
                    drop(message);
                    if let Err(error) = route(&shared, &mut workers, record, &config, &shutdown).await {
                        break Err(error);
                    }
                }
                Err(error) => {
                    // A fatal error (this member was fenced out) leaves the consumer unusable.
                    if let Some(fatal) = fatal_error(&shared, instance_id.as_deref()) {
                        break Err(fatal);
                    }
                    tracing::warn!(function = %shared.subscription.function, topic = %shared.subscription.topic, %error, "Consuming failed; librdkafka retries.");
                }
            },
        }
    };

    // Shutdown: workers finish their in-flight record (storing its offset) and stop.
    for (_, worker) in workers.drain() {
        drop(worker.sender);
        worker.task.finished().await;
    }
    if let Some(task) = lag_refresh {
        task.finished().await;
    }
    close(shared).await;
    result
}

/// The consumer's fatal error, if it has one, as the error the subscription ends with.
fn fatal_error(shared: &Shared, instance_id: Option<&str>) -> Option<anyhow::Error> {
    let (code, reason) = shared.consumer.client().fatal_error()?;
    let subscription = &shared.subscription;
    let error = if matches!(
        code,
        RDKafkaErrorCode::FencedInstanceId | RDKafkaErrorCode::Fenced
    ) {
        anyhow::anyhow!(
            "{} on {} was fenced out of group {}: another dispatcher joined it under the same instance id {}. \
             Give every dispatcher of a group its own --instance-id ({reason})",
            subscription.function,
            subscription.topic,
            subscription.group_id,
            instance_id.unwrap_or("(none)"),
        )
    } else {
        anyhow::anyhow!(
            "The consumer of {} on {} failed for good: {reason}",
            subscription.function,
            subscription.topic
        )
    };
    Some(error)
}

/// Hands `record` to its partition's worker, starting one if needed.
async fn route(
    shared: &Arc<Shared>,
    workers: &mut HashMap<i32, Worker>,
    record: Record,
    config: &ConsumerConfig,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let partition = record.partition;
    let needs_new_worker = workers
        .get(&partition)
        .is_none_or(|worker| worker.revoked.load(Ordering::SeqCst));
    if needs_new_worker {
        let previous = workers.remove(&partition).map(|worker| worker.task);
        let (sender, receiver) = mpsc::channel(config.partition_buffer.max(1));
        let revoked = Arc::new(AtomicBool::new(false));
        shared
            .consumer
            .context()
            .live_workers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(partition, Arc::clone(&revoked));
        let task = tokio::spawn(work_partition(
            Arc::clone(shared),
            receiver,
            Lanes::new(config),
            Arc::clone(&revoked),
            previous,
            shutdown.clone(),
        ));
        workers.insert(
            partition,
            Worker {
                sender,
                revoked,
                task: OwnedTask(task),
            },
        );
    }
    let Some(worker) = workers.get(&partition) else {
        anyhow::bail!("No worker for partition {partition}");
    };
    let mut stop_signal = shutdown.clone();
    tokio::select! {
        sent = worker.sender.send(record) => {
            // A live, unrevoked worker only stops at shutdown or by panicking. Going on would
            // let later records of the partition be stored past one never finished.
            if sent.is_err() && !worker.revoked.load(Ordering::SeqCst) && !*shutdown.borrow() {
                anyhow::bail!(
                    "The worker of {} partition {partition} stopped unexpectedly",
                    shared.subscription.topic
                );
            }
        }
        () = stopped(&mut stop_signal) => {}
    }
    Ok(())
}

/// How a partition worker spreads its records: over how many lanes, each buffering how many.
#[derive(Debug, Clone, Copy)]
struct Lanes {
    count: usize,
    buffer: usize,
}

impl Lanes {
    fn new(config: &ConsumerConfig) -> Self {
        let count = config.key_lanes.max(1);
        Self {
            count,
            buffer: (config.partition_buffer / count).max(1),
        }
    }

    /// The lane of a record: the same for every record of a key. Records without a key share
    /// the first lane, in offset order.
    fn of(self, record: &Record) -> usize {
        let Some(key) = &record.key else { return 0 };
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(key, &mut hasher);
        let hash = std::hash::Hasher::finish(&hasher);
        usize::try_from(hash % self.count as u64).unwrap_or(0)
    }
}

/// Delivers one partition's records, a key's records in order, over `lanes` concurrent
/// lanes; stores the offset up to which every record is finished.
async fn work_partition(
    shared: Arc<Shared>,
    mut records: mpsc::Receiver<Record>,
    lanes: Lanes,
    revoked: Arc<AtomicBool>,
    previous: Option<OwnedTask>,
    shutdown: watch::Receiver<bool>,
) {
    if let Some(previous) = previous {
        previous.finished().await;
    }
    let (finished_sender, mut finished) = mpsc::unbounded_channel::<Record>();
    let mut senders = Vec::with_capacity(lanes.count);
    let mut tasks = Vec::with_capacity(lanes.count);
    for _ in 0..lanes.count {
        let (sender, receiver) = mpsc::channel(lanes.buffer);
        senders.push(sender);
        tasks.push(OwnedTask(tokio::spawn(work_lane(
            Arc::clone(&shared),
            receiver,
            Arc::clone(&revoked),
            shutdown.clone(),
            finished_sender.clone(),
        ))));
    }
    drop(finished_sender);
    let mut window = OffsetWindow::default();

    'records: loop {
        // Finished records move the stored offset on whether or not more records come.
        let record = tokio::select! {
            biased;
            Some(done) = finished.recv() => {
                window.finish(&shared, &done);
                continue;
            }
            record = records.recv() => match record {
                Some(record) => record,
                None => break,
            },
        };
        if revoked.load(Ordering::SeqCst) || *shutdown.borrow() {
            break;
        }
        let lane = &senders[lanes.of(&record)];
        // While the lane is full, finished records still move the stored offset on.
        let permit = loop {
            tokio::select! {
                permit = lane.reserve() => match permit {
                    Ok(permit) => break permit,
                    // The lane stopped (shutdown, revocation): so does the partition.
                    Err(_) => break 'records,
                },
                Some(done) = finished.recv() => window.finish(&shared, &done),
            }
        };
        window.start(record.offset);
        permit.send(record);
    }

    // The lanes finish their in-flight record and stop; what they finished is stored.
    drop(senders);
    for task in tasks {
        task.finished().await;
    }
    while let Ok(done) = finished.try_recv() {
        window.finish(&shared, &done);
    }
}

/// Delivers one lane's records in order, reporting each finished one.
async fn work_lane(
    shared: Arc<Shared>,
    mut records: mpsc::Receiver<Record>,
    revoked: Arc<AtomicBool>,
    mut shutdown: watch::Receiver<bool>,
    finished: mpsc::UnboundedSender<Record>,
) {
    while let Some(record) = records.recv().await {
        if revoked.load(Ordering::SeqCst) || *shutdown.borrow() {
            break;
        }
        let handled = shared
            .pipeline
            .handle(&shared.subscription, &record, &mut shutdown)
            .await;
        if !handled.is_finished() || finished.send(record).is_err() {
            break;
        }
    }
}

/// The offsets of a partition handed to lanes and not finished yet, and from them the offset
/// that may be stored: every record below the lowest unfinished one is done.
#[derive(Debug, Default)]
struct OffsetWindow {
    unfinished: BTreeSet<i64>,
    /// The highest offset handed to a lane so far.
    highest_started: Option<i64>,
    /// The highest offset stored so far.
    stored: Option<i64>,
}

impl OffsetWindow {
    fn start(&mut self, offset: i64) {
        self.unfinished.insert(offset);
        self.highest_started = Some(self.highest_started.map_or(offset, |highest| highest.max(offset)));
    }

    /// Marks `record` finished and stores the offset it (and the records before it) allow.
    fn finish(&mut self, shared: &Shared, record: &Record) {
        if let Some(offset) = self.finished(record.offset) {
            store_offset(shared, record, offset);
        }
    }

    /// Marks `offset` finished; answers the offset that may now be stored, if it moved.
    fn finished(&mut self, offset: i64) -> Option<i64> {
        self.unfinished.remove(&offset);
        let done_through = match self.unfinished.first() {
            Some(lowest) => lowest - 1,
            None => self.highest_started?,
        };
        if self.stored.is_some_and(|stored| stored >= done_through) {
            return None;
        }
        self.stored = Some(done_through);
        Some(done_through)
    }
}

/// Stores `offset` of `record`'s partition as finished (the group resumes after it).
fn store_offset(shared: &Shared, record: &Record, offset: i64) {
    // `rd_kafka_offset_store` stores offset + 1, the next record to read.
    match shared
        .consumer
        .store_offset(&record.topic, record.partition, offset)
    {
        Ok(()) => {
            shared
                .progress
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(record.partition, offset + 1);
        }
        // The partition was revoked meanwhile: its next owner delivers the record again.
        Err(error) => tracing::warn!(
            function = %shared.subscription.function,
            topic = %record.topic,
            partition = record.partition,
            offset,
            %error,
            "Storing the offset failed; the records up to it will be delivered again."
        ),
    }
}

/// Sets the lag gauge of every assigned partition: high watermark − next offset to deliver.
fn refresh_lag(shared: &Shared) {
    let Ok(assignment) = shared.consumer.assignment() else {
        return;
    };
    let positions = shared.consumer.position().ok();
    // Asked of the broker only when a partition has neither delivered nor fetched anything
    // since the start, which is every idle partition after a restart.
    let mut committed: Option<Option<TopicPartitionList>> = None;
    for element in assignment.elements() {
        let (topic, partition) = (element.topic(), element.partition());
        let Ok((low, high)) = shared
            .consumer
            .fetch_watermarks(topic, partition, Duration::from_secs(5))
        else {
            continue;
        };
        let delivered = shared
            .progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&partition)
            .copied();
        let position = positions
            .as_ref()
            .and_then(|positions| positions.find_partition(topic, partition))
            .and_then(|element| match element.offset() {
                Offset::Offset(offset) => Some(offset),
                _ => None,
            });
        let committed_offset = if delivered.or(position).is_none() {
            committed
                .get_or_insert_with(|| shared.consumer.committed(Duration::from_secs(5)).ok())
                .as_ref()
                .and_then(|offsets| offsets.find_partition(topic, partition))
                .and_then(|element| match element.offset() {
                    Offset::Offset(offset) => Some(offset),
                    _ => None,
                })
        } else {
            None
        };
        let next = next_to_deliver(delivered, position, committed_offset, low);
        metrics::lag(
            &shared.subscription.function,
            topic,
            partition,
            (high - next).max(0),
        );
    }
}

/// The next offset of a partition to deliver, for its lag: what this process delivered last,
/// else where its consumer stands, else what the group committed (a partition idle since a
/// restart has only that), else the partition's start (a new group reads from the earliest).
/// Counting from the start when the group had committed far beyond it reported a whole
/// topic as lag on every quiet partition after a restart.
fn next_to_deliver(delivered: Option<i64>, position: Option<i64>, committed: Option<i64>, low: i64) -> i64 {
    delivered.or(position).or(committed).unwrap_or(low)
}

/// Commits what the workers stored and closes the consumer (leaving the group), off the
/// async workers because both block.
async fn close(shared: Arc<Shared>) {
    let closed = tokio::task::spawn_blocking(move || {
        match shared.consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) | Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
            Err(error) => tracing::warn!(function = %shared.subscription.function, %error, "The final commit failed."),
        }
        tracing::info!(function = %shared.subscription.function, topic = %shared.subscription.topic, "Consumer closed.");
        drop(shared);
    })
    .await;
    if let Err(error) = closed {
        tracing::error!(%error, "Closing the consumer failed.");
    }
}

#[cfg(test)]
mod tests {
    use super::{Lanes, OffsetWindow, next_to_deliver};
    use crate::record::Record;

    fn window_started(offsets: std::ops::Range<i64>) -> OffsetWindow {
        let mut window = OffsetWindow::default();
        for offset in offsets {
            window.start(offset);
        }
        window
    }

    #[test]
    fn a_record_finished_ahead_of_a_slower_one_is_not_stored_past_it() {
        let mut window = window_started(100..104);
        // 101 and 103 finish first; 100 (a retried payment, say) is still in its lane.
        assert_eq!(window.finished(101), Some(99));
        assert_eq!(window.finished(103), None);
        // 100 finishes: everything through 101 is done, 102 still runs.
        assert_eq!(window.finished(100), Some(101));
        assert_eq!(window.finished(102), Some(103));
    }

    #[test]
    fn records_finished_in_order_store_each_offset() {
        let mut window = window_started(7..10);
        assert_eq!(window.finished(7), Some(7));
        assert_eq!(window.finished(8), Some(8));
        window.start(10);
        assert_eq!(window.finished(9), Some(9));
        assert_eq!(window.finished(10), Some(10));
    }

    fn keyed(key: Option<&str>, offset: i64) -> Record {
        Record {
            topic: "t".into(),
            partition: 0,
            offset,
            timestamp_millis: None,
            key: key.map(|key| key.as_bytes().to_vec()),
            payload: None,
            headers: Vec::new(),
            unreadable_headers: 0,
        }
    }

    #[test]
    fn a_key_always_takes_the_same_lane_and_keys_spread_over_all_lanes() {
        let lanes = Lanes { count: 4, buffer: 8 };
        let mut used = [false; 4];
        for order in 0..64 {
            let key = format!("order-{order}");
            let lane = lanes.of(&keyed(Some(&key), 1));
            assert_eq!(lanes.of(&keyed(Some(&key), 2)), lane);
            used[lane] = true;
        }
        assert_eq!(used, [true; 4]);
        assert_eq!(lanes.of(&keyed(None, 3)), 0);
    }

    #[test]
    fn an_idle_partition_after_a_restart_counts_from_what_the_group_committed() {
        // Nothing delivered or fetched yet; the group committed 51,387 of 51,387 records.
        assert_eq!(next_to_deliver(None, None, Some(51_387), 0), 51_387);
    }

    #[test]
    fn what_this_process_delivered_or_fetched_comes_first() {
        assert_eq!(next_to_deliver(Some(10), Some(12), Some(5), 0), 10);
        assert_eq!(next_to_deliver(None, Some(12), Some(5), 0), 12);
    }

    #[test]
    fn a_new_group_counts_from_the_partitions_start() {
        assert_eq!(next_to_deliver(None, None, None, 7), 7);
    }
}
