//! The AWS Lambda Kafka event source mapping (MSK and self-managed Kafka) as a trigger.
//!
//! Lambda hands the function a batch: records grouped by `<topic>-<partition>`, in offset
//! order, with base64 keys and values and headers as signed bytes. Each record is decoded with
//! the platform's own CloudEvent codec (so Lambda binaries need no librdkafka), and a
//! partition's records go to the handler together, in order (a handler that batches applies
//! them in one transaction). The first record of a partition that is not acknowledged is reported as a batch item
//! failure and the rest of that partition is left for the next delivery, which keeps per-key
//! order. Rejected records are reported too: Lambda retries them up to the mapping's
//! `MaximumRetryAttempts` and then sends them to its on-failure destination (our dead-letter
//! topic), so nothing is silently dropped (docs/adr/0005).
//!
//! The same function also answers HTTP events (a Function URL, API Gateway, or
//! `cargo lambda watch`'s `/lambda-url/<fn>/…`) with the router it serves on `$PORT`, so a
//! CloudEvent POSTed over HTTP and a Kafka batch reach the same handler under Lambda too.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lambda_events::event::kafka::{KafkaEvent, KafkaRecord};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use cloudevents::Event;
use lambda_runtime::{LambdaEvent, service_fn};
use serde::Serialize;

use crate::events::{Delivery, EventHandler, Outcome, Trigger, handle_many};

/// The partial-batch response of a Kafka event source mapping. `aws_lambda_events` has no
/// type for it yet, so it is defined here.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KafkaBatchResponse {
    pub batch_item_failures: Vec<BatchItemFailure>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemFailure {
    pub item_identifier: ItemIdentifier,
}

/// Names the record from which Lambda resumes its partition.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ItemIdentifier {
    /// `<topic>-<partition>`, as in the event's `records` map.
    pub partition: String,
    pub offset: i64,
}

/// Runs the handler under the Lambda Runtime API until the function is shut down.
///
/// Kafka batches go to [`handle_batch`]; any other payload is taken for an HTTP event and
/// answered by `http_router`, the router the function serves on `$PORT`.
pub async fn run<H: EventHandler>(
    handler: Arc<H>,
    function: String,
    http_router: axum::Router,
) -> anyhow::Result<()> {
    let function = Arc::new(function);
    // The futures are boxed at each step: a release build inlines them otherwise, and the
    // compiler's layout queries for the event functions' futures (the consumer runner inside)
    // overflow their depth limit (seen building void-payment for arm64 Lambda).
    let serving = lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let handler = Arc::clone(&handler);
        let function = Arc::clone(&function);
        let http_router = http_router.clone();
        async move {
            let LambdaEvent { payload, context } = event;
            if is_kafka_event(&payload) {
                let batch: KafkaEvent = serde_json::from_value(payload)?;
                let response = Box::pin(handle_batch(handler.as_ref(), &function, batch)).await;
                return Ok::<_, lambda_runtime::Error>(serde_json::to_value(response)?);
            }
            let request: lambda_http::request::LambdaRequest =
                serde_json::from_value(payload).map_err(|error| {
                    format!("the payload is neither a Kafka batch nor an HTTP event: {error}")
                })?;
            let mut adapter = lambda_http::Adapter::from(http_router);
            let response = Box::pin(tower::Service::call(
                &mut adapter,
                LambdaEvent::new(request, context),
            ))
            .await?;
            Ok(serde_json::to_value(response)?)
        }
    }));
    Box::pin(serving)
        .await
        .map_err(|error| anyhow::anyhow!("The Lambda runtime stopped: {error}"))
}

/// A Kafka event source mapping's payload: MSK (`aws:kafka`) or self-managed Kafka.
fn is_kafka_event(payload: &serde_json::Value) -> bool {
    matches!(
        payload.get("eventSource").and_then(serde_json::Value::as_str),
        Some("aws:kafka" | "SelfManagedKafka")
    ) && payload.get("records").is_some()
}

