//! The refund use cases on MariaDB: the owner asks for a refund of some lines of a confirmed
//! order, and payment's answer settles it.
//!
//! Asking locks the order's row (`SELECT … FOR UPDATE`), so two refunds of one order are
//! decided one after the other: the second sees the lines the first took. The lines go to
//! `REFUND_REQUESTED` with the refund's id, guarded in SQL by `refund_status IS NULL`, in the
//! same transaction as `order.refund-requested`. Settling locks the order and the refund: a
//! refund that is no longer `REQUESTED` was settled before, and a redelivered or replayed
//! answer changes nothing. A successful refund makes its lines `REFUNDED`, moves the order
//! through [`transition`] (with a history row) and announces `order.refunded`; a failed one
//! makes its lines refundable again and keeps payment's reason on the refund.

use chrono::{DateTime, Utc};
use events::ordering::{OrderRefundRequestedV1, OrderRefundedV1, RefundLineV1, RefundedLineV1};
use events::value::{Currency, Money};
use serde::Serialize;
use sqlx::{MySqlConnection, MySqlPool};
use store::outbox::{self, EventContext, Origin};
use uuid::Uuid;

use crate::order::{OrderTrigger, Transition, TransitionRefused, transition};
use crate::orders::rows::{LockedOrder, lock_order, record_history};
use crate::refund::{
    LineRefundStatus, RefundRefused, RefundableLine, RequestRefund, all_refunded, decide_refund,
};

/// The function that takes refund requests, the `source` of `order.refund-requested`.
const FUNCTION: &str = "request-refund";

/// A refund as the order's owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefundView {
    pub refund_id: String,
    pub order_id: String,
    /// `REQUESTED` until payment answers, then `SUCCEEDED` or `FAILED`.
    pub status: String,
    pub lines: Vec<u32>,
    pub amount_minor: i64,
    pub currency: String,
    /// Payment's reason when the refund failed (one of the wire's refund failure reasons).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What asking for a refund did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    /// A new refund; `order.refund-requested` is in the outbox.
    New(RefundView),
    /// The same request was made before under this key: the refund it created.
    Replayed(RefundView),
}

