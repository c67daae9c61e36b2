//! The reservation use cases on MariaDB: reserve an order's lines (all or none), release them
//! when the order is cancelled or the reservation lapses, commit them when the order is
//! confirmed.
//!
//! Each runs on the transaction its caller opened: for the event functions, the consumer
//! runner's, which also holds the event's inbox row and commits the lot. Each appends the
//! event it causes to the outbox on that same transaction. The `reservation` row of an order is inserted before any
//! stock row is touched: its primary key serialises everything that happens to one order, and
//! plain inserts of different keys never deadlock each other (a `SELECT … FOR UPDATE` on a
//! missing row would take a gap lock and could). Stock rows are then locked in SKU order, so
//! concurrent reservations queue on each SKU instead of deadlocking.
//!
//! Every SKU line that moves is logged in `stock_change` with the order id, after the order's
//! own event, and may announce that the SKU ran out or came back ([`crate::changes`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use events::inventory::{
    ReservedLineV1, ShortLineV1, StockCommittedV1, StockReleasedV1, StockReservationFailedV1,
    StockReservedV1, release_reason,
};
use sqlx::{MySqlConnection, MySqlPool};
use store::outbox::{self, EventContext, Origin};

use crate::changes::{self, Change};
use crate::domain::{
    InvalidInput, Levels, Quantity, ReservationDecision, ReservationRequest, ReservationStatus, ShortLine,
    Sku, StockAction, decide_reservation,
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
}

/// What releasing or committing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The reservation changed and the event is in the outbox.
    Changed,
    /// Nothing to do: already in the wanted state, or nothing was ever reserved.
    NothingToDo,
}

/// Failures of the reservation use cases.
#[derive(Debug, thiserror::Error)]
pub enum ReservationError {
    /// The order's lines cannot be a reservation (no lines, a quantity out of range).
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
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

/// Reserves every line of `order_id`, or none.
#[tracing::instrument(skip_all, fields(order_id))]
pub async fn reserve(
    transaction: &mut MySqlConnection,
    origin: &Origin,
    order_id: &str,
    request: &ReservationRequest,
    expires_at: DateTime<Utc>,
) -> Result<Reserved, ReservationError> {
    tracing::Span::current().record("order_id", order_id);
    if !claim_reservation(transaction, order_id, ReservationStatus::Failed).await? {
        tracing::info!("Order already settled by inventory; nothing to do");
        return Ok(Reserved::AlreadySettled);
    }

    let mut levels = BTreeMap::new();
    for (sku, _) in request.lines() {
        if let Some(found) = changes::lock_levels(transaction, sku.as_str()).await? {
            levels.insert(sku.clone(), found);
        }
    }
    let available = levels
        .iter()
        .map(|(sku, levels)| (sku.clone(), levels.available()))
        .collect();

    let outcome = match decide_reservation(request, &available) {
        ReservationDecision::ReserveAll => {
            let mut moves = Vec::new();
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
                // Every line fitted, so every line's row was found and locked above.
                let before = levels.get(sku).copied().unwrap_or(Levels::NONE);
                let after = Levels {
                    reserved: before.reserved + i64::from(quantity.units()),
                    ..before
                };
                moves.push((sku.clone(), before, after));
            }
            set_status(
                transaction,
                order_id,
                ReservationStatus::Reserved,
                Some(expires_at),
            )
            .await?;
            let reserved = StockReservedV1 {
                order_id: order_id.to_owned(),
                lines: wire_lines(request.lines()),
                expires_at: expires_at.to_rfc3339(),
            };
            outbox::append(transaction, origin, &reserved).await?;
            record_moves(transaction, origin, order_id, StockAction::Reserve, &moves).await?;
            Reserved::All
        }
        ReservationDecision::Refuse(short) => {
            let failed = StockReservationFailedV1 {
                order_id: order_id.to_owned(),
                short_lines: short
                    .iter()
                    .map(|line| ShortLineV1 {
                        sku: line.sku.clone(),
                        requested: line.requested.units(),
                        available: line.available,
                    })
                    .collect(),
            };
            outbox::append(transaction, origin, &failed).await?;
            tracing::info!(short_lines = short.len(), "Stock is short; reserved nothing");
            Reserved::Refused(short)
        }
    };
    Ok(outcome)
}

/// Gives an order's reserved stock back because the order was cancelled. A release that
/// arrives before the reservation leaves a tombstone, so the reservation is never made.
#[tracing::instrument(skip_all, fields(order_id))]
pub async fn release(
    transaction: &mut MySqlConnection,
    origin: &Origin,
    order_id: &str,
) -> Result<Settled, ReservationError> {
    tracing::Span::current().record("order_id", order_id);
    if claim_reservation(transaction, order_id, ReservationStatus::Released).await? {
        return Ok(Settled::NothingToDo);
    }
    release_locked(transaction, origin, order_id, StockAction::Release).await
}

