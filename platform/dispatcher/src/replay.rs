//! Replay: the delivery pipeline fed by a throw-away consumer instead of a consumer group.
//!
//! It reads one topic from the beginning, an offset or a time (`offsets_for_times`), with
//! `assign` and no commits — the function's group offsets are untouched — and stops at the
//! high watermarks captured at the start, so records produced meanwhile are not chased.
//! Records go through [`Pipeline::handle`] like live ones (retries, dead letters), one at a
//! time, which keeps the order of every partition.
//!
//! Replaying a function's dead-letter topic (`<topic>.dlq.<function>`) re-delivers the dead
//! letters to it; those that fail again go back to that same dead-letter topic.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cloudevents::AttributesReader;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;

use crate::dead_letter::ensure_dead_letter_topics;
use crate::delivery::stopped;
use crate::pipeline::{DeliveryConfig, Handled, Pipeline};
use crate::record::Record;
use crate::subscription::Subscription;

/// Where in the topic replay starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartFrom {
    Beginning,
    /// The same offset in every partition.
    Offset(i64),
    /// The first record at or after this time (milliseconds since the epoch).
    Timestamp(i64),
}

/// What to replay to whom.
#[derive(Debug, Clone)]
pub struct ReplayRequest {
    /// The function and its URL; `topic` is the topic read (a dead-letter topic is allowed).
    pub subscription: Subscription,
    pub start: StartFrom,
    /// Only events of this CloudEvents type.
    pub event_type: Option<String>,
    /// Only records with this key.
    pub key: Option<String>,
    /// Count what would be delivered without delivering.
    pub dry_run: bool,
    /// At most this many deliveries per second.
    pub rate: Option<f64>,
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    pub read: u64,
    pub filtered_out: u64,
    pub acknowledged: u64,
    pub dead_lettered: u64,
    /// Matched but not delivered (dry run).
    pub would_deliver: u64,
    /// Shutdown stopped the replay before the end.
    pub interrupted: bool,
}

/// Replays until the captured high watermarks are reached or `shutdown` turns true.
/// `progress` is called after every record with the summary so far and the total to read.
pub async fn replay(
    config: &DeliveryConfig,
    request: ReplayRequest,
    mut shutdown: watch::Receiver<bool>,
    mut progress: impl FnMut(&ReplaySummary, u64),
) -> anyhow::Result<ReplaySummary> {
    let subscription = dead_letters_back_to_source(request.subscription.clone());
    let read_topic = request.subscription.topic.clone();
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &config.bootstrap_servers)
        // A group id is required by librdkafka, but nothing is ever committed to it.
        .set(
            "group.id",
            format!("replay.{}.{}", subscription.function, std::process::id()),
        )
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .create()?;
    let consumer = std::sync::Arc::new(consumer);
    let (assignment, ends) = {
        let consumer = std::sync::Arc::clone(&consumer);
        let topic = read_topic.clone();
        let start = request.start;
        tokio::task::spawn_blocking(move || plan(&consumer, &topic, start)).await??
    };
    let total: u64 = ends
        .values()
        .map(|(start, end)| u64::try_from(end - start).unwrap_or(0))
        .sum();
    let mut remaining: HashMap<i32, i64> = ends
        .iter()
        .map(|(partition, (_, end))| (*partition, *end))
        .collect();
    let mut summary = ReplaySummary::default();
    if remaining.is_empty() {
        return Ok(summary);
    }
    let pipeline = if request.dry_run {
        None
    } else {
        ensure_dead_letter_topics(&config.bootstrap_servers, std::slice::from_ref(&subscription)).await?;
        Some(Pipeline::new(config)?)
    };
    consumer.assign(&assignment)?;
    let pause = request
        .rate
        .filter(|rate| *rate > 0.0)
        .map(|rate| Duration::from_secs_f64(1.0 / rate));
    let mut last_delivery: Option<Instant> = None;
    let mut stop_signal = shutdown.clone();

    while !remaining.is_empty() {
        let received = tokio::select! {
            received = consumer.recv() => received,
            () = stopped(&mut stop_signal) => { summary.interrupted = true; break; }
        };
        let record = match received {
            Ok(message) => Record::from_message(&message),
            Err(error) => {
                tracing::warn!(%error, "Consuming failed; librdkafka retries.");
                continue;
            }
        };
        let Some(end) = remaining.get(&record.partition).copied() else {
            continue;
        };
        if record.offset >= end {
            remaining.remove(&record.partition);
            continue;
        }
        if record.offset + 1 >= end {
            remaining.remove(&record.partition);
        }
        summary.read += 1;
        if !matches(&request, &record) {
            summary.filtered_out += 1;
        } else if let Some(pipeline) = &pipeline {
            if let (Some(pause), Some(last)) = (pause, last_delivery) {
                tokio::time::sleep(pause.saturating_sub(last.elapsed())).await;
            }
            last_delivery = Some(Instant::now());
            match pipeline.handle(&subscription, &record, &mut shutdown).await {
                Handled::Acknowledged => summary.acknowledged += 1,
                Handled::DeadLettered => summary.dead_lettered += 1,
                Handled::Interrupted => {
                    summary.interrupted = true;
                    break;
                }
            }
        } else {
            summary.would_deliver += 1;
        }
        progress(&summary, total);
    }
    Ok(summary)
}

