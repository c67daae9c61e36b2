//! Event functions: one handler trait over a CloudEvent and its delivery, whatever the trigger.
//!
//! A handler answers what should happen to the record, and each trigger adapter turns that
//! into its own protocol: an HTTP status for Knative's KafkaSource and the local dispatcher, a
//! batch-item failure for the AWS Kafka event source mapping.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use cloudevents::{AttributesReader, Event};
use tracing::Instrument;

use crate::config::{ConfigError, Platform};

/// Where a record came from and how often it was tried, as far as the trigger can tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    pub trigger: Trigger,
    pub topic: Option<String>,
    pub partition: Option<i32>,
    pub offset: Option<i64>,
    /// The Kafka key: the aggregate id.
    pub key: Option<String>,
    /// The record's Kafka timestamp: when the relay handed the event to the broker (the
    /// producer's create time). With the event's own `time` and the consumer's receipt it
    /// splits a hop into relay and delivery time (docs/adr/0057).
    pub published_at: Option<chrono::DateTime<chrono::Utc>>,
    /// 1 for the first delivery; the local dispatcher counts retries, Knative and Lambda do not
    /// tell, so it stays 1 there.
    pub attempt: u32,
}

/// The trigger that delivered an event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Trigger {
    /// An HTTP POST of a CloudEvent: Knative's KafkaSource or the local trigger dispatcher.
    #[default]
    HttpPost,
    /// The AWS Lambda Kafka event source mapping (MSK or self-managed Kafka).
    LambdaKafka,
}

/// What should happen to a record after the handler saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The effect is committed (or the event was already handled): move on.
    Ack,
    /// A transient failure (database unavailable, deadlock, timeout): deliver it again later.
    Retry(String),
    /// A permanent failure (malformed, breaks a business rule, unknown type): retrying cannot
    /// help, so the record goes to the dead-letter topic with this reason.
    Reject(String),
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Ack => "ack",
            Self::Retry(_) => "retry",
            Self::Reject(_) => "reject",
        }
    }

    fn metric(&self) -> telemetry::EventOutcome {
        match self {
            Self::Ack => telemetry::EventOutcome::Succeeded,
            Self::Retry(_) => telemetry::EventOutcome::RetryableFailure,
            Self::Reject(_) => telemetry::EventOutcome::PermanentFailure,
        }
    }
}

/// An event use case.
///
/// Implementations must be idempotent: every trigger delivers at least once, so the same event
/// id can arrive again after a crash, a rebalance or a replay, and must then be acknowledged
/// without repeating the effect.
pub trait EventHandler: Send + Sync + 'static {
    fn handle(&self, event: &Event, delivery: &Delivery) -> impl Future<Output = Outcome> + Send;

    /// Whether the handler could handle an event now: its dependencies (a database, say)
    /// answer. `/readyz` reports it, so a trigger stops sending to a function that would
    /// only fail. Ready by default, for handlers that depend on nothing.
    fn readiness(&self) -> impl Future<Output = Result<(), String>> + Send {
        async { Ok(()) }
    }

    /// The CloudEvent types this handler reads, when it knows them: every other type it
    /// acknowledges untouched. Served at `GET /event-types`, so a check can hold a trigger's
    /// filter (`Metadata.EventTypes` in template.yaml) to what the code reads. `None` (the
    /// default): it does not say, and a trigger must send it everything.
    fn event_types(&self) -> Option<Vec<&'static str>> {
        None
    }

    /// Whether [`handle_batch`](EventHandler::handle_batch) applies a batch together (one
    /// transaction) rather than record by record. Served at `GET /event-types`, so a check
    /// can hold the template's `Metadata.DeliveryBatch` to the functions that gain from it.
    fn applies_batches(&self) -> bool {
        false
    }

    /// Handles several records of one partition, in their order, and answers one outcome per
    /// record in the same order. Records of one key keep their order: once a record is not
    /// acknowledged, the records after it may be left untried (answered `Retry`), so a
    /// trigger that redelivers from the first failure loses nothing.
    ///
    /// The default handles them one after the other with [`handle`](EventHandler::handle) and
    /// stops at the first that is not acknowledged; a handler that can apply them together
    /// (one transaction for the batch) overrides it.
    fn handle_batch(&self, batch: &[(Event, Delivery)]) -> impl Future<Output = Vec<Outcome>> + Send {
        one_by_one(self, batch)
    }
}

/// Handles a batch's records one after the other with [`EventHandler::handle`], stopping at
/// the first that is not acknowledged; the rest are answered [`untried`].
pub async fn one_by_one<H: EventHandler + ?Sized>(handler: &H, batch: &[(Event, Delivery)]) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(batch.len());
    for (event, delivery) in batch {
        let outcome = handler.handle(event, delivery).await;
        let stop = outcome != Outcome::Ack;
        outcomes.push(outcome);
        if stop {
            break;
        }
    }
    outcomes.resize_with(batch.len(), untried);
    outcomes
}

