//! The Kafka consumers: one per topic (or one per subscription), per-partition ordering, key
//! concurrency and safe offsets.
//!
//! **One consumer per topic** ([`Fetching::PerTopic`], the default; docs/adr/0062). It fetches
//! each record of its topic once and hands it to every function subscribed to the topic (a
//! *fan-out* each). Its own consumer group, `<prefix>.<topic>#dispatcher`, only spreads the
//! partitions over the dispatchers. Each function's progress is still kept in the function's
//! own group, `<prefix>.<function>.<topic>`: the dispatcher commits the offsets there itself,
//! as a client outside the group. On an assignment it reads every function's committed offset,
//! fetches from the lowest, and each function skips the records it already had. With
//! [`Fetching::PerSubscription`] every subscription has a consumer of its own, a member of the
//! function's group (the layout before ADR 0062); the rest of this module is the same for both.
//!
//! The receive loop copies each record out of rdkafka and hands it to the worker task of
//! each (function, partition) through a bounded channel. A worker delivers up to
//! `key_lanes` records at once, never two of one key, and each key's records in offset order
//! ([`KeyQueue`]): the next delivery is the lowest-offset record whose key has none in flight.
//! One slow order (a payment that times out and is retried for seconds) holds one slot and its
//! own later records, not the other keys of its partition. Records of different keys had no
//! order to keep: the producer already spreads keys over partitions. For a function whose
//! template sets `Metadata.DeliveryBatch`, a slot carries a batch: the next record of up to
//! `Size` keys whose turn has come, waiting up to `WindowMs` for the batch to fill
//! (docs/adr/0064).
//!
//! A worker marks an offset finished only once every record up to it is acknowledged or
//! dead-lettered (the lowest record still waiting or in flight bounds it); a commit task
//! commits what is finished, so a commit never covers an unfinished record. After a crash the
//! records finished beyond that bound are delivered again, which the functions' idempotency
//! absorbs.
//! Different partitions, and different functions, proceed concurrently.
//!
//! Why a worker per partition rather than `split_partition_queue`: the receive loop stays the
//! only place that polls the consumer (so rebalance callbacks run in one known place), and
//! workers come and go with assignments without re-splitting queues. The price is that a full
//! worker (its `backlog` of waiting records and its channel) pauses the receive loop for every
//! function and partition of the consumer until it drains. Fetches are kept small per partition (64 KiB) so librdkafka
//! hands the partitions' records over interleaved in short runs, and each channel holds more
//! than one such run: under a backlog every worker stays fed, and the drain runs at six
//! delivery loops rather than one (docs/benchmarks/dispatcher.md has the before and after).
//!
//! Rebalances: when partitions are revoked, their workers are flagged and what they finished
//! is committed; a flagged worker finishes its in-flight record and drops the rest (not
//! committed, so the next owner delivers them again). If a partition comes back, its new
//! worker first waits for the old one, so two deliveries of one partition never overlap.
//!
//! Membership: with an [`InstanceName`] the consumer joins its group as a static member, so a
//! restarted dispatcher gets its partitions back at once (see [`crate::membership`]). A
//! static member that another process fenced out (same instance id) cannot consume any more;
//! that ends the consumer with an error that says so, rather than a warning per poll.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rdkafka::bindings::rd_kafka_resp_err_t as RDKafkaRespErr;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::delivery::stopped;
use crate::membership::InstanceName;
use crate::metrics;
use crate::pipeline::Pipeline;
use crate::record::Record;
use crate::subscription::Subscription;

/// How the dispatcher lays out its Kafka consumers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetching {
    /// One consumer per topic fetches each record once for every function subscribed to it.
    PerTopic,
    /// One consumer per (function, topic), each fetching every record of its topic.
    PerSubscription,
}

impl FromStr for Fetching {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "topic" => Ok(Self::PerTopic),
            "subscription" => Ok(Self::PerSubscription),
            other => Err(format!("`{other}`: expected `topic` or `subscription`")),
        }
    }
}

/// Settings of the consumers.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// One consumer per topic, or one per subscription.
    pub fetching: Fetching,
    /// Records buffered per (function, partition) between the receive loop and the worker.
    pub partition_buffer: usize,
    /// Records a worker holds per (function, partition) waiting for delivery before it stops
    /// taking more. The receive loop serves every function of the topic, so this bounds how
    /// far one function that is down or slow may fall behind before the others of its topic
    /// wait for it too (docs/adr/0062). The records are shared between the functions: the
    /// memory is that of the slowest function's backlog.
    pub backlog: usize,
    /// Concurrent deliveries per (function, partition), never two of one key. 1 delivers a
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
    /// How often finished offsets are committed.
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
            fetching: Fetching::PerTopic,
            partition_buffer: 1024,
            backlog: 20_000,
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

/// What one consumer serves: a topic, the group that spreads its partitions, and the
/// subscriptions its records go to.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    topic: String,
    group_id: String,
    /// The group instance id under static membership.
    instance_id: Option<String>,
    subscriptions: Vec<Subscription>,
}