/// Handles one batch and says which records Lambda must deliver again.
pub async fn handle_batch<H: EventHandler>(
    handler: &H,
    function: &str,
    batch: KafkaEvent,
) -> KafkaBatchResponse {
    // A sorted map keeps the processing order stable, which makes logs and tests predictable.
    let partitions: BTreeMap<String, Vec<KafkaRecord>> = batch.records.into_iter().collect();
    let mut response = KafkaBatchResponse::default();
    for (partition_name, mut records) in partitions {
        records.sort_by_key(|record| record.offset);
        // The records up to the first one that is not a CloudEvent go to the handler together
        // (one transaction for a handler that batches); that one, if any, is then reported.
        let mut readable = Vec::with_capacity(records.len());
        let mut unreadable = None;
        for record in records {
            let offset = record.offset;
            match decode_record(function, &partition_name, record) {
                Ok(decoded) => readable.push(decoded),
                Err(_rejected) => {
                    unreadable = Some(offset);
                    break;
                }
            }
        }
        let outcomes = handle_many(handler, function, &readable).await;
        let failed = readable
            .iter()
            .zip(&outcomes)
            .find(|(_, outcome)| **outcome != Outcome::Ack)
            .and_then(|((_, delivery), _)| delivery.offset)
            .or(unreadable);
        if let Some(offset) = failed {
            response.batch_item_failures.push(BatchItemFailure {
                item_identifier: ItemIdentifier {
                    partition: partition_name.clone(),
                    offset,
                },
            });
        }
    }
    response
}

/// The record as a CloudEvent with its coordinates, or the rejection of a record that is not one.
fn decode_record(
    function: &str,
    partition_name: &str,
    record: KafkaRecord,
) -> Result<(Event, Delivery), Outcome> {
    let key = record
        .key
        .as_deref()
        .and_then(|key| BASE64.decode(key).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    let delivery = Delivery {
        trigger: Trigger::LambdaKafka,
        topic: record.topic.clone().or_else(|| topic_of(partition_name)),
        partition: i32::try_from(record.partition).ok(),
        offset: Some(record.offset),
        key,
        published_at: Some(record.timestamp.0),
        attempt: 1,
    };
    let payload = match record.value.as_deref().map(|value| BASE64.decode(value)) {
        Some(Ok(bytes)) => Some(bytes),
        None => None,
        Some(Err(error)) => {
            return Err(reject_undecodable(
                function,
                &delivery,
                &format!("the value is not base64: {error}"),
            ));
        }
    };
    let headers: Vec<events::kafka::Header> = record
        .headers
        .iter()
        .flat_map(|header| header.iter())
        .map(|(key, value)| events::kafka::Header {
            key: key.clone(),
            // Lambda sends header bytes as signed integers; reinterpret them as bytes.
            value: Some(value.iter().map(|byte| byte.to_ne_bytes()[0]).collect()),
        })
        .collect();
    match events::kafka::decode(&headers, payload.as_deref()) {
        Ok(event) => Ok((event, delivery)),
        Err(error) => Err(reject_undecodable(function, &delivery, &error.to_string())),
    }
}

fn reject_undecodable(function: &str, delivery: &Delivery, reason: &str) -> Outcome {
    tracing::error!(
        function,
        topic = delivery.topic.as_deref().unwrap_or_default(),
        partition = delivery.partition,
        offset = delivery.offset,
        reason,
        "Record is not a CloudEvent; rejected"
    );
    telemetry::record_event_handled(
        function,
        "undecodable",
        telemetry::EventOutcome::PermanentFailure,
        std::time::Duration::ZERO,
    );
    Outcome::Reject(format!("not a CloudEvent: {reason}"))
}

/// `orders-3` → `orders`: the topic part of a `<topic>-<partition>` key.
fn topic_of(partition_name: &str) -> Option<String> {
    partition_name.rsplit_once('-').map(|(topic, _)| topic.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_batches_are_told_apart_from_http_events() {
        let self_managed = serde_json::json!({"eventSource": "SelfManagedKafka", "records": {}});
        let msk = serde_json::json!({"eventSource": "aws:kafka", "eventSourceArn": "arn", "records": {}});
        let function_url = serde_json::json!({"version": "2.0", "rawPath": "/healthz", "requestContext": {"http": {"method": "GET"}}});
        assert!(is_kafka_event(&self_managed));
        assert!(is_kafka_event(&msk));
        assert!(!is_kafka_event(&function_url));
    }

    #[test]
    fn the_topic_is_the_part_before_the_last_dash() {
        assert_eq!(
            topic_of("commerce.catalog.product-3").as_deref(),
            Some("commerce.catalog.product")
        );
        assert_eq!(topic_of("my-topic-12").as_deref(), Some("my-topic"));
    }
}
