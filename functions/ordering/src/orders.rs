//! The order use cases on MariaDB: place an order (idempotent per customer and key), read
//! and list a customer's orders, cancel one, and move orders through the saga.
//!
//! Every status change goes through [`crate::order::transition`] on a row locked with
//! `SELECT … FOR UPDATE`, is written with the status it came from in its `WHERE` clause, adds a
//! history row and appends its event to the outbox, all in one transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use events::ordering::{
    AGGREGATE, ORDER_CANCELLED_V1, ORDER_CONFIRMED_V1, ORDER_PLACED_V1, OrderCancelledV1, OrderConfirmedV1,
    OrderLineV1, OrderPlacedV1,
};
use serde::Serialize;
use sqlx::{MySqlConnection, MySqlPool};
use store::inbox::{self, Claim};
use store::outbox::{self, EventContext, OutboxEvent};
use uuid::Uuid;

use crate::order::{
    CatalogPrice, OrderStatus, OrderTrigger, PlaceOrder, PricingError, ProductId, Transition,
    TransitionRefused, price_order, transition,
};

/// MariaDB's duplicate-key error.
const DUPLICATE_KEY: u16 = 1062;

/// An order as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    pub order_id: String,
    pub status: String,
    pub lines: Vec<OrderLineView>,
    pub total_minor: i64,
    pub currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub history: Vec<StatusChangeView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLineView {
    pub product_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    pub quantity: i32,
    pub unit_price_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChangeView {
    pub from: Option<String>,
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// An order in a customer's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderSummary {
    pub order_id: String,
    pub status: String,
    pub total_minor: i64,
    pub currency: String,
    pub created_at: DateTime<Utc>,
}

/// What place-order did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placed {
    /// A new order; `order.placed` is in the outbox.
    New(OrderView),
    /// The same request was placed before under this key: the order it created.
    Replayed(OrderView),
}

#[derive(Debug, thiserror::Error)]
pub enum PlaceOrderError {
    #[error(transparent)]
    Pricing(#[from] PricingError),
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyKeyReused,
    /// Every database connection stayed busy for the whole acquire timeout: the function is
    /// overloaded. Nothing was written; the same request (same key) may be sent again.
    #[error("the database is busy; nothing was written")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<sqlx::Error> for PlaceOrderError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::PoolTimedOut => Self::Busy,
            other => Self::Unexpected(other.into()),
        }
    }
}

