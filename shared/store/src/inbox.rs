//! The inbox: every consumer records the ids of the events it handled in its context's
//! `processed_event` table, in the same transaction as the effect.
//!
//! [`claim`] inserts the record first and hands back the open transaction; the caller applies
//! its effect (and writes any outbox rows) on it and commits. Inserting first makes the row a
//! lock: a second delivery of the same event running at the same time waits on it, and once
//! the first commits it finds the id taken and does nothing. If the first rolls back, the
//! second proceeds. Either way the effect is applied exactly once per event id.

use sqlx::{MySql, MySqlPool, Transaction};

use crate::mariadb::is_duplicate_key;

/// What [`claim`] found.
#[derive(Debug)]
pub enum Claim {
    /// The event is new to this consumer: apply the effect on this transaction and commit.
    New(Transaction<'static, MySql>),
    /// The consumer handled this event before; acknowledge it without doing anything.
    AlreadyProcessed,
}

/// Starts a transaction that records `event_id` as handled by `consumer`.
pub async fn claim(pool: &MySqlPool, consumer: &str, event_id: &str) -> Result<Claim, sqlx::Error> {
    let mut transaction = pool.begin().await?;
    let inserted = sqlx::query("INSERT INTO processed_event (consumer, event_id) VALUES (?, ?)")
        .bind(consumer)
        .bind(event_id)
        .execute(&mut *transaction)
        .await;
    match inserted {
        Ok(_) => Ok(Claim::New(transaction)),
        Err(error) if is_duplicate_key(&error) => {
            transaction.rollback().await?;
            Ok(Claim::AlreadyProcessed)
        }
        Err(error) => Err(error),
    }
}