impl Plan {
    /// The consumers `subscriptions` need under `fetching`, each with its group and static
    /// member name.
    pub(crate) fn all(
        subscriptions: Vec<Subscription>,
        fetching: Fetching,
        instance: Option<&InstanceName>,
    ) -> anyhow::Result<Vec<Self>> {
        let mut plans: Vec<Self> = Vec::new();
        for subscription in subscriptions {
            match fetching {
                Fetching::PerSubscription => plans.push(Self {
                    topic: subscription.topic.clone(),
                    group_id: subscription.group_id.clone(),
                    instance_id: instance
                        .map(|instance| {
                            instance.group_instance_id(&subscription.function, &subscription.topic)
                        })
                        .transpose()?,
                    subscriptions: vec![subscription],
                }),
                Fetching::PerTopic => {
                    let group_id = subscription.fan_out_group_id();
                    match plans.iter_mut().find(|plan| plan.group_id == group_id) {
                        Some(plan) => plan.subscriptions.push(subscription),
                        None => plans.push(Self {
                            topic: subscription.topic.clone(),
                            instance_id: instance
                                .map(|instance| instance.group_instance_id("dispatcher", &subscription.topic))
                                .transpose()?,
                            group_id,
                            subscriptions: vec![subscription],
                        }),
                    }
                }
            }
        }
        Ok(plans)
    }

    /// Whether the consumer is a member of its only function's group, and so commits the
    /// function's offsets itself.
    fn is_the_functions_group(&self) -> bool {
        matches!(self.subscriptions.as_slice(), [only] if only.group_id == self.group_id)
    }

    fn functions(&self) -> String {
        let names: Vec<&str> = self
            .subscriptions
            .iter()
            .map(|subscription| subscription.function.as_str())
            .collect();
        names.join(", ")
    }
}

/// How long an assignment waits for the functions' committed offsets, per attempt.
const COMMITTED_TIMEOUT: Duration = Duration::from_secs(10);
/// How many times an assignment asks for them before the consumer stops.
const COMMITTED_ATTEMPTS: u32 = 6;

type Consumer_ = StreamConsumer<FetchContext>;

/// One function's share of a consumer: its subscription, the client that commits its
/// offsets, and where it stands per partition.
struct FanOut {
    subscription: Subscription,
    /// A client of the function's group that is not a member of it (per-topic fetching), or
    /// `None` when the consumer itself is the member that commits.
    committer: Option<BaseConsumer>,
    offsets: Mutex<FanOutOffsets>,
    /// Commits failed in a row: the first is a warning, the rest only every minute or so.
    commit_failures: AtomicU64,
}

/// Per partition, all as "the next offset to read".
#[derive(Debug, Default)]
struct FanOutOffsets {
    /// The function's committed offset when the partition was assigned; the records below it
    /// are skipped. Absent: the function had committed nothing and gets every record.
    start: HashMap<i32, i64>,
    /// Past the last record up to which every record is finished.
    finished: HashMap<i32, i64>,
    /// What was committed last.
    committed: HashMap<i32, i64>,
}

impl FanOutOffsets {
    fn forget(&mut self, partition: i32) {
        self.start.remove(&partition);
        self.finished.remove(&partition);
        self.committed.remove(&partition);
    }

    /// The finished offsets not committed yet.
    fn uncommitted(&self) -> Vec<(i32, i64)> {
        self.finished
            .iter()
            .filter(|(partition, next)| self.committed.get(partition) != Some(next))
            .map(|(partition, next)| (*partition, *next))
            .collect()
    }
}

impl FanOut {
    fn offsets(&self) -> MutexGuard<'_, FanOutOffsets> {
        self.offsets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the function already had `record` before this assignment.
    fn had(&self, record: &Record) -> bool {
        self.offsets()
            .start
            .get(&record.partition)
            .is_some_and(|start| record.offset < *start)
    }

    /// Marks the partition finished up to `next` (exclusive), unless its worker was revoked
    /// meanwhile: the partition's next owner delivers those records again.
    fn finish_through(&self, partition: i32, next: i64, revoked: &AtomicBool) {
        let mut offsets = self.offsets();
        if !revoked.load(Ordering::SeqCst) {
            offsets.finished.insert(partition, next);
        }
    }
}

/// Flags the workers of revoked partitions and commits what they finished; on an assignment,
/// starts each partition where the function furthest behind left it. librdkafka calls it from
/// inside `recv()`, i.e. in the receive loop, before the partitions move.
struct FetchContext {
    topic: String,
    group_id: String,
    fan_outs: Vec<Arc<FanOut>>,
    /// The cancellation flags of every live worker, by partition.
    live_workers: Mutex<HashMap<i32, Vec<Arc<AtomicBool>>>>,
    /// Why the consumer cannot go on (the functions' offsets could not be read).
    failure: Mutex<Option<String>>,
    failed: Notify,
}

impl ClientContext for FetchContext {}

