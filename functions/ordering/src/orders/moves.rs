//! Every change of an order's status, whoever makes it: the customer cancelling, a step of
//! the saga, the sweep of unpaid orders. Each goes through [`transition`], and each move is
//! announced on the order's topic: `order.confirmed` or `order.cancelled` with its reason.

use chrono::{DateTime, Utc};
use events::ordering::{OrderCancelledV1, OrderConfirmedV1, OrderLineV1};
use events::value::Money;
use sqlx::{MySqlConnection, MySqlPool};
use store::outbox::{self, EventContext, Origin};
use uuid::Uuid;

use super::rows::{LockedOrder, lock_order, record_history};
use super::view::{OrderView, load_view};
use crate::order::{OrderStatus, OrderTrigger, Transition, TransitionRefused, transition};

#[derive(Debug, thiserror::Error)]
pub enum CancelOrderError {
    #[error("no such order")]
    NotFound,
    #[error("the order is {0} and can no longer be cancelled")]
    NotCancellable(&'static str),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The customer cancels one of their orders while it is not confirmed. Cancelling a
/// cancelled order again answers the order as it is.
#[tracing::instrument(skip_all, fields(order_id))]
pub async fn cancel_order(
    pool: &MySqlPool,
    user_id: Uuid,
    order_id: &str,
    context: &EventContext,
) -> Result<OrderView, CancelOrderError> {
    tracing::Span::current().record("order_id", order_id);
    let mut transaction = pool.begin().await.map_err(anyhow::Error::from)?;
    let order = lock_order(&mut transaction, order_id).await?;
    let Some(order) = order.filter(|order| order.user_id == user_id.to_string()) else {
        return Err(CancelOrderError::NotFound);
    };
    // The order id is the saga's correlation id, whoever moves the order.
    let origin = Origin::new("customer-cancel-order", context.clone().correlated(order_id));
    match transition(order.status, OrderTrigger::CustomerCancelled) {
        Ok(Transition::Move { from, to, reason }) => {
            apply_move(&mut transaction, &origin, &order, Move { from, to, reason }).await?;
        }
        Ok(Transition::Unchanged) => {}
        Err(refused) => return Err(CancelOrderError::NotCancellable(refused.status.as_str())),
    }
    let view = load_view(&mut transaction, order_id)
        .await?
        .ok_or(CancelOrderError::NotFound)?;
    transaction.commit().await.map_err(anyhow::Error::from)?;
    Ok(view)
}

/// What a saga step did to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stepped {
    Moved(OrderStatus),
    Unchanged,
}

#[derive(Debug, thiserror::Error)]
pub enum SagaStepError {
    /// The event names an order ordering does not have: a person must look.
    #[error("order {0} does not exist")]
    UnknownOrder(String),
    /// The event contradicts the order's status: a person must look.
    #[error(transparent)]
    Refused(#[from] TransitionRefused),
    /// A payment was authorized for another amount than the order's total: the order is not
    /// paid, whoever sent the fact.
    #[error("order {order_id} totals {total} but the payment authorized {authorized}")]
    AmountMismatch {
        order_id: String,
        total: Money,
        authorized: Money,
    },
    /// The event's data breaks a rule no sound producer breaks (a negative amount, say).
    #[error("the event is not a sound fact: {0}")]
    UnsoundFact(String),
    #[error("the database failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Moves an order on an event of the saga, on the caller's transaction.
#[tracing::instrument(skip_all, fields(order_id, ?trigger))]
pub async fn saga_step(
    transaction: &mut MySqlConnection,
    origin: &Origin,
    order_id: &str,
    trigger: OrderTrigger,
) -> Result<Stepped, SagaStepError> {
    tracing::Span::current().record("order_id", order_id);
    let order = lock_existing(transaction, order_id).await?;
    step_locked(transaction, origin, &order, trigger).await
}

/// Confirms an order on `payment.authorized`, on the caller's transaction — but only when the
/// amount authorized is the order's total, in its currency. A placed order paid for less (or
/// in another currency) stays placed, and the fact is refused for a person to look at.
#[tracing::instrument(skip_all, fields(order_id))]
pub async fn confirm_paid(
    transaction: &mut MySqlConnection,
    origin: &Origin,
    order_id: &str,
    authorized: Money,
) -> Result<Stepped, SagaStepError> {
    tracing::Span::current().record("order_id", order_id);
    let order = lock_existing(transaction, order_id).await?;
    if order.status == OrderStatus::Placed && order.total != authorized {
        return Err(SagaStepError::AmountMismatch {
            order_id: order_id.to_owned(),
            total: order.total,
            authorized,
        });
    }
    step_locked(transaction, origin, &order, OrderTrigger::PaymentAuthorized).await
}

async fn lock_existing(
    transaction: &mut MySqlConnection,
    order_id: &str,
) -> Result<LockedOrder, SagaStepError> {
    lock_order(transaction, order_id)
        .await?
        .ok_or_else(|| SagaStepError::UnknownOrder(order_id.to_owned()))
}

async fn step_locked(
    transaction: &mut MySqlConnection,
    origin: &Origin,
    order: &LockedOrder,
    trigger: OrderTrigger,
) -> Result<Stepped, SagaStepError> {
    let stepped = match transition(order.status, trigger)? {
        Transition::Move { from, to, reason } => {
            apply_move(transaction, origin, order, Move { from, to, reason }).await?;
            tracing::info!(status = to.as_str(), "Order moved");
            Stepped::Moved(to)
        }
        Transition::Unchanged => {
            tracing::info!("Order already there; nothing to do");
            Stepped::Unchanged
        }
    };
    Ok(stepped)
}

/// Cancels up to `limit` orders whose payment did not arrive in time; returns how many.
/// How many orders are still PLACED past their payment deadline.
pub async fn count_overdue(pool: &MySqlPool, now: DateTime<Utc>) -> Result<i64, anyhow::Error> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE status = 'PLACED' AND payment_due_at < ?")
            .bind(now)
            .fetch_one(pool)
            .await?,
    )
}

pub async fn expire_unpaid(pool: &MySqlPool, now: DateTime<Utc>, limit: u32) -> Result<u32, anyhow::Error> {
    let mut transaction = pool.begin().await?;
    let due: Vec<String> = sqlx::query_scalar(
        "SELECT order_id FROM orders WHERE status = 'PLACED' AND payment_due_at < ?
         ORDER BY payment_due_at LIMIT ? FOR UPDATE SKIP LOCKED",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *transaction)
    .await?;
    let sweep = Origin::new("expire-orders", EventContext::default());
    let mut expired = 0;
    for order_id in &due {
        let Some(order) = lock_order(&mut transaction, order_id).await? else {
            continue;
        };
        if let Ok(Transition::Move { from, to, reason }) =
            transition(order.status, OrderTrigger::PaymentExpired)
        {
            apply_move(
                &mut transaction,
                &sweep.correlated(order_id),
                &order,
                Move { from, to, reason },
            )
            .await?;
            expired += 1;
        }
    }
    transaction.commit().await?;
    Ok(expired)
}

/// A status change the state machine allowed.
#[derive(Debug, Clone, Copy)]
struct Move {
    from: OrderStatus,
    to: OrderStatus,
    reason: Option<&'static str>,
}

/// Writes `change` to the locked `order`: the status (guarded by the one it came from), a
/// history row, and the event that announces it.
async fn apply_move(
    connection: &mut MySqlConnection,
    origin: &Origin,
    order: &LockedOrder,
    change: Move,
) -> Result<(), anyhow::Error> {
    let Move { from, to, reason } = change;
    let moved = sqlx::query(
        "UPDATE orders SET status = ?, cancel_reason = ?, updated_at = ? WHERE order_id = ? AND status = ?",
    )
    .bind(to.as_str())
    .bind(reason)
    .bind(Utc::now())
    .bind(&order.order_id)
    .bind(from.as_str())
    .execute(&mut *connection)
    .await?;
    anyhow::ensure!(
        moved.rows_affected() == 1,
        "order {} left {from:?} under a lock",
        order.order_id
    );
    record_history(
        connection,
        &order.order_id,
        Some(from),
        to,
        reason,
        origin.context.causation_id.as_deref(),
    )
    .await?;
    announce(connection, origin, order, change).await
}

/// Appends the event a move announces: the order's new status is a fact other contexts act on.
async fn announce(
    connection: &mut MySqlConnection,
    origin: &Origin,
    order: &LockedOrder,
    change: Move,
) -> Result<(), anyhow::Error> {
    match change.to {
        OrderStatus::Confirmed => {
            let lines: Vec<(String, i32, i64)> = sqlx::query_as(
                "SELECT product_id, quantity, unit_price_minor FROM order_line WHERE order_id = ? ORDER BY line_no",
            )
            .bind(&order.order_id)
            .fetch_all(&mut *connection)
            .await?;
            let lines = lines
                .into_iter()
                .map(|(sku, quantity, unit_price_minor)| {
                    Ok(OrderLineV1 {
                        product_id: events::value::Sku::parse(&sku)
                            .map_err(|_| anyhow::anyhow!("stored SKU {sku:?} is invalid"))?,
                        quantity: u32::try_from(quantity)?,
                        unit_price_minor,
                    })
                })
                .collect::<Result<_, anyhow::Error>>()?;
            let confirmed = OrderConfirmedV1 {
                order_id: order.order_id.clone(),
                user_id: order.user_id.clone(),
                total_minor: order.total.minor(),
                currency: order.total.currency(),
                lines,
            };
            outbox::append(connection, origin, &confirmed).await?;
        }
        OrderStatus::Cancelled => {
            let cancelled = OrderCancelledV1 {
                order_id: order.order_id.clone(),
                user_id: order.user_id.clone(),
                reason: change.reason.unwrap_or_default().to_owned(),
            };
            outbox::append(connection, origin, &cancelled).await?;
        }
        // Refunds announce themselves (`crate::refunds`); no move of this module ends there.
        OrderStatus::Placed | OrderStatus::PartiallyRefunded | OrderStatus::Refunded => {}
    }
    Ok(())
}