/// Places an order: prices it from ordering's catalog projection, stores it with its first
/// history row and `order.placed`, unless this customer used this key before.
#[tracing::instrument(skip_all, fields(user_id = %command.user_id, order_id))]
pub async fn place_order(
    pool: &MySqlPool,
    command: &PlaceOrder,
    payment_timeout: Duration,
    context: &EventContext,
) -> Result<Placed, PlaceOrderError> {
    let order_id = Uuid::now_v7();
    let user_id = command.user_id.to_string();
    let fingerprint = command.fingerprint();
    let mut transaction = pool.begin().await?;
    // The key row goes in first: a concurrent request with the same key waits on it and then
    // finds the order this one created.
    let claimed = sqlx::query(
        "INSERT INTO order_idempotency (user_id, idempotency_key, request_hash, order_id) VALUES (?, ?, ?, ?)",
    )
    .bind(&user_id)
    .bind(command.idempotency_key.as_str())
    .bind(&fingerprint)
    .bind(order_id.to_string())
    .execute(&mut *transaction)
    .await;
    match claimed {
        Ok(_) => {}
        Err(error) if is_duplicate_key(&error) => {
            let (hash, existing): (String, String) = sqlx::query_as(
                "SELECT request_hash, order_id FROM order_idempotency WHERE user_id = ? AND idempotency_key = ?",
            )
            .bind(&user_id)
            .bind(command.idempotency_key.as_str())
            .fetch_one(&mut *transaction)
            .await?;
            if hash != fingerprint {
                return Err(PlaceOrderError::IdempotencyKeyReused);
            }
            let view = load_view(&mut transaction, &existing)
                .await?
                .ok_or_else(|| anyhow::anyhow!("order {existing} of an idempotency key is missing"))?;
            return Ok(Placed::Replayed(view));
        }
        Err(error) => return Err(error.into()),
    }
    tracing::Span::current().record("order_id", order_id.to_string());

    let mut catalog = BTreeMap::new();
    for (product_id, _) in command.lines.iter() {
        if let Some(price) = catalog_price(&mut transaction, product_id).await? {
            catalog.insert(product_id.clone(), price);
        }
    }
    let priced = price_order(&command.lines, &catalog)?;

    let now = Utc::now();
    sqlx::query(
        "INSERT INTO orders (order_id, user_id, status, total_minor, currency, payment_token, payment_due_at,
                             created_at, updated_at)
         VALUES (?, ?, 'PLACED', ?, ?, ?, ?, ?, ?)",
    )
    .bind(order_id.to_string())
    .bind(&user_id)
    .bind(priced.total_minor)
    .bind(&priced.currency)
    .bind(command.payment_token.as_str())
    .bind(now + payment_timeout)
    .bind(now)
    .bind(now)
    .execute(&mut *transaction)
    .await?;
    for (line_no, line) in priced.lines.iter().enumerate() {
        sqlx::query(
            "INSERT INTO order_line (order_id, line_no, product_id, product_name, quantity, unit_price_minor)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(order_id.to_string())
        .bind(i32::try_from(line_no).unwrap_or(i32::MAX))
        .bind(line.product_id.as_str())
        .bind(&line.product_name)
        .bind(line.quantity.units())
        .bind(line.unit_price_minor)
        .execute(&mut *transaction)
        .await?;
    }
    record_history(
        &mut transaction,
        &order_id.to_string(),
        None,
        OrderStatus::Placed,
        None,
        context,
    )
    .await?;
    let payload = OrderPlacedV1 {
        order_id: order_id.to_string(),
        user_id: user_id.clone(),
        lines: priced
            .lines
            .iter()
            .map(|line| OrderLineV1 {
                product_id: line.product_id.as_str().to_owned(),
                quantity: line.quantity.units(),
                unit_price_minor: line.unit_price_minor,
            })
            .collect(),
        total_minor: priced.total_minor,
        currency: priced.currency.clone(),
        payment_token: command.payment_token.as_str().to_owned(),
    };
    let context = EventContext {
        correlation_id: Some(order_id.to_string()),
        ..context.clone()
    };
    append(
        &mut transaction,
        "place-order",
        &order_id.to_string(),
        ORDER_PLACED_V1,
        &payload,
        &context,
    )
    .await?;
    let view = load_view(&mut transaction, &order_id.to_string())
        .await?
        .ok_or_else(|| anyhow::anyhow!("the order just stored is missing"))?;
    transaction.commit().await?;
    Ok(Placed::New(view))
}