impl ConsumerContext for FetchContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        error: RDKafkaRespErr,
        partitions: &mut TopicPartitionList,
    ) {
        match error {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                if let Err(failure) = self.start_offsets(partitions) {
                    self.fail(format!("{failure:#}"));
                    let _ = consumer.unassign();
                    return;
                }
                match consumer.assign(partitions) {
                    Ok(()) => {
                        let assigned: Vec<i32> = partitions
                            .elements()
                            .iter()
                            .map(|element| element.partition())
                            .collect();
                        tracing::info!(topic = %self.topic, group = %self.group_id, ?assigned, "Partitions assigned.");
                    }
                    Err(failure) => self.fail(format!("Taking the assigned partitions failed: {failure}")),
                }
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.revoke(consumer, partitions);
                let _ = consumer.unassign();
            }
            other => {
                let code: RDKafkaErrorCode = other.into();
                tracing::error!(topic = %self.topic, group = %self.group_id, error = %code, "Rebalance failed.");
                let _ = consumer.unassign();
            }
        }
    }
}

impl FetchContext {
    /// Sets each assigned partition's offset to the lowest the functions committed, and
    /// notes each function's own start. A consumer that is its function's group member starts
    /// where the group committed, as librdkafka does by itself.
    fn start_offsets(&self, partitions: &mut TopicPartitionList) -> anyhow::Result<()> {
        let assigned: Vec<i32> = partitions
            .elements()
            .iter()
            .map(|element| element.partition())
            .collect();
        // None: some function committed nothing there and reads from the beginning.
        let mut lowest: HashMap<i32, Option<i64>> = HashMap::new();
        for fan_out in &self.fan_outs {
            let Some(committer) = &fan_out.committer else {
                let mut offsets = fan_out.offsets();
                for partition in &assigned {
                    offsets.forget(*partition);
                }
                return Ok(());
            };
            let committed = committed_offsets(committer, partitions, &fan_out.subscription.group_id)?;
            let mut offsets = fan_out.offsets();
            for partition in &assigned {
                offsets.forget(*partition);
                let start =
                    committed
                        .find_partition(&self.topic, *partition)
                        .and_then(|element| match element.offset() {
                            Offset::Offset(offset) => Some(offset),
                            _ => None,
                        });
                if let Some(start) = start {
                    offsets.start.insert(*partition, start);
                }
                let entry = lowest.entry(*partition).or_insert(start);
                *entry = match (*entry, start) {
                    (Some(lowest), Some(start)) => Some(lowest.min(start)),
                    _ => None,
                };
            }
        }
        for (partition, start) in lowest {
            let offset = start.map_or(Offset::Beginning, Offset::Offset);
            partitions.set_partition_offset(&self.topic, partition, offset)?;
        }
        Ok(())
    }

    /// Flags the revoked partitions' workers, commits what they finished and forgets them.
    fn revoke(&self, consumer: &BaseConsumer<Self>, partitions: &TopicPartitionList) {
        let revoked: Vec<i32> = partitions
            .elements()
            .iter()
            .map(|element| element.partition())
            .collect();
        {
            let mut live = self
                .live_workers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for partition in &revoked {
                for flag in live.remove(partition).unwrap_or_default() {
                    flag.store(true, Ordering::SeqCst);
                }
            }
        }
        for fan_out in &self.fan_outs {
            let finished: Vec<(i32, i64)> = {
                let mut offsets = fan_out.offsets();
                let finished = offsets
                    .uncommitted()
                    .into_iter()
                    .filter(|(partition, _)| revoked.contains(partition))
                    .collect();
                for partition in &revoked {
                    offsets.forget(*partition);
                }
                finished
            };
            if let Err(error) = commit(&self.topic, fan_out, consumer, &finished) {
                tracing::warn!(function = %fan_out.subscription.function, topic = %self.topic, %error, "Committing the revoked partitions failed; their next owner delivers some records again.");
            }
        }
        tracing::info!(topic = %self.topic, group = %self.group_id, partitions = revoked.len(), "Partitions revoked.");
    }

    fn fail(&self, reason: String) {
        tracing::error!(topic = %self.topic, group = %self.group_id, %reason, "The consumer cannot go on.");
        *self
            .failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(reason);
        self.failed.notify_one();
    }
}

/// The offsets `group` committed for `partitions`. A broker that has just come back may take
/// a while to load its groups, so a failed read is tried again, for at most
/// `COMMITTED_ATTEMPTS` × `COMMITTED_TIMEOUT`, before the consumer gives up.
fn committed_offsets(
    committer: &BaseConsumer,
    partitions: &TopicPartitionList,
    group: &str,
) -> anyhow::Result<TopicPartitionList> {
    let mut attempt = 1;
    loop {
        match committer.committed_offsets(partitions.clone(), COMMITTED_TIMEOUT) {
            Ok(committed) => return Ok(committed),
            Err(error) if attempt < COMMITTED_ATTEMPTS => {
                tracing::warn!(group, attempt, %error, "Reading the committed offsets failed; trying again.");
                attempt += 1;
            }
            Err(error) => anyhow::bail!(
                "Reading the committed offsets of group {group} failed {attempt} times: {error}"
            ),
        }
    }
}

