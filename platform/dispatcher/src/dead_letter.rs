//! Dead letters: records a function rejected, could not handle within its attempts, or that
//! are not CloudEvents at all, go to `<topic>.dlq.<function>`.
//!
//! A dead letter is the original record — same key, value and headers, so it can be replayed
//! to the function as it was — plus `dlq-*` headers saying why, where it came from and when it
//! failed. Producing it is retried until it succeeds: the record's offset is stored only after
//! that, so a record is never both lost and skipped.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::sync::watch;

use crate::backoff::RetryPolicy;
use crate::delivery::sleep_unless_shutdown;
use crate::metrics;
use crate::record::Record;
use crate::subscription::Subscription;

pub const REASON: &str = "dlq-reason";
pub const FUNCTION: &str = "dlq-function";
pub const ATTEMPTS: &str = "dlq-attempts";
pub const ORIGINAL_TOPIC: &str = "dlq-original-topic";
pub const ORIGINAL_PARTITION: &str = "dlq-original-partition";
pub const ORIGINAL_OFFSET: &str = "dlq-original-offset";
pub const ORIGINAL_TIMESTAMP: &str = "dlq-original-timestamp";
pub const FAILED_AT: &str = "dlq-failed-at";

/// Every header this module writes starts with this; older ones are replaced, so a dead
/// letter that is replayed and fails again says why it failed the last time.
const DLQ_HEADER_PREFIX: &str = "dlq-";

/// Why and where a record failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure<'a> {
    pub function: &'a str,
    pub reason: &'a str,
    /// HTTP attempts made; 0 for a record that could not even be decoded.
    pub attempts: u32,
    pub failed_at: DateTime<Utc>,
}

/// The dead letter's headers: the original ones (minus earlier `dlq-*` ones) followed by the
/// failure's. Values are text so that any Kafka tool shows them.
pub fn dead_letter_headers(record: &Record, failure: &Failure<'_>) -> Vec<(String, Option<Vec<u8>>)> {
    let mut headers: Vec<(String, Option<Vec<u8>>)> = record
        .headers
        .iter()
        .filter(|header| !header.key.starts_with(DLQ_HEADER_PREFIX))
        .map(|header| (header.key.clone(), header.value.clone()))
        .collect();
    let timestamp = record
        .timestamp_millis
        .map(|millis| millis.to_string())
        .unwrap_or_default();
    let failure_headers = [
        (REASON, failure.reason.to_owned()),
        (FUNCTION, failure.function.to_owned()),
        (ATTEMPTS, failure.attempts.to_string()),
        (ORIGINAL_TOPIC, record.topic.clone()),
        (ORIGINAL_PARTITION, record.partition.to_string()),
        (ORIGINAL_OFFSET, record.offset.to_string()),
        (ORIGINAL_TIMESTAMP, timestamp),
        (
            FAILED_AT,
            failure
                .failed_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ),
    ];
    headers.extend(
        failure_headers
            .into_iter()
            .map(|(key, value)| (key.to_owned(), Some(value.into_bytes()))),
    );
    headers
}

/// Produces dead letters with an idempotent producer (acks=all), so a retried send neither
/// loses nor duplicates a dead letter within one producer session.
pub struct DeadLetterProducer {
    producer: FutureProducer,
    retry: RetryPolicy,
}

impl std::fmt::Debug for DeadLetterProducer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("DeadLetterProducer")
            .finish_non_exhaustive()
    }
}

/// How long one produce may wait for the broker before it is retried from our side.
const PRODUCE_TIMEOUT: Duration = Duration::from_secs(30);

impl DeadLetterProducer {
    pub fn new(bootstrap_servers: &str, retry: RetryPolicy) -> anyhow::Result<Self> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap_servers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            // Same placement as the Java clients, like every producer of the platform.
            .set("partitioner", "murmur2_random")
            .set("message.timeout.ms", PRODUCE_TIMEOUT.as_millis().to_string())
            .create()?;
        Ok(Self { producer, retry })
    }

    /// Sends the dead letter, retrying (with backoff, capped) until the broker has it.
    /// Returns false only if shutdown began first; the record then stays unstored.
    pub async fn send(
        &self,
        subscription: &Subscription,
        record: &Record,
        failure: &Failure<'_>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> bool {
        let topic = subscription.dead_letter_topic();
        let headers = dead_letter_headers(record, failure);
        let mut attempt = 1;
        loop {
            let owned = headers.iter().fold(
                OwnedHeaders::new_with_capacity(headers.len()),
                |all, (key, value)| {
                    all.insert(KafkaHeader {
                        key,
                        value: value.as_deref(),
                    })
                },
            );
            let mut kafka_record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&topic).headers(owned);
            if let Some(key) = record.key.as_deref() {
                kafka_record = kafka_record.key(key);
            }
            if let Some(payload) = record.payload.as_deref() {
                kafka_record = kafka_record.payload(payload);
            }
            match self.producer.send(kafka_record, PRODUCE_TIMEOUT).await {
                Ok(_) => {
                    metrics::dead_lettered(failure.function, &record.topic);
                    return true;
                }
                Err((error, _)) => {
                    metrics::dead_letter_produce_failed(failure.function, &record.topic);
                    let wait = self.retry.delay(attempt);
                    tracing::error!(
                        function = failure.function,
                        topic = %record.topic,
                        partition = record.partition,
                        offset = record.offset,
                        dead_letter_topic = %topic,
                        attempt,
                        %error,
                        "Producing a dead letter failed; retrying, the partition waits."
                    );
                    if !sleep_unless_shutdown(wait, shutdown).await {
                        return false;
                    }
                    attempt = attempt.saturating_add(1);
                }
            }
        }
    }
}

