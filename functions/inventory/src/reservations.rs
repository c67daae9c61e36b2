//! The reservation use cases on MariaDB: reserve an order's lines (all or none), release them
//! when the order is cancelled or the reservation lapses, commit them when the order is
//! confirmed.
//!
//! Each runs in one transaction that also records the handled event in the inbox and appends
//! the resulting event to the outbox. The `reservation` row of an order is inserted before any
//! stock row is touched: its primary key serialises everything that happens to one order, and
//! plain inserts of different keys never deadlock each other (a `SELECT … FOR UPDATE` on a
//! missing row would take a gap lock and could). Stock rows are then locked in SKU order, so
//! concurrent reservations queue on each SKU instead of deadlocking.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use events::inventory::{
    AGGREGATE, ReservedLineV1, STOCK_COMMITTED_V1, STOCK_RELEASED_V1, STOCK_RESERVATION_FAILED_V1,
    STOCK_RESERVED_V1, ShortLineV1, StockCommittedV1, StockReleasedV1, StockReservationFailedV1,
    StockReservedV1,
};
use sqlx::{MySqlConnection, MySqlPool};
use store::inbox::{self, Claim};
use store::outbox::{self, EventContext, OutboxEvent};

use crate::domain::{
    Quantity, ReservationDecision, ReservationRequest, ReservationStatus, ShortLine, Sku, decide_reservation,
};

/// What reserving did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserved {
    /// Every line is reserved; `stock.reserved` is in the outbox.
    All,
    /// Nothing is reserved; `stock.reservation-failed` names the short lines.
    Refused(Vec<ShortLine>),
    /// The order already had a reservation (or was released before it arrived): nothing done.
    AlreadySettled,
    /// This event was handled before.
    Duplicate,
}

/// What releasing or committing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The reservation changed and the event is in the outbox.
    Changed,
    /// Nothing to do: already in the wanted state, or nothing was ever reserved.
    NothingToDo,
    /// This event was handled before.
    Duplicate,
}

/// Failures of the reservation use cases.
#[derive(Debug, thiserror::Error)]
pub enum ReservationError {
    /// The order was confirmed but its stock is not reserved (released, failed or missing):
    /// a broken saga that needs a person, not a retry.
    #[error("order {order_id} cannot be committed: its reservation is {status}")]
    NotCommittable { order_id: String, status: String },
    /// The database failed or a lock wait timed out; worth retrying.
    #[error("the database failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Where the use case runs: the source of its events and the inbox consumer name.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    pub consumer: &'a str,
    pub event_id: &'a str,
    pub context: &'a EventContext,
}

/// Reserves every line of `order_id`, or none.
#[tracing::instrument(skip_all, fields(order_id))]
pub async fn reserve(
    pool: &MySqlPool,
    step: Step<'_>,
    order_id: &str,
    request: &ReservationRequest,
    expires_at: DateTime<Utc>,
) -> Result<Reserved, ReservationError> {
    tracing::Span::current().record("order_id", order_id);
    let mut transaction = match inbox::claim(pool, step.consumer, step.event_id).await? {
        Claim::New(transaction) => transaction,
        Claim::AlreadyProcessed => return Ok(Reserved::Duplicate),
    };
    if !claim_reservation(&mut transaction, order_id, ReservationStatus::Failed).await? {
        transaction.commit().await?;
        return Ok(Reserved::AlreadySettled);
    }

    let mut available = BTreeMap::new();
    for (sku, _) in request.lines() {
        let units: Option<i64> =
            sqlx::query_scalar("SELECT on_hand - reserved FROM stock WHERE sku = ? FOR UPDATE")
                .bind(sku.as_str())
                .fetch_optional(&mut *transaction)
                .await?;
        if let Some(units) = units {
            available.insert(sku.clone(), units);
        }
    }

    let outcome = match decide_reservation(request, &available) {
        ReservationDecision::ReserveAll => {
            for (sku, quantity) in request.lines() {
                // The condition repeats the decision so that no code path can oversell.
                let updated = sqlx::query(
                    "UPDATE stock SET reserved = reserved + ?, updated_at = NOW(6)
                     WHERE sku = ? AND on_hand - reserved >= ?",
                )
                .bind(i64::from(quantity.units()))
                .bind(sku.as_str())
                .bind(i64::from(quantity.units()))
                .execute(&mut *transaction)
                .await?;
                if updated.rows_affected() != 1 {
                    return Err(anyhow::anyhow!("stock of {} changed under a row lock", sku.as_str()).into());
                }
                sqlx::query("INSERT INTO reservation_line (order_id, sku, quantity) VALUES (?, ?, ?)")
                    .bind(order_id)
                    .bind(sku.as_str())
                    .bind(i64::from(quantity.units()))
                    .execute(&mut *transaction)
                    .await?;
            }
            set_status(
                &mut transaction,
                order_id,
                ReservationStatus::Reserved,
                Some(expires_at),
            )
            .await?;
            let payload = StockReservedV1 {
                order_id: order_id.to_owned(),
                lines: wire_lines(request.lines()),
                expires_at: expires_at.to_rfc3339(),
            };
            append(&mut transaction, step, order_id, STOCK_RESERVED_V1, &payload).await?;
            Reserved::All
        }
        ReservationDecision::Refuse(short) => {
            let payload = StockReservationFailedV1 {
                order_id: order_id.to_owned(),
                short_lines: short
                    .iter()
                    .map(|line| ShortLineV1 {
                        sku: line.sku.as_str().to_owned(),
                        requested: line.requested.units(),
                        available: line.available,
                    })
                    .collect(),
            };
            append(
                &mut transaction,
                step,
                order_id,
                STOCK_RESERVATION_FAILED_V1,
                &payload,
            )
            .await?;
            Reserved::Refused(short)
        }
    };
    transaction.commit().await?;
    Ok(outcome)
}