/// Commits `offsets` (partition, next offset) of `fan_out`'s function, through its own
/// client or, when it has none, through `member` (the consumer in the function's group).
fn commit<C: ConsumerContext + 'static, M: Consumer<C>>(
    topic: &str,
    fan_out: &FanOut,
    member: &M,
    offsets: &[(i32, i64)],
) -> anyhow::Result<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    let mut list = TopicPartitionList::new();
    for (partition, next) in offsets {
        list.add_partition_offset(topic, *partition, Offset::Offset(*next))?;
    }
    match &fan_out.committer {
        Some(committer) => committer.commit(&list, CommitMode::Sync)?,
        None => member.commit(&list, CommitMode::Sync)?,
    }
    Ok(())
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
    sender: mpsc::Sender<Arc<Record>>,
    revoked: Arc<AtomicBool>,
    task: OwnedTask,
}

/// What every worker of one consumer shares.
struct Shared {
    plan: Plan,
    consumer: Arc<Consumer_>,
    pipeline: Arc<Pipeline>,
}

impl Shared {
    fn fan_outs(&self) -> &[Arc<FanOut>] {
        &self.consumer.context().fan_outs
    }

    /// Commits every function's finished offsets.
    fn commit_finished(&self) {
        for fan_out in self.fan_outs() {
            if let Some(committer) = &fan_out.committer {
                // Nothing is consumed through it; this serves its error and log events.
                let _ = committer.poll(Duration::ZERO);
            }
            let uncommitted = fan_out.offsets().uncommitted();
            if uncommitted.is_empty() {
                continue;
            }
            match commit(&self.plan.topic, fan_out, self.consumer.as_ref(), &uncommitted) {
                Ok(()) => {
                    let failures = fan_out.commit_failures.swap(0, Ordering::Relaxed);
                    if failures > 0 {
                        tracing::info!(function = %fan_out.subscription.function, topic = %self.plan.topic, failures, "Committing offsets works again.");
                    }
                    let mut offsets = fan_out.offsets();
                    for (partition, next) in uncommitted {
                        // A partition revoked meanwhile was committed and forgotten there.
                        if offsets.finished.contains_key(&partition) {
                            offsets.committed.insert(partition, next);
                        }
                    }
                }
                Err(error) => {
                    let failures = fan_out.commit_failures.fetch_add(1, Ordering::Relaxed) + 1;
                    // One warning per streak (and a reminder every 60 failures), not one per
                    // second: after a switch from a consumer per subscription, the old static
                    // members stay in the function's group until their session ends (300 s),
                    // and the broker refuses commits from outside the group until then.
                    if failures == 1 || failures % 60 == 0 {
                        tracing::warn!(
                            function = %fan_out.subscription.function,
                            topic = %self.plan.topic,
                            group = %fan_out.subscription.group_id,
                            failures,
                            %error,
                            "Committing offsets failed; retrying at every commit. An unknown member means the group still has members (an older dispatcher's, until their session ends)."
                        );
                    } else {
                        tracing::debug!(function = %fan_out.subscription.function, failures, %error, "Committing offsets failed again.");
                    }
                }
            }
        }
    }
}

