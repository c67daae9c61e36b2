//! The transactional outbox: a use case records the events it caused in its context's
//! `outbox` table, in the same transaction as its state change.
//!
//! Either both commit or neither does, so an event is published exactly when its state change
//! happened. Publishing is the relay's job: it reads committed inserts from the binlog and
//! turns each row into a CloudEvent on the row's topic (design §5).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::MySqlConnection;
use uuid::Uuid;

/// Where an event came from in the flow that produced it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventContext {
    /// W3C `traceparent` of the span that produced the event.
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
    /// Shared by every event of one business flow (one order's saga).
    pub correlation_id: Option<String>,
    /// The event or request that directly caused this one.
    pub causation_id: Option<String>,
}

/// One event to append to an outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    /// UUIDv7: unique, and ordered by creation time so inserts stay at the end of the index.
    pub id: Uuid,
    /// The Kafka topic of the aggregate, e.g. `commerce.ordering.order`.
    pub topic: String,
    /// `order`, `product`, …: Debezium's routing field.
    pub aggregate_type: String,
    /// The aggregate's id: Kafka key, CloudEvent subject and partition key.
    pub aggregate_id: String,
    /// The CloudEvent type, e.g. `commerce.order.placed.v1`.
    pub event_type: String,
    /// The CloudEvent source: the producing context and function.
    pub source: String,
    pub payload: serde_json::Value,
    pub context: EventContext,
    pub occurred_at: DateTime<Utc>,
}

impl OutboxEvent {
    /// A new event with a fresh id, occurring now.
    pub fn new(
        topic: &str,
        aggregate_type: &str,
        aggregate_id: &str,
        event_type: &str,
        source: &str,
        payload: &impl Serialize,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self {
            id: Uuid::now_v7(),
            topic: topic.to_owned(),
            aggregate_type: aggregate_type.to_owned(),
            aggregate_id: aggregate_id.to_owned(),
            event_type: event_type.to_owned(),
            source: source.to_owned(),
            payload: serde_json::to_value(payload)?,
            context: EventContext::default(),
            occurred_at: Utc::now(),
        })
    }

    pub fn with_context(mut self, context: EventContext) -> Self {
        self.context = context;
        self
    }
}

/// Appends `events` to the outbox of the connection's schema. Call it on the transaction that
/// applies the state change; the events are published only if that transaction commits.
pub async fn append(connection: &mut MySqlConnection, events: &[OutboxEvent]) -> Result<(), sqlx::Error> {
    for event in events {
        sqlx::query(
            "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, topic, source,
                                 traceparent, tracestate, correlationid, causationid, occurred_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(event.id.to_string())
        .bind(&event.aggregate_type)
        .bind(&event.aggregate_id)
        .bind(&event.event_type)
        .bind(event.payload.to_string())
        .bind(&event.topic)
        .bind(&event.source)
        .bind(&event.context.traceparent)
        .bind(&event.context.tracestate)
        .bind(&event.context.correlation_id)
        .bind(&event.context.causation_id)
        .bind(event.occurred_at)
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}

impl EventContext {
    /// The context of an event caused by handling `cause`: the same trace and saga
    /// (correlation id; the cause's subject when it carries none), caused by the cause's id.
    pub fn caused_by(cause: &cloudevents::Event) -> Self {
        use cloudevents::AttributesReader;
        let extension = |name: &str| cause.extension(name).map(ToString::to_string);
        Self {
            traceparent: extension("traceparent"),
            tracestate: extension("tracestate"),
            correlation_id: extension("correlationid").or_else(|| cause.subject().map(str::to_owned)),
            causation_id: Some(cause.id().to_owned()),
        }
    }
}