/// Gives an order's reserved stock back because the order was cancelled. A release that
/// arrives before the reservation leaves a tombstone, so the reservation is never made.
#[tracing::instrument(skip_all, fields(order_id))]
pub async fn release(pool: &MySqlPool, step: Step<'_>, order_id: &str) -> Result<Settled, ReservationError> {
    tracing::Span::current().record("order_id", order_id);
    let mut transaction = match inbox::claim(pool, step.consumer, step.event_id).await? {
        Claim::New(transaction) => transaction,
        Claim::AlreadyProcessed => return Ok(Settled::Duplicate),
    };
    if claim_reservation(&mut transaction, order_id, ReservationStatus::Released).await? {
        transaction.commit().await?;
        return Ok(Settled::NothingToDo);
    }
    let settled = release_locked(
        &mut transaction,
        step,
        order_id,
        events::inventory::release_reason::ORDER_CANCELLED,
    )
    .await?;
    transaction.commit().await?;
    Ok(settled)
}

/// Turns an order's reservation into a sale because the order was confirmed.
#[tracing::instrument(skip_all, fields(order_id))]
pub async fn commit(pool: &MySqlPool, step: Step<'_>, order_id: &str) -> Result<Settled, ReservationError> {
    tracing::Span::current().record("order_id", order_id);
    let mut transaction = match inbox::claim(pool, step.consumer, step.event_id).await? {
        Claim::New(transaction) => transaction,
        Claim::AlreadyProcessed => return Ok(Settled::Duplicate),
    };
    let status = lock_status(&mut transaction, order_id).await?;
    match status {
        Some(ReservationStatus::Committed) => {
            transaction.commit().await?;
            return Ok(Settled::NothingToDo);
        }
        Some(ReservationStatus::Reserved) => {}
        other => {
            return Err(ReservationError::NotCommittable {
                order_id: order_id.to_owned(),
                status: other.map_or("missing", ReservationStatus::as_str).to_owned(),
            });
        }
    }
    let lines = lines_of(&mut transaction, order_id).await?;
    for (sku, quantity) in &lines {
        let updated = sqlx::query(
            "UPDATE stock SET on_hand = on_hand - ?, reserved = reserved - ?, updated_at = NOW(6)
             WHERE sku = ? AND reserved >= ? AND on_hand >= ?",
        )
        .bind(quantity)
        .bind(quantity)
        .bind(sku)
        .bind(quantity)
        .bind(quantity)
        .execute(&mut *transaction)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(anyhow::anyhow!("reserved stock of {sku} is missing").into());
        }
    }
    set_status(&mut transaction, order_id, ReservationStatus::Committed, None).await?;
    let payload = StockCommittedV1 {
        order_id: order_id.to_owned(),
        lines: lines
            .iter()
            .map(|(sku, quantity)| ReservedLineV1 {
                sku: sku.clone(),
                quantity: u32::try_from(*quantity).unwrap_or(u32::MAX),
            })
            .collect(),
    };
    append(&mut transaction, step, order_id, STOCK_COMMITTED_V1, &payload).await?;
    transaction.commit().await?;
    Ok(Settled::Changed)
}