/// Consumes the topic of `plan` until `shutdown` turns true, then finishes in-flight
/// deliveries, commits the finished offsets and closes the consumer.
pub(crate) async fn run(
    plan: Plan,
    bootstrap_servers: String,
    config: ConsumerConfig,
    pipeline: Arc<Pipeline>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let own_group = plan.is_the_functions_group();
    let mut fan_outs = Vec::with_capacity(plan.subscriptions.len());
    for subscription in &plan.subscriptions {
        let committer = if own_group {
            None
        } else {
            let committer: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &bootstrap_servers)
                .set("group.id", &subscription.group_id)
                .set(
                    "client.id",
                    format!("dispatcher.{}.offsets", subscription.function),
                )
                .set("enable.auto.commit", "false")
                .create()?;
            Some(committer)
        };
        fan_outs.push(Arc::new(FanOut {
            subscription: subscription.clone(),
            committer,
            offsets: Mutex::new(FanOutOffsets::default()),
            commit_failures: AtomicU64::new(0),
        }));
    }
    let context = FetchContext {
        topic: plan.topic.clone(),
        group_id: plan.group_id.clone(),
        fan_outs,
        live_workers: Mutex::new(HashMap::new()),
        failure: Mutex::new(None),
        failed: Notify::new(),
    };
    let client_id = if own_group {
        format!("dispatcher.{}", plan.subscriptions[0].function)
    } else {
        format!("dispatcher.{}", plan.topic)
    };
    let mut settings = ClientConfig::new();
    settings
        .set("bootstrap.servers", &bootstrap_servers)
        .set("group.id", &plan.group_id)
        .set("client.id", client_id)
        // The commit task commits finished offsets only.
        .set("enable.auto.commit", "false")
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
    if let Some(instance_id) = &plan.instance_id {
        settings.set("group.instance.id", instance_id);
    }
    let consumer: Consumer_ = settings.create_with_context(context)?;
    consumer.subscribe(&[&plan.topic])?;
    tracing::info!(
        topic = %plan.topic,
        group = %plan.group_id,
        functions = %plan.functions(),
        instance = plan.instance_id.as_deref().unwrap_or("(dynamic)"),
        "Subscribed."
    );

    let shared = Arc::new(Shared {
        plan,
        consumer: Arc::new(consumer),
        pipeline,
    });
    let mut workers: HashMap<(usize, i32), Worker> = HashMap::new();
    let mut lag_ticker = tokio::time::interval(config.lag_interval);
    let mut lag_refresh: Option<OwnedTask> = None;
    let mut commit_ticker = tokio::time::interval(config.auto_commit_interval);
    let mut committing: Option<OwnedTask> = None;
    let mut stop_signal = shutdown.clone();

    let result = loop {
        tokio::select! {
            biased;
            () = stopped(&mut stop_signal) => break Ok(()),
            () = shared.consumer.context().failed.notified() => {
                let failure = shared.consumer.context().failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
                break Err(anyhow::anyhow!(
                    "The consumer of {} for {} stopped: {}",
                    shared.plan.topic,
                    shared.plan.functions(),
                    failure.unwrap_or_default()
                ));
            }
            _ = commit_ticker.tick() => {
                if committing.as_ref().is_none_or(|task| task.0.is_finished()) {
                    let shared = Arc::clone(&shared);
                    committing = Some(OwnedTask(tokio::task::spawn_blocking(move || shared.commit_finished())));
                }
            }
            _ = lag_ticker.tick() => {
                // A refresh still running (the broker is slow) is not doubled up.
                if lag_refresh.as_ref().is_none_or(|task| task.0.is_finished()) {
                    let shared = Arc::clone(&shared);
                    lag_refresh = Some(OwnedTask(tokio::task::spawn_blocking(move || refresh_lag(&shared))));
                }
            }
            received = shared.consumer.recv() => match received {
                Ok(message) => {
                    let record = Arc::new(Record::from_message(&message));
                    // The borrowed message goes before anything is awaited (docs/adr/0004).
                    drop(message);
                    if let Err(error) = route(&shared, &mut workers, record, &config, &shutdown).await {
                        break Err(error);
                    }
                }
                Err(error) => {
                    // A fatal error (this member was fenced out) leaves the consumer unusable.
                    if let Some(fatal) = fatal_error(&shared) {
                        break Err(fatal);
                    }
                    tracing::warn!(topic = %shared.plan.topic, functions = %shared.plan.functions(), %error, "Consuming failed; librdkafka retries.");
                }
            },
        }
    };

    // Shutdown: workers finish their in-flight record (marking its offset) and stop.
    for (_, worker) in workers.drain() {
        drop(worker.sender);
        worker.task.finished().await;
    }
    for task in [lag_refresh, committing].into_iter().flatten() {
        task.finished().await;
    }
    close(shared).await;
    result
}

/// The consumer's fatal error, if it has one, as the error the consumer ends with.
fn fatal_error(shared: &Shared) -> Option<anyhow::Error> {
    let (code, reason) = shared.consumer.client().fatal_error()?;
    let plan = &shared.plan;
    let error = if matches!(
        code,
        RDKafkaErrorCode::FencedInstanceId | RDKafkaErrorCode::Fenced
    ) {
        anyhow::anyhow!(
            "The consumer of {} for {} was fenced out of group {}: another dispatcher joined it under the same instance id {}. \
             Give every dispatcher of a group its own --instance-id ({reason})",
            plan.topic,
            plan.functions(),
            plan.group_id,
            plan.instance_id.as_deref().unwrap_or("(none)"),
        )
    } else {
        anyhow::anyhow!(
            "The consumer of {} for {} failed for good: {reason}",
            plan.topic,
            plan.functions()
        )
    };
    Some(error)
}

/// Hands `record` to the worker of each function that does not have it yet, starting
/// workers as needed.
async fn route(
    shared: &Arc<Shared>,
    workers: &mut HashMap<(usize, i32), Worker>,
    record: Arc<Record>,
    config: &ConsumerConfig,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let partition = record.partition;
    for (index, fan_out) in shared.fan_outs().iter().enumerate() {
        if fan_out.had(&record) {
            continue;
        }
        let needs_new_worker = workers
            .get(&(index, partition))
            .is_none_or(|worker| worker.revoked.load(Ordering::SeqCst));
        if needs_new_worker {
            let previous = workers.remove(&(index, partition)).map(|worker| worker.task);
            let (sender, receiver) = mpsc::channel(config.partition_buffer.max(1));
            let revoked = Arc::new(AtomicBool::new(false));
            shared
                .consumer
                .context()
                .live_workers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(partition)
                .or_default()
                .push(Arc::clone(&revoked));
            let task = tokio::spawn(work_partition(
                Arc::clone(shared),
                Arc::clone(fan_out),
                partition,
                receiver,
                KeyQueue::new(config.key_lanes, config.backlog),
                Arc::clone(&revoked),
                previous,
                shutdown.clone(),
            ));
            workers.insert(
                (index, partition),
                Worker {
                    sender,
                    revoked,
                    task: OwnedTask(task),
                },
            );
        }
        let Some(worker) = workers.get(&(index, partition)) else {
            anyhow::bail!("No worker for partition {partition}");
        };
        let mut stop_signal = shutdown.clone();
        tokio::select! {
            sent = worker.sender.send(Arc::clone(&record)) => {
                // A live, unrevoked worker only stops at shutdown or by panicking. Going on would
                // let later records of the partition be committed past one never finished.
                if sent.is_err() && !worker.revoked.load(Ordering::SeqCst) && !*shutdown.borrow() {
                    anyhow::bail!(
                        "The worker of {} on {} partition {partition} stopped unexpectedly",
                        fan_out.subscription.function,
                        shared.plan.topic
                    );
                }
            }
            () = stopped(&mut stop_signal) => return Ok(()),
        }
    }
    Ok(())
}