#[derive(Debug, thiserror::Error)]
pub enum GetOrderError {
    /// No such order, or not this customer's: the same answer, so ids cannot be probed.
    #[error("no such order")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// One of the customer's orders.
pub async fn get_order(pool: &MySqlPool, user_id: Uuid, order_id: &str) -> Result<OrderView, GetOrderError> {
    let mut connection = pool.acquire().await.map_err(anyhow::Error::from)?;
    let owner: Option<String> = sqlx::query_scalar("SELECT user_id FROM orders WHERE order_id = ?")
        .bind(order_id)
        .fetch_optional(&mut *connection)
        .await
        .map_err(anyhow::Error::from)?;
    if owner != Some(user_id.to_string()) {
        return Err(GetOrderError::NotFound);
    }
    load_view(&mut connection, order_id)
        .await?
        .ok_or(GetOrderError::NotFound)
}

/// A page of the customer's orders, newest first.
pub async fn list_orders(
    pool: &MySqlPool,
    user_id: Uuid,
    limit: u32,
    offset: u32,
) -> Result<Vec<OrderSummary>, anyhow::Error> {
    let rows: Vec<(String, String, i64, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT order_id, status, total_minor, currency, created_at FROM orders
         WHERE user_id = ? ORDER BY created_at DESC, order_id DESC LIMIT ? OFFSET ?",
    )
    .bind(user_id.to_string())
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(order_id, status, total_minor, currency, created_at)| OrderSummary {
                order_id,
                status,
                total_minor,
                currency,
                created_at,
            },
        )
        .collect())
}

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
    let context = EventContext {
        correlation_id: Some(order_id.to_owned()),
        ..context.clone()
    };
    match transition(order.status, OrderTrigger::CustomerCancelled) {
        Ok(Transition::Move { from, to, reason }) => {
            apply_move(
                &mut transaction,
                &order,
                from,
                to,
                reason,
                &context,
                "customer-cancel-order",
            )
            .await?;
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
    Duplicate,
}

#[derive(Debug, thiserror::Error)]
pub enum SagaStepError {
    /// The event names an order ordering does not have: a person must look.
    #[error("order {0} does not exist")]
    UnknownOrder(String),
    /// The event contradicts the order's status: a person must look.
    #[error(transparent)]
    Refused(#[from] TransitionRefused),
    #[error("the database failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Moves an order on an event of the saga, once per event id.
#[tracing::instrument(skip_all, fields(order_id, ?trigger))]
pub async fn saga_step(
    pool: &MySqlPool,
    consumer: &str,
    event_id: &str,
    order_id: &str,
    trigger: OrderTrigger,
    context: &EventContext,
) -> Result<Stepped, SagaStepError> {
    tracing::Span::current().record("order_id", order_id);
    let mut transaction = match inbox::claim(pool, consumer, event_id).await? {
        Claim::New(transaction) => transaction,
        Claim::AlreadyProcessed => return Ok(Stepped::Duplicate),
    };
    let order = lock_order(&mut transaction, order_id)
        .await?
        .ok_or_else(|| SagaStepError::UnknownOrder(order_id.to_owned()))?;
    let stepped = match transition(order.status, trigger)? {
        Transition::Move { from, to, reason } => {
            apply_move(&mut transaction, &order, from, to, reason, context, consumer).await?;
            Stepped::Moved(to)
        }
        Transition::Unchanged => Stepped::Unchanged,
    };
    transaction.commit().await?;
    Ok(stepped)
}

/// Cancels up to `limit` orders whose payment did not arrive in time; returns how many.
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
    let mut expired = 0;
    for order_id in &due {
        let Some(order) = lock_order(&mut transaction, order_id).await? else {
            continue;
        };
        if let Ok(Transition::Move { from, to, reason }) =
            transition(order.status, OrderTrigger::PaymentExpired)
        {
            let context = EventContext {
                correlation_id: Some(order_id.clone()),
                ..EventContext::default()
            };
            apply_move(
                &mut transaction,
                &order,
                from,
                to,
                reason,
                &context,
                "expire-orders",
            )
            .await?;
            expired += 1;
        }
    }
    transaction.commit().await?;
    Ok(expired)
}

/// An order row locked for a status change.
struct LockedOrder {
    order_id: String,
    user_id: String,
    status: OrderStatus,
    total_minor: i64,
    currency: String,
}

async fn lock_order(
    connection: &mut MySqlConnection,
    order_id: &str,
) -> Result<Option<LockedOrder>, anyhow::Error> {
    let row: Option<(String, String, i64, String)> = sqlx::query_as(
        "SELECT user_id, status, total_minor, currency FROM orders WHERE order_id = ? FOR UPDATE",
    )
    .bind(order_id)
    .fetch_optional(connection)
    .await?;
    row.map(|(user_id, status, total_minor, currency)| {
        Ok(LockedOrder {
            order_id: order_id.to_owned(),
            user_id,
            status: OrderStatus::parse(&status)
                .ok_or_else(|| anyhow::anyhow!("unknown order status {status:?}"))?,
            total_minor,
            currency,
        })
    })
    .transpose()
}

async fn apply_move(
    connection: &mut MySqlConnection,
    order: &LockedOrder,
    from: OrderStatus,
    to: OrderStatus,
    reason: Option<&'static str>,
    context: &EventContext,
    source: &str,
) -> Result<(), anyhow::Error> {
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
    record_history(connection, &order.order_id, Some(from), to, reason, context).await?;
    match to {
        OrderStatus::Confirmed => {
            let payload = OrderConfirmedV1 {
                order_id: order.order_id.clone(),
                user_id: order.user_id.clone(),
                total_minor: order.total_minor,
                currency: order.currency.clone(),
            };
            append(
                connection,
                source,
                &order.order_id,
                ORDER_CONFIRMED_V1,
                &payload,
                context,
            )
            .await?;
        }
        OrderStatus::Cancelled => {
            let payload = OrderCancelledV1 {
                order_id: order.order_id.clone(),
                user_id: order.user_id.clone(),
                reason: reason.unwrap_or_default().to_owned(),
            };
            append(
                connection,
                source,
                &order.order_id,
                ORDER_CANCELLED_V1,
                &payload,
                context,
            )
            .await?;
        }
        OrderStatus::Placed => {}
    }
    Ok(())
}

async fn record_history(
    connection: &mut MySqlConnection,
    order_id: &str,
    from: Option<OrderStatus>,
    to: OrderStatus,
    reason: Option<&str>,
    context: &EventContext,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO order_status_history (order_id, from_status, to_status, reason, caused_by, occurred_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(order_id)
    .bind(from.map(OrderStatus::as_str))
    .bind(to.as_str())
    .bind(reason)
    .bind(&context.causation_id)
    .bind(Utc::now())
    .execute(connection)
    .await?;
    Ok(())
}

async fn catalog_price(
    connection: &mut MySqlConnection,
    product_id: &ProductId,
) -> Result<Option<CatalogPrice>, sqlx::Error> {
    let row: Option<(Option<String>, i64, String, bool)> = sqlx::query_as(
        "SELECT name, price_minor, currency, orderable FROM product_price WHERE product_id = ?",
    )
    .bind(product_id.as_str())
    .fetch_optional(connection)
    .await?;
    Ok(
        row.map(|(name, unit_price_minor, currency, orderable)| CatalogPrice {
            name,
            unit_price_minor,
            currency,
            orderable,
        }),
    )
}

async fn load_view(
    connection: &mut MySqlConnection,
    order_id: &str,
) -> Result<Option<OrderView>, anyhow::Error> {
    type Row = (String, i64, String, Option<String>, DateTime<Utc>, DateTime<Utc>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT status, total_minor, currency, cancel_reason, created_at, updated_at FROM orders WHERE order_id = ?",
    )
    .bind(order_id)
    .fetch_optional(&mut *connection)
    .await?;
    let Some((status, total_minor, currency, cancel_reason, created_at, updated_at)) = row else {
        return Ok(None);
    };
    let lines: Vec<(String, Option<String>, i32, i64)> = sqlx::query_as(
        "SELECT product_id, product_name, quantity, unit_price_minor FROM order_line WHERE order_id = ? ORDER BY line_no",
    )
    .bind(order_id)
    .fetch_all(&mut *connection)
    .await?;
    type HistoryRow = (Option<String>, String, Option<String>, DateTime<Utc>);
    let history: Vec<HistoryRow> = sqlx::query_as(
        "SELECT from_status, to_status, reason, occurred_at FROM order_status_history WHERE order_id = ? ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(&mut *connection)
    .await?;
    Ok(Some(OrderView {
        order_id: order_id.to_owned(),
        status,
        lines: lines
            .into_iter()
            .map(
                |(product_id, product_name, quantity, unit_price_minor)| OrderLineView {
                    product_id,
                    product_name,
                    quantity,
                    unit_price_minor,
                },
            )
            .collect(),
        total_minor,
        currency,
        cancel_reason,
        created_at,
        updated_at,
        history: history
            .into_iter()
            .map(|(from, to, reason, at)| StatusChangeView { from, to, reason, at })
            .collect(),
    }))
}

async fn append(
    connection: &mut MySqlConnection,
    source: &str,
    order_id: &str,
    event_type: &str,
    payload: &impl Serialize,
    context: &EventContext,
) -> Result<(), anyhow::Error> {
    let event = OutboxEvent::new(
        events::topics::ORDERING_ORDER.name,
        AGGREGATE,
        order_id,
        event_type,
        &format!("commerce/ordering/{source}"),
        payload,
    )?
    .with_context(context.clone());
    outbox::append(connection, &[event]).await?;
    Ok(())
}

fn is_duplicate_key(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|error| error.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
        .is_some_and(|error| error.number() == DUPLICATE_KEY)
}
