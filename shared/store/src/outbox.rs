//! The transactional outbox: a use case records the events it caused in its context's
//! `outbox` table, in the same transaction as its state change.
//!
//! Either both commit or neither does, so an event is published exactly when its state change
//! happened. Publishing is the relay's job: it reads committed inserts from the binlog and
//! turns each row into a CloudEvent on the row's topic (ADR 0006).
//!
//! [`append`] takes a typed payload: its topic, type name, aggregate type and key come from
//! its [`EventType`], and its `source` is `commerce/<context>/<function>` from the topic's
//! context and the [`Origin`]'s function, so no producer spells any of them by hand.

use chrono::{DateTime, Utc};
use events::EventType;
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

impl EventContext {
    /// The context of an event caused by handling `cause`: the same trace and saga
    /// (correlation id; the cause's subject when it carries none), caused by the cause's id.
    pub fn caused_by(cause: &cloudevents::Event) -> Self {
        use cloudevents::AttributesReader;
        use events::envelope::{CORRELATION_ID, TRACEPARENT, TRACESTATE};
        let extension = |name: &str| cause.extension(name).map(ToString::to_string);
        Self {
            traceparent: extension(TRACEPARENT),
            tracestate: extension(TRACESTATE),
            correlation_id: extension(CORRELATION_ID).or_else(|| cause.subject().map(str::to_owned)),
            causation_id: Some(cause.id().to_owned()),
        }
    }

    /// The context of an event caused by an HTTP request: the request's trace, caused by its
    /// request id.
    pub fn of_request(request: &telemetry::RequestContext) -> Self {
        Self {
            traceparent: Some(request.trace.to_header()),
            tracestate: None,
            correlation_id: None,
            causation_id: Some(request.request_id.clone()),
        }
    }

    /// The same context, in the business flow `correlation_id` (an order's saga is its id).
    pub fn correlated(self, correlation_id: impl Into<String>) -> Self {
        Self {
            correlation_id: Some(correlation_id.into()),
            ..self
        }
    }
}

/// Who writes an event: the function, and the context of the work that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The function's name, the last part of the event's `source`.
    pub function: &'static str,
    pub context: EventContext,
}

impl Origin {
    pub fn new(function: &'static str, context: EventContext) -> Self {
        Self { function, context }
    }

    /// The same function, in the business flow `correlation_id`.
    pub fn correlated(&self, correlation_id: impl Into<String>) -> Self {
        Self {
            function: self.function,
            context: self.context.clone().correlated(correlation_id),
        }
    }

    /// The CloudEvent `source` of an event of type `E`: `commerce/<context>/<function>`.
    pub fn source_of<E: EventType>(&self) -> String {
        format!("commerce/{}/{}", E::TOPIC.context, self.function)
    }
}

/// Appends `event` to the outbox of the connection's schema and returns its id (UUIDv7:
/// unique, and ordered by creation time so inserts stay at the end of the index). Call it on
/// the transaction that applies the state change; the event is published only if that
/// transaction commits.
pub async fn append<E: EventType>(
    connection: &mut MySqlConnection,
    origin: &Origin,
    event: &E,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    // Through a JSON value, whose object keys are sorted: the stored payload (and the Kafka
    // record the relay copies from it) reads the same whatever order the struct's fields are
    // declared in. Serialising our own payload types cannot fail (no maps with non-string
    // keys); were it to, the error is reported as an encoding error of the row.
    let payload = serde_json::to_value(event)
        .map(|value| value.to_string())
        .map_err(|error| sqlx::Error::Encode(Box::new(error)))?;
    let occurred_at: DateTime<Utc> = Utc::now();
    let context = &origin.context;
    sqlx::query(
        "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, topic, source,
                             traceparent, tracestate, correlationid, causationid, occurred_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id.to_string())
    .bind(E::AGGREGATE)
    .bind(event.aggregate_id())
    .bind(E::NAME)
    .bind(payload)
    .bind(E::TOPIC.name)
    .bind(origin.source_of::<E>())
    .bind(&context.traceparent)
    .bind(&context.tracestate)
    .bind(&context.correlation_id)
    .bind(&context.causation_id)
    .bind(occurred_at)
    .execute(connection)
    .await?;
    Ok(id)
}