/// Releases up to `limit` reservations whose time ran out, oldest first; returns how many.
/// Rows another sweep holds are skipped, so sweeps may overlap.
#[tracing::instrument(skip_all)]
pub async fn expire(pool: &MySqlPool, now: DateTime<Utc>, limit: u32) -> Result<u32, ReservationError> {
    let mut transaction = pool.begin().await?;
    let expired: Vec<String> = sqlx::query_scalar(
        "SELECT order_id FROM reservation WHERE status = 'RESERVED' AND expires_at < ?
         ORDER BY expires_at LIMIT ? FOR UPDATE SKIP LOCKED",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *transaction)
    .await?;
    let context = EventContext::default();
    let mut released = 0;
    for order_id in &expired {
        let step = Step {
            consumer: "expire-reservations",
            event_id: order_id,
            context: &EventContext {
                correlation_id: Some(order_id.clone()),
                ..context.clone()
            },
        };
        if release_locked(
            &mut transaction,
            step,
            order_id,
            events::inventory::release_reason::EXPIRED,
        )
        .await?
            == Settled::Changed
        {
            released += 1;
        }
    }
    transaction.commit().await?;
    if released > 0 {
        tracing::info!(released, "Released expired reservations");
    }
    Ok(released)
}

/// Releases the reservation of `order_id`, whose row exists, if it is still live.
async fn release_locked(
    connection: &mut MySqlConnection,
    step: Step<'_>,
    order_id: &str,
    reason: &str,
) -> Result<Settled, ReservationError> {
    if lock_status(connection, order_id).await? != Some(ReservationStatus::Reserved) {
        return Ok(Settled::NothingToDo);
    }
    let lines = lines_of(connection, order_id).await?;
    for (sku, quantity) in &lines {
        let updated = sqlx::query(
            "UPDATE stock SET reserved = reserved - ?, updated_at = NOW(6) WHERE sku = ? AND reserved >= ?",
        )
        .bind(quantity)
        .bind(sku)
        .bind(quantity)
        .execute(&mut *connection)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(anyhow::anyhow!("reserved stock of {sku} is missing").into());
        }
    }
    set_status(connection, order_id, ReservationStatus::Released, None).await?;
    let payload = StockReleasedV1 {
        order_id: order_id.to_owned(),
        lines: lines
            .iter()
            .map(|(sku, quantity)| ReservedLineV1 {
                sku: sku.clone(),
                quantity: u32::try_from(*quantity).unwrap_or(u32::MAX),
            })
            .collect(),
        reason: reason.to_owned(),
    };
    append(connection, step, order_id, STOCK_RELEASED_V1, &payload).await?;
    Ok(Settled::Changed)
}

/// Inserts the order's reservation row with `status`; false when the order already has one.
async fn claim_reservation(
    connection: &mut MySqlConnection,
    order_id: &str,
    status: ReservationStatus,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query("INSERT IGNORE INTO reservation (order_id, status) VALUES (?, ?)")
        .bind(order_id)
        .bind(status.as_str())
        .execute(connection)
        .await?;
    Ok(inserted.rows_affected() == 1)
}

async fn lock_status(
    connection: &mut MySqlConnection,
    order_id: &str,
) -> Result<Option<ReservationStatus>, ReservationError> {
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM reservation WHERE order_id = ? FOR UPDATE")
            .bind(order_id)
            .fetch_optional(connection)
            .await?;
    status
        .map(|status| {
            ReservationStatus::parse(&status)
                .ok_or_else(|| anyhow::anyhow!("unknown reservation status {status:?}").into())
        })
        .transpose()
}

async fn set_status(
    connection: &mut MySqlConnection,
    order_id: &str,
    status: ReservationStatus,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE reservation SET status = ?, expires_at = ?, updated_at = NOW(6) WHERE order_id = ?")
        .bind(status.as_str())
        .bind(expires_at)
        .bind(order_id)
        .execute(connection)
        .await?;
    Ok(())
}

/// The reserved lines of an order, in SKU order (the lock order).
async fn lines_of(
    connection: &mut MySqlConnection,
    order_id: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT sku, quantity FROM reservation_line WHERE order_id = ? ORDER BY sku")
        .bind(order_id)
        .fetch_all(connection)
        .await
}

fn wire_lines<'a>(lines: impl Iterator<Item = (&'a Sku, Quantity)>) -> Vec<ReservedLineV1> {
    lines
        .map(|(sku, quantity)| ReservedLineV1 {
            sku: sku.as_str().to_owned(),
            quantity: quantity.units(),
        })
        .collect()
}

async fn append(
    connection: &mut MySqlConnection,
    step: Step<'_>,
    order_id: &str,
    event_type: &str,
    payload: &impl serde::Serialize,
) -> Result<(), ReservationError> {
    let event = OutboxEvent::new(
        events::topics::INVENTORY_STOCK.name,
        AGGREGATE,
        order_id,
        event_type,
        &format!("commerce/inventory/{}", step.consumer),
        payload,
    )
    .map_err(anyhow::Error::from)?
    .with_context(step.context.clone());
    outbox::append(connection, &[event]).await?;
    Ok(())
}