/// Turns an order's reservation into a sale because the order was confirmed.
#[tracing::instrument(skip_all, fields(order_id))]
pub async fn commit(
    transaction: &mut MySqlConnection,
    origin: &Origin,
    order_id: &str,
) -> Result<Settled, ReservationError> {
    tracing::Span::current().record("order_id", order_id);
    let status = lock_status(transaction, order_id).await?;
    match status {
        Some(ReservationStatus::Committed) => return Ok(Settled::NothingToDo),
        Some(ReservationStatus::Reserved) => {}
        other => {
            return Err(ReservationError::NotCommittable {
                order_id: order_id.to_owned(),
                status: other.map_or("missing", ReservationStatus::as_str).to_owned(),
            });
        }
    }
    let lines = lines_of(transaction, order_id).await?;
    let mut moves = Vec::new();
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
        let after = levels_after_update(transaction, sku).await?;
        let before = Levels {
            on_hand: after.on_hand + quantity,
            reserved: after.reserved + quantity,
        };
        moves.push((stored_sku(sku)?, before, after));
    }
    set_status(transaction, order_id, ReservationStatus::Committed, None).await?;
    let committed = StockCommittedV1 {
        order_id: order_id.to_owned(),
        lines: wire_lines_of_rows(&lines)?,
    };
    outbox::append(transaction, origin, &committed).await?;
    record_moves(transaction, origin, order_id, StockAction::Commit, &moves).await?;
    Ok(Settled::Changed)
}

/// Releases up to `limit` reservations whose time ran out, oldest first; returns how many.
/// Rows another sweep holds are skipped, so sweeps may overlap.
pub async fn expire(pool: &MySqlPool, now: DateTime<Utc>, limit: u32) -> Result<u32, ReservationError> {
    let released = expire_orders(pool, now, limit).await?;
    Ok(u32::try_from(released.len()).unwrap_or(u32::MAX))
}

/// [`expire`], answering the orders whose reservations it released (whose SKUs' availability
/// changed).
#[tracing::instrument(skip_all)]
pub async fn expire_orders(
    pool: &MySqlPool,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<String>, ReservationError> {
    let mut transaction = pool.begin().await?;
    let expired: Vec<String> = sqlx::query_scalar(
        "SELECT order_id FROM reservation WHERE status = 'RESERVED' AND expires_at < ?
         ORDER BY expires_at LIMIT ? FOR UPDATE SKIP LOCKED",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *transaction)
    .await?;
    let sweep = Origin::new("expire-reservations", EventContext::default());
    let mut released = Vec::new();
    for order_id in expired {
        let origin = sweep.correlated(&order_id);
        if release_locked(&mut transaction, &origin, &order_id, StockAction::Expire).await?
            == Settled::Changed
        {
            released.push(order_id);
        }
    }
    transaction.commit().await?;
    if !released.is_empty() {
        tracing::info!(released = released.len(), "Released expired reservations");
    }
    Ok(released)
}

/// Releases the reservation of `order_id`, whose row exists, if it is still live. `action` is
/// why: the order was cancelled ([`StockAction::Release`]) or its time ran out
/// ([`StockAction::Expire`]).
async fn release_locked(
    connection: &mut MySqlConnection,
    origin: &Origin,
    order_id: &str,
    action: StockAction,
) -> Result<Settled, ReservationError> {
    if lock_status(connection, order_id).await? != Some(ReservationStatus::Reserved) {
        return Ok(Settled::NothingToDo);
    }
    let reason = match action {
        StockAction::Expire => release_reason::EXPIRED,
        _ => release_reason::ORDER_CANCELLED,
    };
    let lines = lines_of(connection, order_id).await?;
    let mut moves = Vec::new();
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
        let after = levels_after_update(connection, sku).await?;
        let before = Levels {
            reserved: after.reserved + quantity,
            ..after
        };
        moves.push((stored_sku(sku)?, before, after));
    }
    set_status(connection, order_id, ReservationStatus::Released, None).await?;
    let released = StockReleasedV1 {
        order_id: order_id.to_owned(),
        lines: wire_lines_of_rows(&lines)?,
        reason: reason.to_owned(),
    };
    outbox::append(connection, origin, &released).await?;
    record_moves(connection, origin, order_id, action, &moves).await?;
    Ok(Settled::Changed)
}

/// Logs how each line of an order moved its SKU's stock, once the order's own event is in the
/// outbox, so a SKU that runs out or comes back is announced after the reservation that did it.
async fn record_moves(
    connection: &mut MySqlConnection,
    origin: &Origin,
    order_id: &str,
    action: StockAction,
    moves: &[(Sku, Levels, Levels)],
) -> Result<(), sqlx::Error> {
    for (sku, before, after) in moves {
        let change = Change {
            sku,
            order_id: Some(order_id),
            action,
            before: *before,
            after: *after,
        };
        changes::record(connection, origin, &change).await?;
    }
    Ok(())
}

/// The levels of a stock row this transaction has just updated (and so holds locked).
async fn levels_after_update(
    connection: &mut MySqlConnection,
    sku: &str,
) -> Result<Levels, ReservationError> {
    changes::lock_levels(connection, sku)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the stock row of {sku} vanished after its update").into())
}

/// A SKU read back from `reservation_line`; one that breaks the rule was written by something
/// other than these use cases.
fn stored_sku(sku: &str) -> Result<Sku, ReservationError> {
    Ok(Sku::parse(sku).map_err(anyhow::Error::from)?)
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
            sku: sku.clone(),
            quantity: quantity.units(),
        })
        .collect()
}

/// Reservation lines as stored, back on the wire. A stored SKU or quantity that breaks the
/// rules means the table was written by something else than these use cases.
fn wire_lines_of_rows(lines: &[(String, i64)]) -> Result<Vec<ReservedLineV1>, ReservationError> {
    lines
        .iter()
        .map(|(sku, quantity)| {
            Ok(ReservedLineV1 {
                sku: Sku::parse(sku).map_err(anyhow::Error::from)?,
                quantity: u32::try_from(*quantity).map_err(anyhow::Error::from)?,
            })
        })
        .collect()
}