#[derive(Debug, thiserror::Error)]
pub enum RequestRefundError {
    /// No such order, or not this customer's: the same answer, so ids cannot be probed.
    #[error("no such order")]
    NotFound,
    #[error(transparent)]
    Refused(#[from] RefundRefused),
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyKeyReused,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<sqlx::Error> for RequestRefundError {
    fn from(error: sqlx::Error) -> Self {
        Self::Unexpected(error.into())
    }
}

/// The owner of a confirmed order asks to refund some of its lines.
#[tracing::instrument(skip_all, fields(user_id = %command.user_id, order_id = %command.order_id, refund_id))]
pub async fn request_refund(
    pool: &MySqlPool,
    command: &RequestRefund,
    context: &EventContext,
) -> Result<Requested, RequestRefundError> {
    let user_id = command.user_id.to_string();
    let mut transaction = pool.begin().await?;
    let order = lock_order(&mut transaction, &command.order_id).await?;
    let Some(order) = order.filter(|order| order.user_id == user_id) else {
        return Err(RequestRefundError::NotFound);
    };
    let fingerprint = command.fingerprint();
    let earlier: Option<(String, String)> = sqlx::query_as(
        "SELECT request_hash, refund_id FROM order_refund WHERE user_id = ? AND idempotency_key = ?",
    )
    .bind(&user_id)
    .bind(command.idempotency_key.as_str())
    .fetch_optional(&mut *transaction)
    .await?;
    if let Some((hash, refund_id)) = earlier {
        if hash != fingerprint {
            return Err(RequestRefundError::IdempotencyKeyReused);
        }
        let view = load_refund(&mut transaction, &refund_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("refund {refund_id} of an idempotency key is missing"))?;
        return Ok(Requested::Replayed(view));
    }

    let lines = refundable_lines(&mut transaction, &order).await?;
    let decision = decide_refund(order.status, &lines, &command.lines)?;
    let refund_id = Uuid::now_v7().to_string();
    tracing::Span::current().record("refund_id", &refund_id);
    let now = Utc::now();
    let inserted = sqlx::query(
        "INSERT INTO order_refund (refund_id, order_id, user_id, idempotency_key, request_hash, status,
                                   amount_minor, currency, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, 'REQUESTED', ?, ?, ?, ?)",
    )
    .bind(&refund_id)
    .bind(&order.order_id)
    .bind(&user_id)
    .bind(command.idempotency_key.as_str())
    .bind(&fingerprint)
    .bind(decision.amount.minor())
    .bind(decision.amount.currency().as_str())
    .bind(now)
    .bind(now)
    .execute(&mut *transaction)
    .await;
    match inserted {
        Ok(_) => {}
        // The same key on another order of this customer (whose row lock this one does not
        // hold) committed first: a different request under a used key.
        Err(error) if store::mariadb::is_duplicate_key(&error) => {
            return Err(RequestRefundError::IdempotencyKeyReused);
        }
        Err(error) => return Err(error.into()),
    }
    for line in &decision.lines {
        sqlx::query("INSERT INTO order_refund_line (refund_id, line_no) VALUES (?, ?)")
            .bind(&refund_id)
            .bind(line.line_no)
            .execute(&mut *transaction)
            .await?;
        let taken = sqlx::query(
            "UPDATE order_line SET refund_status = 'REFUND_REQUESTED', refund_id = ?
             WHERE order_id = ? AND line_no = ? AND refund_status IS NULL",
        )
        .bind(&refund_id)
        .bind(&order.order_id)
        .bind(line.line_no)
        .execute(&mut *transaction)
        .await?;
        if taken.rows_affected() != 1 {
            return Err(anyhow::anyhow!("line {} changed under the order's lock", line.line_no).into());
        }
    }
    let origin = Origin::new(FUNCTION, context.clone().correlated(&order.order_id));
    let requested = OrderRefundRequestedV1 {
        order_id: order.order_id.clone(),
        refund_id: refund_id.clone(),
        user_id,
        lines: decision
            .lines
            .iter()
            .map(|line| RefundLineV1 {
                line_no: line.line_no,
                product_id: line.product_id.clone(),
                quantity: line.quantity,
                unit_price_minor: line.unit_price.minor(),
            })
            .collect(),
        amount_minor: decision.amount.minor(),
        currency: decision.amount.currency(),
    };
    outbox::append(&mut transaction, &origin, &requested).await?;
    let view = load_refund(&mut transaction, &refund_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the refund just stored is missing"))?;
    transaction.commit().await?;
    tracing::info!(amount_minor = decision.amount.minor(), "Refund requested");
    Ok(Requested::New(view))
}

/// Payment's answer to a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    /// The gateway gave `amount` back.
    Refunded { amount: Money },
    /// Nothing was refunded; `reason` is payment's.
    Failed { reason: String },
}

/// What settling did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Refunded,
    Failed,
    /// The refund was settled before: nothing changed.
    AlreadySettled,
}

