//! The inbox: every consumer records the ids of the events it handled in its context's
//! `processed_event` table, in the same transaction as the effect.
//!
//! [`claim`] inserts the record first and hands back the open transaction; the caller applies
//! its effect (and writes any outbox rows) on it and commits. Inserting first makes the row a
//! lock: a second delivery of the same event running at the same time waits on it, and once
//! the first commits it finds the id taken and does nothing. If the first rolls back, the
//! second proceeds. Either way the effect is applied exactly once per event id.
//!
//! Beside the id the row keeps an [`Arrival`]: the event's type, its saga, the producer's time,
//! the relay's time and the trace id. With `processed_at`, when the consumer began, a saga's
//! every hop can be read back from the contexts' inboxes (`local-stack/timeline`, ADR 0057).

use chrono::{DateTime, Utc};
use cloudevents::{AttributesReader, Event};
use events::envelope::{CORRELATION_ID, TRACEPARENT};
use runtime::events::Delivery;
use sqlx::{MySql, MySqlConnection, MySqlPool, Transaction};

use crate::mariadb::is_duplicate_key;

/// What [`claim`] found.
#[derive(Debug)]
pub enum Claim {
    /// The event is new to this consumer: apply the effect on this transaction and commit.
    New(Transaction<'static, MySql>),
    /// The consumer handled this event before; acknowledge it without doing anything.
    AlreadyProcessed,
}

/// What the inbox row records of an event besides its id: where it sits in its saga and how
/// long it travelled. Every field is optional: a trigger or a producer may not tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Arrival {
    pub event_type: Option<String>,
    /// The business flow; an order's saga is its order id.
    pub correlation_id: Option<String>,
    /// The CloudEvent `time`: when the producer committed the event with its state change.
    pub occurred_at: Option<DateTime<Utc>>,
    /// The Kafka record's timestamp: when the relay handed the event to the broker.
    pub published_at: Option<DateTime<Utc>>,
    /// The delivery attempt that reached the consumer, from 1.
    pub attempt: Option<u32>,
    /// The W3C trace id of the request that began the flow.
    pub trace_id: Option<String>,
}

impl Arrival {
    /// What `event` and its delivery tell.
    pub fn of(event: &Event, delivery: &Delivery) -> Self {
        let extension = |name: &str| event.extension(name).map(|value| value.to_string());
        Self {
            event_type: Some(event.ty().to_owned()),
            correlation_id: extension(CORRELATION_ID).filter(|id| id.len() <= 64),
            occurred_at: event.time().copied(),
            published_at: delivery.published_at,
            attempt: Some(delivery.attempt),
            trace_id: extension(TRACEPARENT).as_deref().and_then(trace_id_of),
        }
    }
}

/// The trace id of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), if it is one.
fn trace_id_of(traceparent: &str) -> Option<String> {
    let mut parts = traceparent.split('-');
    let (_version, trace_id) = (parts.next()?, parts.next()?);
    let valid = trace_id.len() == 32
        && trace_id.bytes().all(|byte| byte.is_ascii_hexdigit())
        && trace_id.bytes().any(|byte| byte != b'0');
    valid.then(|| trace_id.to_ascii_lowercase())
}

/// Starts a transaction that records `event_id` as handled by `consumer`, with what is known
/// of its journey.
pub async fn claim(
    pool: &MySqlPool,
    consumer: &str,
    event_id: &str,
    arrival: &Arrival,
) -> Result<Claim, sqlx::Error> {
    let mut transaction = pool.begin().await?;
    if claim_in(&mut transaction, consumer, event_id, arrival).await? {
        Ok(Claim::New(transaction))
    } else {
        transaction.rollback().await?;
        Ok(Claim::AlreadyProcessed)
    }
}

/// Records `event_id` as handled by `consumer` on a transaction the caller holds (a batch's):
/// `true` when the event is new, `false` when the consumer handled it before. A duplicate
/// undoes only its own statement, so the transaction goes on with the batch's next record.
pub async fn claim_in(
    transaction: &mut MySqlConnection,
    consumer: &str,
    event_id: &str,
    arrival: &Arrival,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO processed_event \
         (consumer, event_id, event_type, correlation_id, occurred_at, published_at, attempt, trace_id) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(consumer)
    .bind(event_id)
    .bind(&arrival.event_type)
    .bind(&arrival.correlation_id)
    .bind(arrival.occurred_at)
    .bind(arrival.published_at)
    .bind(arrival.attempt.map(|attempt| attempt.min(u32::from(u16::MAX))))
    .bind(&arrival.trace_id)
    .execute(&mut *transaction)
    .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(error) if is_duplicate_key(&error) => Ok(false),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::trace_id_of;

    #[test]
    fn the_trace_id_is_read_from_a_valid_traceparent_only() {
        assert_eq!(
            trace_id_of("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01").as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        for invalid in [
            "",
            "00",
            "00-xyz-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        ] {
            assert_eq!(trace_id_of(invalid), None, "{invalid:?}");
        }
    }
}