/// Which key a record belongs to, for [`KeyQueue`]: a hash of the key, or `None` for the
/// records without one (they go one at a time, in offset order). Two keys that share a hash
/// only share their turn.
type KeyId = Option<u64>;

fn key_id(record: &Record) -> KeyId {
    let key = record.key.as_ref()?;
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(key, &mut hasher);
    Some(std::hash::Hasher::finish(&hasher))
}

/// The records of one partition waiting for delivery to one function: at most `slots`
/// deliveries at once, never two of one key, each key's records in offset order. The next
/// delivery is always the lowest-offset record whose key has none in flight, so a slow key
/// (a payment retried for seconds) holds one slot and its own later records, and every other
/// key goes on in the remaining slots. A batch ([`KeyQueue::next_batch`]) takes one slot for
/// the next records of several keys, one each.
#[derive(Debug)]
struct KeyQueue {
    slots: usize,
    capacity: usize,
    waiting: HashMap<KeyId, VecDeque<Arc<Record>>>,
    /// The keys with a record waiting and none in flight, by the offset of their first.
    ready: BTreeMap<i64, KeyId>,
    in_flight: HashSet<KeyId>,
    /// The deliveries (single records or batches) in flight.
    deliveries: usize,
    queued: usize,
}

impl KeyQueue {
    fn new(slots: usize, capacity: usize) -> Self {
        Self {
            slots: slots.max(1),
            capacity: capacity.max(1),
            waiting: HashMap::new(),
            ready: BTreeMap::new(),
            in_flight: HashSet::new(),
            deliveries: 0,
            queued: 0,
        }
    }

    /// Whether another record may wait: the bound that pushes back on the receive loop.
    fn has_room(&self) -> bool {
        self.queued < self.capacity
    }

    fn push(&mut self, record: Arc<Record>) {
        let key = key_id(&record);
        let queue = self.waiting.entry(key).or_default();
        if queue.is_empty() && !self.in_flight.contains(&key) {
            self.ready.insert(record.offset, key);
        }
        queue.push_back(record);
        self.queued += 1;
    }

    /// How many records could go now, one per key whose turn has come.
    fn ready(&self) -> usize {
        self.ready.len()
    }

    /// Whether another delivery may start.
    fn has_free_slot(&self) -> bool {
        self.deliveries < self.slots
    }

    /// The next record to deliver, if a slot is free and a key's turn has come; its key is
    /// then in flight until [`KeyQueue::done`].
    #[cfg(test)]
    fn next(&mut self) -> Option<(KeyId, Arc<Record>)> {
        self.next_batch(1).pop()
    }

    /// Up to `size` records to deliver together, if a slot is free: the first waiting record
    /// of each of the `size` keys whose turn came first, in offset order. Their keys are in
    /// flight until [`KeyQueue::done`].
    fn next_batch(&mut self, size: usize) -> Vec<(KeyId, Arc<Record>)> {
        if !self.has_free_slot() {
            return Vec::new();
        }
        let mut batch = Vec::new();
        while batch.len() < size.max(1) {
            let Some((_, key)) = self.ready.pop_first() else {
                break;
            };
            let Some(record) = self.waiting.get_mut(&key).and_then(VecDeque::pop_front) else {
                continue;
            };
            self.in_flight.insert(key);
            self.queued -= 1;
            batch.push((key, record));
        }
        if !batch.is_empty() {
            self.deliveries += 1;
        }
        batch
    }

    /// A delivery finished with the records of these keys: their next records, if any, may go.
    fn done(&mut self, keys: &[KeyId]) {
        self.deliveries = self.deliveries.saturating_sub(1);
        for key in keys {
            self.in_flight.remove(key);
            match self.waiting.get(key).and_then(VecDeque::front) {
                Some(first) => {
                    self.ready.insert(first.offset, *key);
                }
                None => {
                    self.waiting.remove(key);
                }
            }
        }
    }
}