#[derive(Debug, thiserror::Error)]
pub enum SettleRefundError {
    /// The answer names an order or refund ordering does not have: a person must look.
    #[error("order {order_id} has no refund {refund_id}")]
    UnknownRefund { order_id: String, refund_id: String },
    /// Payment refunded another amount than the refund asked for: a person must look.
    #[error("refund {refund_id} asked for {asked} but payment refunded {refunded}")]
    AmountMismatch {
        refund_id: String,
        asked: Money,
        refunded: Money,
    },
    /// The event's data breaks a rule no sound producer breaks.
    #[error("the event is not a sound fact: {0}")]
    UnsoundFact(String),
    #[error(transparent)]
    Refused(#[from] TransitionRefused),
    #[error("the database failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Settles `refund_id` of `order_id` with payment's answer, on the caller's transaction.
#[tracing::instrument(skip_all, fields(order_id, refund_id))]
pub async fn settle_refund(
    transaction: &mut MySqlConnection,
    origin: &Origin,
    order_id: &str,
    refund_id: &str,
    outcome: &RefundOutcome,
) -> Result<Settled, SettleRefundError> {
    tracing::Span::current().record("order_id", order_id);
    tracing::Span::current().record("refund_id", refund_id);
    let unknown = || SettleRefundError::UnknownRefund {
        order_id: order_id.to_owned(),
        refund_id: refund_id.to_owned(),
    };
    let order = lock_order(transaction, order_id).await?.ok_or_else(unknown)?;
    let refund: Option<(String, i64, String)> = sqlx::query_as(
        "SELECT status, amount_minor, currency FROM order_refund WHERE refund_id = ? AND order_id = ? FOR UPDATE",
    )
    .bind(refund_id)
    .bind(order_id)
    .fetch_optional(&mut *transaction)
    .await?;
    let (status, amount_minor, currency) = refund.ok_or_else(unknown)?;
    if status != "REQUESTED" {
        tracing::info!(status, "Refund settled before; nothing to do");
        return Ok(Settled::AlreadySettled);
    }
    let asked = Money::new(
        amount_minor,
        Currency::parse(&currency).map_err(anyhow::Error::from)?,
    )
    .map_err(anyhow::Error::from)?;
    match outcome {
        RefundOutcome::Refunded { amount } => {
            if *amount != asked {
                return Err(SettleRefundError::AmountMismatch {
                    refund_id: refund_id.to_owned(),
                    asked,
                    refunded: *amount,
                });
            }
            refunded(transaction, origin, &order, refund_id, asked).await?;
            Ok(Settled::Refunded)
        }
        RefundOutcome::Failed { reason } => {
            sqlx::query(
                "UPDATE order_line SET refund_status = NULL, refund_id = NULL
                 WHERE order_id = ? AND refund_id = ? AND refund_status = 'REFUND_REQUESTED'",
            )
            .bind(order_id)
            .bind(refund_id)
            .execute(&mut *transaction)
            .await?;
            finish_refund(transaction, refund_id, "FAILED", Some(reason)).await?;
            tracing::warn!(reason, "Refund failed; its lines are refundable again");
            Ok(Settled::Failed)
        }
    }
}

async fn refunded(
    transaction: &mut MySqlConnection,
    origin: &Origin,
    order: &LockedOrder,
    refund_id: &str,
    amount: Money,
) -> Result<(), SettleRefundError> {
    let lines: Vec<(String, i32)> = sqlx::query_as(
        "SELECT product_id, quantity FROM order_line
         WHERE order_id = ? AND refund_id = ? AND refund_status = 'REFUND_REQUESTED' ORDER BY line_no",
    )
    .bind(&order.order_id)
    .bind(refund_id)
    .fetch_all(&mut *transaction)
    .await?;
    sqlx::query(
        "UPDATE order_line SET refund_status = 'REFUNDED'
         WHERE order_id = ? AND refund_id = ? AND refund_status = 'REFUND_REQUESTED'",
    )
    .bind(&order.order_id)
    .bind(refund_id)
    .execute(&mut *transaction)
    .await?;
    let statuses = refundable_lines(transaction, order)
        .await?
        .into_iter()
        .map(|line| line.status)
        .collect::<Vec<_>>();
    let trigger = if all_refunded(&statuses) {
        OrderTrigger::LastLinesRefunded
    } else {
        OrderTrigger::LinesRefunded
    };
    let Transition::Move { from, to, .. } = transition(order.status, trigger)? else {
        return Err(TransitionRefused {
            status: order.status,
            trigger,
        }
        .into());
    };
    let moved = sqlx::query("UPDATE orders SET status = ?, updated_at = ? WHERE order_id = ? AND status = ?")
        .bind(to.as_str())
        .bind(Utc::now())
        .bind(&order.order_id)
        .bind(from.as_str())
        .execute(&mut *transaction)
        .await?;
    if moved.rows_affected() != 1 {
        return Err(anyhow::anyhow!("order {} left {from:?} under a lock", order.order_id).into());
    }
    record_history(
        transaction,
        &order.order_id,
        Some(from),
        to,
        Some("refunded"),
        origin.context.causation_id.as_deref(),
    )
    .await?;
    finish_refund(transaction, refund_id, "SUCCEEDED", None).await?;
    let lines = lines
        .into_iter()
        .map(|(sku, quantity)| {
            Ok(RefundedLineV1 {
                sku: events::value::Sku::parse(&sku)
                    .map_err(|_| anyhow::anyhow!("stored SKU {sku:?} is invalid"))?,
                quantity: u32::try_from(quantity)?,
            })
        })
        .collect::<Result<Vec<_>, anyhow::Error>>()?;
    let announced = OrderRefundedV1 {
        order_id: order.order_id.clone(),
        refund_id: refund_id.to_owned(),
        user_id: order.user_id.clone(),
        lines,
        amount_minor: amount.minor(),
        currency: amount.currency(),
        status: to.as_str().to_owned(),
    };
    outbox::append(transaction, origin, &announced).await?;
    tracing::info!(status = to.as_str(), "Refund settled; lines refunded");
    Ok(())
}

async fn finish_refund(
    connection: &mut MySqlConnection,
    refund_id: &str,
    status: &str,
    reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE order_refund SET status = ?, failure_reason = ?, updated_at = ? WHERE refund_id = ?")
        .bind(status)
        .bind(reason)
        .bind(Utc::now())
        .bind(refund_id)
        .execute(connection)
        .await?;
    Ok(())
}

/// Every line of the locked order as a refund sees it.
async fn refundable_lines(
    connection: &mut MySqlConnection,
    order: &LockedOrder,
) -> Result<Vec<RefundableLine>, anyhow::Error> {
    let rows: Vec<(i32, String, i32, i64, Option<String>)> = sqlx::query_as(
        "SELECT line_no, product_id, quantity, unit_price_minor, refund_status FROM order_line
         WHERE order_id = ? ORDER BY line_no",
    )
    .bind(&order.order_id)
    .fetch_all(connection)
    .await?;
    rows.into_iter()
        .map(|(line_no, sku, quantity, unit_price_minor, status)| {
            Ok(RefundableLine {
                line_no: u32::try_from(line_no)?,
                product_id: events::value::Sku::parse(&sku)
                    .map_err(|_| anyhow::anyhow!("stored SKU {sku:?} is invalid"))?,
                quantity: u32::try_from(quantity)?,
                unit_price: Money::new(unit_price_minor, order.total.currency())?,
                status: LineRefundStatus::from_stored(status.as_deref())
                    .ok_or_else(|| anyhow::anyhow!("unknown refund status {status:?}"))?,
            })
        })
        .collect()
}

type RefundRow = (
    String,
    String,
    i64,
    String,
    Option<String>,
    DateTime<Utc>,
    DateTime<Utc>,
);

fn refund_view(refund_id: String, row: RefundRow, lines: Vec<u32>) -> RefundView {
    let (order_id, status, amount_minor, currency, failure_reason, created_at, updated_at) = row;
    RefundView {
        refund_id,
        order_id,
        status,
        lines,
        amount_minor,
        currency,
        failure_reason,
        created_at,
        updated_at,
    }
}

async fn refund_lines(connection: &mut MySqlConnection, refund_id: &str) -> Result<Vec<u32>, anyhow::Error> {
    let lines: Vec<i32> =
        sqlx::query_scalar("SELECT line_no FROM order_refund_line WHERE refund_id = ? ORDER BY line_no")
            .bind(refund_id)
            .fetch_all(connection)
            .await?;
    Ok(lines.into_iter().map(u32::try_from).collect::<Result<_, _>>()?)
}

/// One refund, read on `connection`.
pub(crate) async fn load_refund(
    connection: &mut MySqlConnection,
    refund_id: &str,
) -> Result<Option<RefundView>, anyhow::Error> {
    let row: Option<RefundRow> = sqlx::query_as(
        "SELECT order_id, status, amount_minor, currency, failure_reason, created_at, updated_at
         FROM order_refund WHERE refund_id = ?",
    )
    .bind(refund_id)
    .fetch_optional(&mut *connection)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let lines = refund_lines(connection, refund_id).await?;
    Ok(Some(refund_view(refund_id.to_owned(), row, lines)))
}

/// Every refund of an order, oldest first, read on `connection`.
pub(crate) async fn load_refunds(
    connection: &mut MySqlConnection,
    order_id: &str,
) -> Result<Vec<RefundView>, anyhow::Error> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT refund_id FROM order_refund WHERE order_id = ? ORDER BY created_at, refund_id",
    )
    .bind(order_id)
    .fetch_all(&mut *connection)
    .await?;
    let mut refunds = Vec::with_capacity(ids.len());
    for refund_id in ids {
        if let Some(refund) = load_refund(connection, &refund_id).await? {
            refunds.push(refund);
        }
    }
    Ok(refunds)
}