/// Per partition: (first offset to read, high watermark captured at the start).
type PartitionRanges = HashMap<i32, (i64, i64)>;

/// The partitions to read from their start offsets, and per partition (start, end) where end
/// is the high watermark captured now.
fn plan(
    consumer: &StreamConsumer,
    topic: &str,
    start: StartFrom,
) -> anyhow::Result<(TopicPartitionList, PartitionRanges)> {
    let timeout = Duration::from_secs(10);
    let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|described| described.name() == topic && described.error().is_none())
        .flat_map(|described| described.partitions().iter().map(|partition| partition.id()))
        .collect();
    anyhow::ensure!(!partitions.is_empty(), "The topic {topic} does not exist");
    let by_time = match start {
        StartFrom::Timestamp(millis) => {
            let mut wanted = TopicPartitionList::new();
            for partition in &partitions {
                wanted.add_partition_offset(topic, *partition, Offset::Offset(millis))?;
            }
            Some(consumer.offsets_for_times(wanted, timeout)?)
        }
        _ => None,
    };
    let mut assignment = TopicPartitionList::new();
    let mut ends = HashMap::new();
    for partition in partitions {
        let (low, high) = consumer.fetch_watermarks(topic, partition, timeout)?;
        let first = match start {
            StartFrom::Beginning => low,
            StartFrom::Offset(offset) => offset.max(low),
            StartFrom::Timestamp(_) => by_time
                .as_ref()
                .and_then(|found| found.find_partition(topic, partition))
                .and_then(|element| match element.offset() {
                    Offset::Offset(offset) => Some(offset),
                    // No record at or after the time in this partition.
                    _ => None,
                })
                .unwrap_or(high),
        };
        if first < high {
            assignment.add_partition_offset(topic, partition, Offset::Offset(first))?;
            ends.insert(partition, (first, high));
        }
    }
    Ok((assignment, ends))
}

fn matches(request: &ReplayRequest, record: &Record) -> bool {
    if let Some(key) = &request.key
        && record.key_text().as_deref() != Some(key.as_str())
    {
        return false;
    }
    if let Some(event_type) = &request.event_type {
        return events::kafka::decode(&record.headers, record.payload.as_deref())
            .is_ok_and(|event| event.ty() == event_type);
    }
    true
}

/// Reading `<topic>.dlq.<function>` for that function: failures go back to the same
/// dead-letter topic rather than to `<topic>.dlq.<function>.dlq.<function>`.
fn dead_letters_back_to_source(mut subscription: Subscription) -> Subscription {
    let suffix = format!(".dlq.{}", subscription.function);
    if let Some(source) = subscription.topic.strip_suffix(&suffix) {
        subscription.topic = source.to_owned();
    }
    subscription
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaying_a_dead_letter_topic_dead_letters_back_into_it() {
        let subscription = Subscription::parse("f=commerce.ordering.order.dlq.f=http://127.0.0.1:1/", "")
            .expect("valid subscription");
        assert_eq!(
            dead_letters_back_to_source(subscription).dead_letter_topic(),
            "commerce.ordering.order.dlq.f"
        );
        let other = Subscription::parse("f=commerce.ordering.order=http://127.0.0.1:1/", "").expect("valid");
        assert_eq!(
            dead_letters_back_to_source(other).dead_letter_topic(),
            "commerce.ordering.order.dlq.f"
        );
    }
}
