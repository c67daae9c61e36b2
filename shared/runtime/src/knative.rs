//! CloudEvents over HTTP POST: the delivery of Knative's KafkaSource and of the local trigger
//! dispatcher.
//!
//! Both post one event per request to `/`, in binary mode (`ce-*` headers) or structured mode
//! (`application/cloudevents+json`). The answer follows the Knative delivery rules: 2xx is
//! done, 503 is retried with backoff, and 422 or 400 is final — the sender dead-letters it.
//!
//! The local dispatcher adds the record's coordinates as `x-kafka-topic`, `x-kafka-partition`,
//! `x-kafka-offset`, `x-kafka-timestamp` and `x-delivery-attempt` headers; KafkaSource does not,
//! so they are optional.
//!
//! For a function whose template sets `Metadata.DeliveryBatchSize`, the local dispatcher also
//! posts batches: several records of one partition, no two of one key, as a JSON array of
//! structured CloudEvents (`application/cloudevents-batch+json`, the binding's batched mode),
//! with the offsets and timestamps as comma-separated lists in `x-kafka-offsets` and
//! `x-kafka-timestamps`. The answer is 200 with one outcome per record, in order
//! (`{"data": {"outcomes": [{"outcome": "ack"}, {"outcome": "retry", "reason": …}]}}`); the
//! dispatcher delivers every record not acknowledged again on its own (ADR 0064).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cloudevents::Event;
use serde::{Deserialize, Serialize};

use crate::envelope::{self, ApiError};
use crate::events::{Delivery, EventHandler, Outcome, Trigger, handle_many, handle_one};

// The record's coordinates on the request. The dispatcher sends them with these same
// constants, so the two sides cannot drift apart.
/// The Kafka topic the record was read from.
pub const TOPIC_HEADER: &str = "x-kafka-topic";
/// The record's partition.
pub const PARTITION_HEADER: &str = "x-kafka-partition";
/// The record's offset in its partition.
pub const OFFSET_HEADER: &str = "x-kafka-offset";
/// The record's Kafka timestamp in milliseconds since the epoch. KafkaSource does not send it.
pub const TIMESTAMP_HEADER: &str = "x-kafka-timestamp";
/// Which attempt this request is, from 1; a retried record arrives again with a higher one.
pub const ATTEMPT_HEADER: &str = "x-delivery-attempt";
/// A batch's records' offsets, comma-separated in the order of the batch.
pub const OFFSETS_HEADER: &str = "x-kafka-offsets";
/// A batch's records' Kafka timestamps (ms since the epoch), comma-separated in its order.
pub const TIMESTAMPS_HEADER: &str = "x-kafka-timestamps";
/// The content type of a batch: a JSON array of CloudEvents in structured mode (the
/// CloudEvents HTTP binding's batched mode).
pub const BATCH_CONTENT_TYPE: &str = "application/cloudevents-batch+json";

struct Shared<H> {
    handler: Arc<H>,
    function: String,
}