/// Creates the dead-letter topics of `subscriptions` that do not exist yet (broker-side
/// auto-creation is off), with the partition count and replication of their source topic.
///
/// A missing source topic is an error: topics are declared, not discovered, and a typo in a
/// subscription should stop the dispatcher rather than leave a function silently idle.
pub async fn ensure_dead_letter_topics(
    bootstrap_servers: &str,
    subscriptions: &[Subscription],
) -> anyhow::Result<()> {
    let mut wanted = Vec::new();
    for subscription in subscriptions {
        let (partitions, replication) = describe_topic(bootstrap_servers, &subscription.topic).await?;
        wanted.push((subscription.dead_letter_topic(), partitions, replication));
    }
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap_servers)
        .create()?;
    let new_topics: Vec<NewTopic<'_>> = wanted
        .iter()
        .map(|(name, partitions, replication)| {
            NewTopic::new(name, *partitions, TopicReplication::Fixed(*replication))
        })
        .collect();
    let results = admin.create_topics(&new_topics, &AdminOptions::new()).await?;
    for result in results {
        match result {
            Ok(name) => tracing::info!(dead_letter_topic = %name, "Created a dead-letter topic."),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => anyhow::bail!("Creating the dead-letter topic {name} failed: {code}"),
        }
    }
    Ok(())
}

/// How long the start-up waits for a broker that does not answer metadata requests yet.
const BROKER_START_GRACE: Duration = Duration::from_secs(60);
/// How long one metadata request may take. Short, because a request in progress is the
/// only thing a shutdown during start-up waits for.
const METADATA_TIMEOUT: Duration = Duration::from_secs(3);

/// The partition count and replication factor of an existing topic.
///
/// A broker that has just started accepts connections a moment before it answers metadata
/// requests: a dispatcher started with it waits (up to [`BROKER_START_GRACE`]) rather than
/// exits. The wait is async, so dropping the future (a shutdown) ends it between attempts.
async fn describe_topic(bootstrap_servers: &str, topic: &str) -> anyhow::Result<(i32, i32)> {
    let client: Arc<BaseConsumer> = Arc::new(
        ClientConfig::new()
            .set("bootstrap.servers", bootstrap_servers)
            .create()?,
    );
    let deadline = tokio::time::Instant::now() + BROKER_START_GRACE;
    let metadata = loop {
        let (client, wanted) = (Arc::clone(&client), topic.to_owned());
        // Metadata requests block; keep them off the async workers.
        let fetched =
            tokio::task::spawn_blocking(move || client.fetch_metadata(Some(&wanted), METADATA_TIMEOUT))
                .await?;
        match fetched {
            Ok(metadata) => break metadata,
            Err(error) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(%topic, %error, "Reading the topic's metadata failed; trying again.");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) => return Err(error.into()),
        }
    };
    let described = metadata
        .topics()
        .iter()
        .find(|described| described.name() == topic)
        .filter(|described| described.error().is_none() && !described.partitions().is_empty())
        .ok_or_else(|| {
            anyhow::anyhow!("The topic {topic} does not exist; create it before subscribing to it")
        })?;
    let partitions = i32::try_from(described.partitions().len())?;
    let replication = described
        .partitions()
        .first()
        .map_or(1, |partition| partition.replicas().len().max(1));
    Ok((partitions, i32::try_from(replication)?))
}

#[cfg(test)]
mod tests {
    use events::kafka::Header;

    use super::*;

    fn header<'a>(headers: &'a [(String, Option<Vec<u8>>)], key: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(name, _)| name == key)
            .and_then(|(_, value)| value.as_deref())
            .and_then(|value| std::str::from_utf8(value).ok())
    }

    #[test]
    fn a_dead_letter_keeps_the_original_headers_and_says_why_and_where() {
        let record = Record {
            topic: "commerce.ordering.order".into(),
            partition: 4,
            offset: 17,
            timestamp_millis: Some(1_700_000_000_123),
            key: Some(b"order-1".to_vec()),
            payload: Some(b"{}".to_vec()),
            headers: vec![
                Header {
                    key: "ce_id".into(),
                    value: Some(b"e-1".to_vec()),
                },
                Header {
                    key: "odd".into(),
                    value: None,
                },
                Header {
                    key: "dlq-reason".into(),
                    value: Some(b"an older failure".to_vec()),
                },
            ],
            unreadable_headers: 0,
        };
        let failed_at = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let failure = Failure {
            function: "reserve-stock",
            reason: "rejected: HTTP 422",
            attempts: 1,
            failed_at,
        };
        let headers = dead_letter_headers(&record, &failure);

        assert_eq!(header(&headers, "ce_id"), Some("e-1"));
        assert!(headers.iter().any(|(key, value)| key == "odd" && value.is_none()));
        assert_eq!(headers.iter().filter(|(key, _)| key == REASON).count(), 1);
        assert_eq!(header(&headers, REASON), Some("rejected: HTTP 422"));
        assert_eq!(header(&headers, FUNCTION), Some("reserve-stock"));
        assert_eq!(header(&headers, ATTEMPTS), Some("1"));
        assert_eq!(header(&headers, ORIGINAL_TOPIC), Some("commerce.ordering.order"));
        assert_eq!(header(&headers, ORIGINAL_PARTITION), Some("4"));
        assert_eq!(header(&headers, ORIGINAL_OFFSET), Some("17"));
        assert_eq!(header(&headers, ORIGINAL_TIMESTAMP), Some("1700000000123"));
        assert_eq!(header(&headers, FAILED_AT), Some("2026-11-25T10:00:00.000Z"));
    }
}