/// Delivers one partition's records to one function, up to `config.key_lanes` at once and a
/// key's records in order ([`KeyQueue`]); marks the offset up to which every record is
/// finished. On revocation or shutdown, the deliveries in flight finish and the rest are
/// dropped unfinished.
#[allow(clippy::too_many_arguments)]
async fn work_partition(
    shared: Arc<Shared>,
    fan_out: Arc<FanOut>,
    partition: i32,
    mut records: mpsc::Receiver<Arc<Record>>,
    mut queue: KeyQueue,
    revoked: Arc<AtomicBool>,
    previous: Option<OwnedTask>,
    shutdown: watch::Receiver<bool>,
) {
    if let Some(previous) = previous {
        previous.finished().await;
    }
    let mut deliveries: JoinSet<Delivered> = JoinSet::new();
    let (batch_size, batch_window) = (fan_out.subscription.batch_size, fan_out.subscription.batch_window);
    // Since when records have waited for a batch to fill, while a window is set.
    let mut filling_since: Option<Instant> = None;
    let mut window = OffsetWindow::default();
    let mut receiving = true;
    let mut interrupted = false;
    loop {
        let stopping = !receiving || interrupted || revoked.load(Ordering::SeqCst) || *shutdown.borrow();
        if stopping && deliveries.is_empty() {
            break;
        }
        if !stopping {
            loop {
                if queue.ready() == 0 {
                    filling_since = None;
                    break;
                }
                if batch_size > 1 && !batch_window.is_zero() && queue.ready() < batch_size {
                    let since = *filling_since.get_or_insert_with(Instant::now);
                    if since.elapsed() < batch_window {
                        break;
                    }
                }
                let batch = queue.next_batch(batch_size);
                if batch.is_empty() {
                    break;
                }
                filling_since = None;
                let (shared, fan_out, mut shutdown) =
                    (Arc::clone(&shared), Arc::clone(&fan_out), shutdown.clone());
                deliveries.spawn(async move {
                    let (keys, records): (Vec<KeyId>, Vec<Arc<Record>>) = batch.into_iter().unzip();
                    let handled = if let [record] = records.as_slice() {
                        vec![
                            shared
                                .pipeline
                                .handle(&fan_out.subscription, record, &mut shutdown)
                                .await,
                        ]
                    } else {
                        shared
                            .pipeline
                            .handle_batch(&fan_out.subscription, &records, &shutdown)
                            .await
                    };
                    let finished = records
                        .iter()
                        .zip(handled)
                        .map(|(record, handled)| (record.offset, handled.is_finished()))
                        .collect();
                    (keys, finished)
                });
            }
        }
        tokio::select! {
            biased;
            Some(done) = deliveries.join_next(), if !deliveries.is_empty() => match done {
                Ok((keys, finished)) => {
                    queue.done(&keys);
                    for (offset, done) in finished {
                        if !done {
                            // Shutdown interrupted its retries: it stays unfinished, and so
                            // does the rest.
                            interrupted = true;
                        } else if let Some(through) = window.finished(offset) {
                            fan_out.finish_through(partition, through + 1, &revoked);
                        }
                    }
                }
                Err(error) => {
                    // A delivery panicked. The worker stops, and the receive loop, finding it
                    // gone, stops the consumer rather than commit past the record.
                    tracing::error!(function = %fan_out.subscription.function, partition, %error, "A delivery failed unexpectedly.");
                    return;
                }
            },
            () = sleep_until_filled(filling_since, batch_window), if !stopping && filling_since.is_some() && queue.has_free_slot() => {}
            record = records.recv(), if !stopping && queue.has_room() => match record {
                Some(record) => {
                    window.start(record.offset);
                    queue.push(record);
                }
                None => receiving = false,
            },
            else => break,
        }
    }
}

/// What a finished delivery hands back: the keys it held, and each record's offset with
/// whether it is finished (false: shutdown interrupted it).
type Delivered = (Vec<KeyId>, Vec<(i64, bool)>);

/// Completes when a batch that began filling at `since` has waited `window`.
async fn sleep_until_filled(since: Option<Instant>, window: Duration) {
    if let Some(since) = since {
        tokio::time::sleep_until((since + window).into()).await;
    }
}

/// The offsets of a partition taken from the receive loop and not finished yet, and from them the offset
/// through which every record is done: every record below the lowest unfinished one.
#[derive(Debug, Default)]
struct OffsetWindow {
    unfinished: BTreeSet<i64>,
    /// The highest offset taken so far.
    highest_started: Option<i64>,
    /// The highest offset reported done so far.
    stored: Option<i64>,
}

impl OffsetWindow {
    fn start(&mut self, offset: i64) {
        self.unfinished.insert(offset);
        self.highest_started = Some(self.highest_started.map_or(offset, |highest| highest.max(offset)));
    }