/// The outcome given to the records of a batch after one that was not acknowledged.
pub fn untried() -> Outcome {
    Outcome::Retry("not tried: an earlier record of the batch was not acknowledged".to_owned())
}

/// Runs the handler for one event inside a span carrying the event's identity and trace, and
/// records the outcome in the logs and metrics. Every adapter goes through here.
pub async fn handle_one<H: EventHandler>(
    handler: &H,
    function: &str,
    event: &Event,
    delivery: &Delivery,
) -> Outcome {
    let trace = event
        .extension(events::kafka::TRACEPARENT)
        .and_then(|value| telemetry::TraceContext::parse(&value.to_string()))
        .map(|parent| parent.child())
        .unwrap_or_else(telemetry::TraceContext::new_root);
    // An error-level span stays enabled under RUST_LOG=warn, so warnings keep the event's context.
    let span = tracing::error_span!(
        "event",
        function,
        event_id = event.id(),
        event_type = event.ty(),
        subject = event.subject().unwrap_or_default(),
        topic = delivery.topic.as_deref().unwrap_or_default(),
        partition = delivery.partition,
        offset = delivery.offset,
        attempt = delivery.attempt,
        trace_id = %trace.trace_id_hex(),
    );
    let started = Instant::now();
    let outcome = handler.handle(event, delivery).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    span.in_scope(|| match &outcome {
        Outcome::Ack => tracing::info!(elapsed_ms = elapsed.as_millis(), "Event handled"),
        Outcome::Retry(reason) => {
            tracing::warn!(reason, elapsed_ms = elapsed.as_millis(), "Event will be retried")
        }
        Outcome::Reject(reason) => {
            tracing::error!(reason, elapsed_ms = elapsed.as_millis(), "Event rejected")
        }
    });
    telemetry::record_event_handled(function, event.ty(), outcome.metric(), elapsed);
    outcome
}

/// Runs the handler for several records of one partition ([`EventHandler::handle_batch`]) in
/// a span naming the batch, and logs and counts each record's outcome as [`handle_one`] does.
/// Each record's duration in the metrics is the whole batch's.
pub async fn handle_many<H: EventHandler>(
    handler: &H,
    function: &str,
    batch: &[(Event, Delivery)],
) -> Vec<Outcome> {
    let Some((first, first_delivery)) = batch.first() else {
        return Vec::new();
    };
    if batch.len() == 1 {
        return vec![handle_one(handler, function, first, first_delivery).await];
    }
    let span = tracing::error_span!(
        "events",
        function,
        records = batch.len(),
        topic = first_delivery.topic.as_deref().unwrap_or_default(),
        partition = first_delivery.partition,
        first_offset = first_delivery.offset,
    );
    let started = Instant::now();
    let mut outcomes = handler.handle_batch(batch).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    // A handler that answers too few outcomes leaves the rest untried, never acknowledged.
    outcomes.resize_with(batch.len(), untried);
    outcomes.truncate(batch.len());
    span.in_scope(|| {
        for ((event, delivery), outcome) in batch.iter().zip(&outcomes) {
            let (event_id, event_type, offset) = (event.id(), event.ty(), delivery.offset);
            match outcome {
                Outcome::Ack => tracing::info!(
                    event_id,
                    event_type,
                    offset,
                    elapsed_ms = elapsed.as_millis(),
                    "Event handled"
                ),
                Outcome::Retry(reason) => {
                    tracing::warn!(event_id, event_type, offset, reason, "Event will be retried")
                }
                Outcome::Reject(reason) => {
                    tracing::error!(event_id, event_type, offset, reason, "Event rejected")
                }
            }
        }
    });
    for ((event, _), outcome) in batch.iter().zip(&outcomes) {
        telemetry::record_event_handled(function, event.ty(), outcome.metric(), elapsed);
    }
    outcomes
}

/// Serves an event function on whatever platform this is: the Lambda Runtime API (Kafka event
/// source mapping) when `AWS_LAMBDA_RUNTIME_API` is set, else an HTTP server on `$PORT` that
/// accepts CloudEvent POSTs from Knative's KafkaSource or the local trigger dispatcher.
pub async fn serve<H: EventHandler>(handler: H) -> anyhow::Result<()> {
    let function = crate::config::function_name();
    let handler = Arc::new(handler);
    let ready = Arc::clone(&handler);
    let http = crate::http::HttpFunction::new(crate::knative::router(Arc::clone(&handler), function.clone()))
        .readiness_check("handler", move || {
            let handler = Arc::clone(&ready);
            async move { handler.readiness().await }
        });
    // Boxed: the serving futures are deep, and inlining them into every binary's `main` makes
    // the compiler's type-layout queries overflow their depth limit.
    match Platform::detect().map_err(|error: ConfigError| anyhow::anyhow!(error))? {
        Platform::Lambda => Box::pin(crate::lambda_kafka::run(handler, function, http.into_router())).await,
        Platform::Server { .. } => Box::pin(http.run()).await,
    }
}
