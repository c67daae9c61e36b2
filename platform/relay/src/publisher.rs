//! The Kafka side: each outbox row becomes one binary-mode CloudEvent record.
//!
//! The producer is idempotent with `acks=all`, so retries inside librdkafka neither duplicate
//! nor reorder records of one partition; the key is the aggregate id, so an aggregate's
//! events stay in one partition, in commit order.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};

use crate::error::RelayError;
use crate::outbox::OutboxRow;

/// How long librdkafka keeps retrying one record before its delivery report is an error.
/// Long, because an error stops the relay: a short broker outage should only delay events.
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(300);

/// The producer's default `linger.ms`. Against 5 ms, 1 ms kept the drain rate and took about
/// 4 ms off the median latency (docs/benchmarks/relay.md, "linger.ms").
pub const DEFAULT_LINGER: Duration = Duration::from_millis(1);

/// How long to wait before offering a record again when the producer's queue is full.
const QUEUE_FULL_PAUSE: Duration = Duration::from_millis(10);

/// Publishes outbox rows to their topics.
#[derive(Clone)]
pub struct Publisher {
    producer: FutureProducer,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Publisher").finish_non_exhaustive()
    }
}

/// A record handed to the producer, whose delivery report is still to come.
pub struct PendingDelivery {
    event_id: String,
    topic: String,
    report: DeliveryFuture,
}

impl std::fmt::Debug for PendingDelivery {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PendingDelivery")
            .field("event_id", &self.event_id)
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl PendingDelivery {
    /// Waits for the broker's acknowledgement of this record.
    pub async fn acknowledged(self) -> Result<(), RelayError> {
        let failed = |reason: String| RelayError::Delivery {
            event_id: self.event_id.clone(),
            topic: self.topic.clone(),
            reason,
        };
        match self.report.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err((error, _))) => Err(failed(error.to_string())),
            Err(_) => Err(failed("the producer was dropped before reporting".to_owned())),
        }
    }
}

impl Publisher {
    /// A publisher whose producer waits up to `linger` to fill a batch ([`DEFAULT_LINGER`]).
    pub fn new(bootstrap_servers: &str, linger: Duration) -> Result<Self, RelayError> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap_servers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            // murmur2 of the key, as the Java client's default partitioner does, so a key lands
            // on the same partition whichever language's client produced it.
            .set("partitioner", "murmur2_random")
            .set("linger.ms", linger.as_millis().to_string())
            .set("compression.type", "lz4")
            .set("message.timeout.ms", MESSAGE_TIMEOUT.as_millis().to_string())
            .create()
            .map_err(|error| {
                RelayError::Unexpected(anyhow::anyhow!("cannot create the Kafka producer: {error}"))
            })?;
        Ok(Self { producer })
    }

    /// Hands one row to the producer and returns its pending delivery report. Waits while the
    /// producer's queue is full, which slows the binlog reader down instead of failing.
    pub async fn publish(&self, row: &OutboxRow) -> Result<PendingDelivery, RelayError> {
        let record = events::kafka::encode_binary(&row.to_cloud_event()?);
        let headers = record
            .headers
            .iter()
            .fold(OwnedHeaders::new(), |headers, header| {
                headers.insert(Header {
                    key: &header.key,
                    value: header.value.as_deref(),
                })
            });
        let key = record
            .key
            .unwrap_or_else(|| row.aggregate_id.clone().into_bytes());
        let payload = record.payload.unwrap_or_default();
        let mut future_record = FutureRecord::to(&row.topic)
            .key(&key)
            .payload(&payload)
            .headers(headers);
        loop {
            match self.producer.send_result(future_record) {
                Ok(report) => {
                    return Ok(PendingDelivery {
                        event_id: row.id.clone(),
                        topic: row.topic.clone(),
                        report,
                    });
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    future_record = returned;
                    tokio::time::sleep(QUEUE_FULL_PAUSE).await;
                }
                Err((error, _)) => {
                    return Err(RelayError::Delivery {
                        event_id: row.id.clone(),
                        topic: row.topic.clone(),
                        reason: error.to_string(),
                    });
                }
            }
        }
    }
}