    /// Marks `offset` finished; answers the offset through which every record is now done,
    /// if it moved.
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

/// Sets the lag gauge of every function on every assigned partition: high watermark − next
/// offset to deliver.
fn refresh_lag(shared: &Shared) {
    let Ok(assignment) = shared.consumer.assignment() else {
        return;
    };
    let own_group = shared.plan.is_the_functions_group();
    let positions = if own_group {
        shared.consumer.position().ok()
    } else {
        None
    };
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
        for fan_out in shared.fan_outs() {
            let (delivered, start) = {
                let offsets = fan_out.offsets();
                (
                    offsets.finished.get(&partition).copied(),
                    offsets.start.get(&partition).copied(),
                )
            };
            let position = positions
                .as_ref()
                .and_then(|positions| positions.find_partition(topic, partition))
                .and_then(|element| match element.offset() {
                    Offset::Offset(offset) => Some(offset),
                    _ => None,
                });
            let committed_offset = if !own_group {
                start
            } else if delivered.or(position).is_none() {
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
                &fan_out.subscription.function,
                topic,
                partition,
                (high - next).max(0),
            );
        }
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

/// Commits what the workers finished and closes the consumer (leaving the group), off the
/// async workers because both block.
async fn close(shared: Arc<Shared>) {
    let closed = tokio::task::spawn_blocking(move || {
        shared.commit_finished();
        tracing::info!(topic = %shared.plan.topic, functions = %shared.plan.functions(), "Consumer closed.");
        drop(shared);
    })
    .await;
    if let Err(error) = closed {
        tracing::error!(%error, "Closing the consumer failed.");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{KeyId, KeyQueue, OffsetWindow, key_id, next_to_deliver};
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
        // 101 and 103 finish first; 100 (a retried payment, say) is still in flight.
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

    fn taken(queue: &mut KeyQueue) -> Vec<i64> {
        std::iter::from_fn(|| queue.next().map(|(_, record)| record.offset)).collect()
    }

    fn queue_of(slots: usize, records: &[(Option<&str>, i64)]) -> KeyQueue {
        let mut queue = KeyQueue::new(slots, 64);
        for (key, offset) in records {
            queue.push(Arc::new(keyed(*key, *offset)));
        }
        queue
    }

    #[test]
    fn a_slow_key_holds_one_slot_and_the_other_keys_go_on() {
        let mut queue = queue_of(
            2,
            &[
                (Some("slow"), 0),
                (Some("slow"), 1),
                (Some("b"), 2),
                (Some("c"), 3),
                (Some("d"), 4),
            ],
        );
        // The slow key's first record and the next free key's; its second record waits.
        assert_eq!(taken(&mut queue), [0, 2]);
        // The slow key is still in flight: every other key passes its second record.
        queue.done(&[key_id(&keyed(Some("b"), 2))]);
        assert_eq!(taken(&mut queue), [3]);
        queue.done(&[key_id(&keyed(Some("c"), 3))]);
        assert_eq!(taken(&mut queue), [4]);
        // Once it finishes, its second record goes next.
        queue.done(&[key_id(&keyed(Some("slow"), 0))]);
        assert_eq!(taken(&mut queue), [1]);
    }

    #[test]
    fn one_slot_delivers_the_partition_in_offset_order() {
        let mut queue = queue_of(
            1,
            &[
                (Some("a"), 5),
                (Some("b"), 6),
                (Some("a"), 7),
                (None, 8),
                (Some("c"), 9),
            ],
        );
        let mut order = Vec::new();
        while let Some((key, record)) = queue.next() {
            assert!(queue.next().is_none(), "a second delivery while one is in flight");
            order.push(record.offset);
            queue.done(&[key]);
        }
        assert_eq!(order, [5, 6, 7, 8, 9]);
    }

    #[test]
    fn a_batch_takes_one_slot_and_the_next_record_of_each_free_key_in_offset_order() {
        let mut queue = queue_of(
            2,
            &[
                (Some("a"), 0),
                (Some("a"), 1),
                (Some("b"), 2),
                (None, 3),
                (Some("c"), 4),
                (Some("d"), 5),
            ],
        );
        let offsets = |batch: Vec<(KeyId, Arc<Record>)>| {
            batch.iter().map(|(_, record)| record.offset).collect::<Vec<_>>()
        };
        // No two records of a key in one batch: `a`'s second waits for its first.
        let first = queue.next_batch(3);
        assert_eq!(offsets(first.clone()), [0, 2, 3]);
        assert_eq!(offsets(queue.next_batch(3)), [4, 5]);
        // Both slots are taken by the two batches.
        assert!(queue.next_batch(3).is_empty());
        let keys: Vec<KeyId> = first.iter().map(|(key, _)| *key).collect();
        queue.done(&keys);
        assert_eq!(offsets(queue.next_batch(3)), [1]);
    }

    #[test]
    fn records_without_a_key_go_one_at_a_time_in_offset_order() {
        let mut queue = queue_of(4, &[(None, 1), (None, 2), (Some("a"), 3)]);
        assert_eq!(taken(&mut queue), [1, 3]);
        queue.done(&[None]);
        assert_eq!(taken(&mut queue), [2]);
    }

    #[test]
    fn a_full_queue_takes_no_more_until_a_record_leaves_it() {
        let mut queue = KeyQueue::new(1, 2);
        queue.push(Arc::new(keyed(Some("a"), 1)));
        queue.push(Arc::new(keyed(Some("a"), 2)));
        assert!(!queue.has_room());
        assert!(queue.next().is_some());
        assert!(queue.has_room());
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
