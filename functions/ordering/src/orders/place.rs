//! Placing an order: priced from ordering's copy of the catalog, stored with its first
//! history row and `order.placed`, once per customer and `Idempotency-Key`.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use events::ordering::{OrderLineV1, OrderPlacedV1};
use sqlx::MySqlPool;
use store::outbox::{self, EventContext, Origin};
use uuid::Uuid;

use super::rows::{catalog_price, record_history};
use super::view::{OrderView, load_view};
use crate::customer_status::{CustomerRefusal, customer_status};
use crate::order::{OrderStatus, PlaceOrder, PricedOrder, PricingError, price_order};

/// The function that places orders, the `source` of `order.placed`.
const FUNCTION: &str = "place-order";

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
    /// Identity locked or withdrew the customer's account (ordering's projection says so).
    #[error(transparent)]
    Customer(#[from] CustomerRefusal),
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
    let order_id = Uuid::now_v7().to_string();
    let user_id = command.user_id.to_string();
    let fingerprint = command.fingerprint();
    // A locked or withdrawn customer's access token lives until it expires; ordering refuses
    // them as soon as it learned of the lock, before anything is written. Read outside the
    // transaction: a plain read in it would fix its snapshot before the key row's wait, and a
    // request that waited for a concurrent one with its key would not see that one's order.
    customer_status(pool, &user_id).await?.may_order()?;
    let mut transaction = pool.begin().await?;
    // The key row goes in first: a concurrent request with the same key waits on it and then
    // finds the order this one created.
    let claimed = sqlx::query(
        "INSERT INTO order_idempotency (user_id, idempotency_key, request_hash, order_id) VALUES (?, ?, ?, ?)",
    )
    .bind(&user_id)
    .bind(command.idempotency_key.as_str())
    .bind(&fingerprint)
    .bind(&order_id)
    .execute(&mut *transaction)
    .await;
    match claimed {
        Ok(_) => {}
        Err(error) if store::mariadb::is_duplicate_key(&error) => {
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
    tracing::Span::current().record("order_id", &order_id);

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
    .bind(&order_id)
    .bind(&user_id)
    .bind(priced.total.minor())
    .bind(priced.total.currency().as_str())
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
        .bind(&order_id)
        .bind(i32::try_from(line_no).unwrap_or(i32::MAX))
        .bind(line.product_id.as_str())
        .bind(&line.product_name)
        .bind(line.quantity.units())
        .bind(line.unit_price.minor())
        .execute(&mut *transaction)
        .await?;
    }
    record_history(
        &mut transaction,
        &order_id,
        None,
        OrderStatus::Placed,
        None,
        context.causation_id.as_deref(),
    )
    .await?;
    let origin = Origin::new(FUNCTION, context.clone().correlated(&order_id));
    let placed = order_placed(&order_id, &user_id, &priced, command);
    outbox::append(&mut transaction, &origin, &placed).await?;
    let view = load_view(&mut transaction, &order_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the order just stored is missing"))?;
    transaction.commit().await?;
    Ok(Placed::New(view))
}

fn order_placed(order_id: &str, user_id: &str, priced: &PricedOrder, command: &PlaceOrder) -> OrderPlacedV1 {
    OrderPlacedV1 {
        order_id: order_id.to_owned(),
        user_id: user_id.to_owned(),
        lines: priced
            .lines
            .iter()
            .map(|line| OrderLineV1 {
                product_id: line.product_id.clone(),
                quantity: line.quantity.units(),
                unit_price_minor: line.unit_price.minor(),
            })
            .collect(),
        total_minor: priced.total.minor(),
        currency: priced.total.currency(),
        payment_token: command.payment_token.as_str().to_owned(),
    }
}
