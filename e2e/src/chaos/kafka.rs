//! Reading what is on Kafka since the run began: the saga's topics (to compare with what the
//! databases say happened) and every dead-letter topic.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// A record's coordinates and the headers the checks read, copied out of librdkafka.
#[derive(Debug, Clone)]
pub struct SeenRecord {
    pub topic: String,
    pub key: String,
    pub headers: HashMap<String, String>,
}

impl SeenRecord {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

const TIMEOUT: Duration = Duration::from_secs(30);

/// Every topic whose name says it holds a function's dead letters (`<topic>.dlq.<function>`).
pub fn dead_letter_topics(bootstrap_servers: &str) -> anyhow::Result<Vec<String>> {
    let consumer = consumer(bootstrap_servers)?;
    let metadata = consumer.fetch_metadata(None, TIMEOUT)?;
    let mut topics: Vec<String> = metadata
        .topics()
        .iter()
        .map(|topic| topic.name().to_owned())
        .filter(|name| name.contains(".dlq."))
        .collect();
    topics.sort();
    Ok(topics)
}

/// Every record of `topics` written at or after `since_millis`, up to the topics' ends as
/// they are now. Blocking; the whole read must finish within `deadline`.
pub fn records_since(
    bootstrap_servers: &str,
    topics: &[String],
    since_millis: i64,
    deadline: Duration,
) -> anyhow::Result<Vec<SeenRecord>> {
    let consumer = consumer(bootstrap_servers)?;
    let mut wanted = TopicPartitionList::new();
    for topic in topics {
        let metadata = consumer.fetch_metadata(Some(topic.as_str()), TIMEOUT)?;
        for described in metadata
            .topics()
            .iter()
            .filter(|described| described.name() == topic.as_str())
        {
            for partition in described.partitions() {
                wanted.add_partition_offset(topic, partition.id(), Offset::Offset(since_millis))?;
            }
        }
    }
    let starts = consumer.offsets_for_times(wanted, TIMEOUT)?;
    let mut assignment = TopicPartitionList::new();
    let mut ends: HashMap<(String, i32), i64> = HashMap::new();
    for element in starts.elements() {
        // No record at or after the time: nothing to read in this partition.
        let Offset::Offset(start) = element.offset() else {
            continue;
        };
        let (_, high) = consumer.fetch_watermarks(element.topic(), element.partition(), TIMEOUT)?;
        if start < high {
            assignment.add_partition_offset(element.topic(), element.partition(), Offset::Offset(start))?;
            ends.insert((element.topic().to_owned(), element.partition()), high);
        }
    }
    let mut records = Vec::new();
    if ends.is_empty() {
        return Ok(records);
    }
    consumer.assign(&assignment)?;
    let started = Instant::now();
    while !ends.is_empty() {
        anyhow::ensure!(
            started.elapsed() < deadline,
            "reading {topics:?} to their ends took longer than {deadline:?}"
        );
        let Some(received) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let message = match received {
            Ok(message) => message,
            Err(error) => {
                eprintln!("chaos: reading Kafka: {error}; trying again");
                continue;
            }
        };
        let place = (message.topic().to_owned(), message.partition());
        let Some(end) = ends.get(&place).copied() else {
            continue;
        };
        if message.offset() + 1 >= end {
            ends.remove(&place);
        }
        if message.offset() >= end {
            continue;
        }
        let headers = message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .map(|header| {
                        (
                            header.key.to_owned(),
                            String::from_utf8_lossy(header.value.unwrap_or_default()).into_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        records.push(SeenRecord {
            topic: place.0,
            key: String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned(),
            headers,
        });
    }
    Ok(records)
}

fn consumer(bootstrap_servers: &str) -> anyhow::Result<BaseConsumer> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", bootstrap_servers)
        // Needed by librdkafka for offsets_for_times; nothing is ever committed to it.
        .set(
            "group.id",
            format!("chaos-reader-{}", uuid::Uuid::now_v7().simple()),
        )
        .set("enable.auto.commit", "false")
        .create()?)
}