/// A router that hands every CloudEvent POSTed to `/` to the handler.
pub fn router<H: EventHandler>(handler: Arc<H>, function: String) -> Router {
    Router::new()
        .route("/", post(receive::<H>))
        .route("/event-types", get(event_types::<H>))
        .with_state(Arc::new(Shared { handler, function }))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventTypes {
    function: String,
    event_types: Vec<&'static str>,
    /// Whether a batch of records is applied together (`Metadata.DeliveryBatch` pays off).
    applies_batches: bool,
}

/// The CloudEvent types the handler reads (`EventHandler::event_types`); 404 when it does not say.
async fn event_types<H: EventHandler>(State(shared): State<Arc<Shared<H>>>) -> Response {
    match shared.handler.event_types() {
        Some(event_types) => envelope::ok(EventTypes {
            function: shared.function.clone(),
            event_types,
            applies_batches: shared.handler.applies_batches(),
        })
        .into_response(),
        None => ApiError::new(
            StatusCode::NOT_FOUND,
            "EVENT_TYPES_UNKNOWN",
            "This function does not list the event types it reads; it takes every type.",
        )
        .into_response(),
    }
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Handled {
    pub outcome: String,
    /// Why a record was not acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<Outcome> for Handled {
    fn from(outcome: Outcome) -> Self {
        let outcome_label = outcome.label().to_owned();
        let reason = match outcome {
            Outcome::Ack => None,
            Outcome::Retry(reason) | Outcome::Reject(reason) => Some(reason),
        };
        Self {
            outcome: outcome_label,
            reason,
        }
    }
}

/// The answer to a batch: one [`Handled`] per record, in the batch's order.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct BatchHandled {
    pub outcomes: Vec<Handled>,
}

async fn receive<H: EventHandler>(
    State(shared): State<Arc<Shared<H>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // A body past the limit is answered in the envelope like every other refusal, so the
    // sender's dead letter says why; axum's own answer is plain text.
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return envelope::body_rejection(&rejection).into_response(),
    };
    if is_batch(&headers) {
        return receive_batch(&shared, &headers, &body).await;
    }
    let event = match cloudevents::binding::http::to_event(&headers, body.to_vec()) {
        Ok(event) => event,
        Err(error) => {
            return ApiError::bad_request(
                "INVALID_CLOUD_EVENT",
                format!("The request is not a CloudEvent: {error}"),
            )
            .into_response();
        }
    };
    let delivery = delivery_of(&headers, &event);
    match handle_one(shared.handler.as_ref(), &shared.function, &event, &delivery).await {
        Outcome::Ack => envelope::ok(Handled::from(Outcome::Ack)).into_response(),
        Outcome::Reject(reason) => ApiError::unprocessable("EVENT_REJECTED", reason).into_response(),
        Outcome::Retry(reason) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "EVENT_RETRY", reason).into_response()
        }
    }
}

fn is_batch(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case(BATCH_CONTENT_TYPE))
}

/// A batch: every record gets its own outcome in a 200; only a request that is not a batch
/// of CloudEvents is refused as a whole.
async fn receive_batch<H: EventHandler>(shared: &Shared<H>, headers: &HeaderMap, body: &[u8]) -> Response {
    let events: Vec<Event> = match serde_json::from_slice(body) {
        Ok(events) => events,
        Err(error) => {
            return ApiError::bad_request(
                "INVALID_CLOUD_EVENT_BATCH",
                format!("The request is not a JSON array of CloudEvents: {error}"),
            )
            .into_response();
        }
    };
    if events.is_empty() {
        return ApiError::bad_request("INVALID_CLOUD_EVENT_BATCH", "The batch holds no CloudEvent.")
            .into_response();
    }
    let list = |name: &str| -> Vec<Option<i64>> {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(|value| value.split(',').map(|item| item.trim().parse().ok()).collect())
            .unwrap_or_default()
    };
    let (offsets, timestamps) = (list(OFFSETS_HEADER), list(TIMESTAMPS_HEADER));
    let batch: Vec<(Event, Delivery)> = events
        .into_iter()
        .enumerate()
        .map(|(index, event)| {
            let mut delivery = delivery_of(headers, &event);
            delivery.offset = offsets.get(index).copied().flatten();
            delivery.published_at = timestamps
                .get(index)
                .copied()
                .flatten()
                .and_then(chrono::DateTime::from_timestamp_millis);
            (event, delivery)
        })
        .collect();
    let outcomes = handle_many(shared.handler.as_ref(), &shared.function, &batch).await;
    envelope::ok(BatchHandled {
        outcomes: outcomes.into_iter().map(Handled::from).collect(),
    })
    .into_response()
}

fn delivery_of(headers: &HeaderMap, event: &Event) -> Delivery {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    // KafkaSource puts the record key in `partitionkey` and `key`; our relay sets `partitionkey`.
    let key = [events::kafka::PARTITION_KEY, "key"]
        .iter()
        .find_map(|name| event.extension(name).map(|value| value.to_string()));
    Delivery {
        trigger: Trigger::HttpPost,
        topic: header(TOPIC_HEADER),
        partition: header(PARTITION_HEADER).and_then(|value| value.parse().ok()),
        offset: header(OFFSET_HEADER).and_then(|value| value.parse().ok()),
        key,
        published_at: header(TIMESTAMP_HEADER)
            .and_then(|value| value.parse().ok())
            .and_then(chrono::DateTime::from_timestamp_millis),
        attempt: header(ATTEMPT_HEADER)
            .and_then(|value| value.parse().ok())
            .unwrap_or(1),
    }
}
