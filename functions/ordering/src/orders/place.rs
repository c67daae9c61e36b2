//! Placing an order: priced from ordering's copy of the catalog, stored with its first
//! history row and `order.placed`, once per customer and `Idempotency-Key`.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use events::ordering::{OrderLineV1, OrderPlacedV1};
use sqlx::{MySqlConnection, MySqlPool};
use store::outbox::{self, EventContext, Origin};
use uuid::Uuid;

use super::rows::{catalog_price, record_history};
use super::view::{OrderView, load_view};
use crate::customer_status::{CustomerRefusal, customer_status};
use crate::order::{
    IdempotencyKey, OrderLines, OrderStatus, PaymentToken, PlaceOrder, PricedOrder, PricingError, price_order,
};
use crate::shopping::{Address, Totals, order_number, totals};

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
    /// Also a full connection pool (`sqlx::Error::PoolTimedOut`), which
    /// `runtime::envelope::ApiError::internal` answers `503 SERVICE_BUSY` with `Retry-After`:
    /// nothing was written, and the same request (same key) may be sent again.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<sqlx::Error> for PlaceOrderError {
    fn from(error: sqlx::Error) -> Self {
        Self::Unexpected(error.into())
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
    // A locked or withdrawn customer's access token lives until it expires; ordering refuses
    // them as soon as it learned of the lock, before anything is written. Read outside the
    // transaction: a plain read in it would fix its snapshot before the key row's wait, and a
    // request that waited for a concurrent one with its key would not see that one's order.
    customer_status(pool, &command.user_id.to_string())
        .await?
        .may_order()?;
    let mut transaction = pool.begin().await?;
    if let Claim::Replayed(view) = claim_key(
        &mut transaction,
        command.user_id,
        &command.idempotency_key,
        &command.fingerprint(),
        order_id,
    )
    .await?
    {
        return Ok(Placed::Replayed(*view));
    }
    tracing::Span::current().record("order_id", order_id.to_string());
    let priced = price_lines(&mut transaction, &command.lines).await?;
    let totals = totals(&priced, None)?;
    let order = NewOrder {
        order_id,
        user_id: command.user_id,
        priced: &priced,
        totals,
        ship_to: None,
        payment_token: &command.payment_token,
        payment_timeout,
    };
    let view = store_order(&mut transaction, &order, context).await?;
    transaction.commit().await?;
    Ok(Placed::New(view))
}

/// What claiming an Idempotency-Key found.
pub(crate) enum Claim {
    /// The key is this request's now (until the transaction ends).
    Claimed,
    /// The same request was placed under this key before: its order.
    Replayed(Box<OrderView>),
}

/// Claims the customer's key for `order_id`, or finds the order an earlier request with the same
/// fingerprint placed; a different request under the same key is refused.
pub(crate) async fn claim_key(
    transaction: &mut MySqlConnection,
    user_id: Uuid,
    key: &IdempotencyKey,
    fingerprint: &str,
    order_id: Uuid,
) -> Result<Claim, PlaceOrderError> {
    let user_id = user_id.to_string();
    // The key row goes in first: a concurrent request with the same key waits on it and then
    // finds the order this one created.
    let claimed = sqlx::query(
        "INSERT INTO order_idempotency (user_id, idempotency_key, request_hash, order_id) VALUES (?, ?, ?, ?)",
    )
    .bind(&user_id)
    .bind(key.as_str())
    .bind(fingerprint)
    .bind(order_id.to_string())
    .execute(&mut *transaction)
    .await;
    match claimed {
        Ok(_) => Ok(Claim::Claimed),
        Err(error) if store::mariadb::is_duplicate_key(&error) => {
            let (hash, existing): (String, String) = sqlx::query_as(
                "SELECT request_hash, order_id FROM order_idempotency WHERE user_id = ? AND idempotency_key = ?",
            )
            .bind(&user_id)
            .bind(key.as_str())
            .fetch_one(&mut *transaction)
            .await?;
            if hash != fingerprint {
                return Err(PlaceOrderError::IdempotencyKeyReused);
            }
            let view = load_view(transaction, &existing)
                .await?
                .ok_or_else(|| anyhow::anyhow!("order {existing} of an idempotency key is missing"))?;
            Ok(Claim::Replayed(Box::new(view)))
        }
        Err(error) => Err(error.into()),
    }
}

/// Prices the lines from ordering's catalog projection, read in the transaction.
pub(crate) async fn price_lines(
    transaction: &mut MySqlConnection,
    lines: &OrderLines,
) -> Result<PricedOrder, PlaceOrderError> {
    let mut catalog = BTreeMap::new();
    for (product_id, _) in lines.iter() {
        if let Some(price) = catalog_price(transaction, product_id).await? {
            catalog.insert(product_id.clone(), price);
        }
    }
    Ok(price_order(lines, &catalog)?)
}

/// An order ready to be stored.
pub(crate) struct NewOrder<'a> {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub priced: &'a PricedOrder,
    pub totals: Totals,
    /// The address it ships to, copied onto the order.
    pub ship_to: Option<&'a Address>,
    pub payment_token: &'a PaymentToken,
    pub payment_timeout: Duration,
}

/// Stores the order, its lines, its first history row and `order.placed` (whose total is what
/// payment must authorize: the lines plus shipping); answers the order as its owner sees it.
pub(crate) async fn store_order(
    transaction: &mut MySqlConnection,
    order: &NewOrder<'_>,
    context: &EventContext,
) -> Result<OrderView, PlaceOrderError> {
    let order_id = order.order_id.to_string();
    let user_id = order.user_id.to_string();
    let totals = &order.totals;
    let now = Utc::now();
    let ship_to = order.ship_to;
    sqlx::query(
        "INSERT INTO orders (order_id, user_id, status, total_minor, currency, payment_token, payment_due_at,
                             created_at, updated_at, order_number, subtotal_minor, discount_minor,
                             shipping_fee_minor, ship_recipient, ship_phone, ship_line1, ship_line2, ship_city,
                             ship_postal_code, ship_country)
         VALUES (?, ?, 'PLACED', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&order_id)
    .bind(&user_id)
    .bind(totals.total.minor())
    .bind(totals.total.currency().as_str())
    .bind(order.payment_token.as_str())
    .bind(now + order.payment_timeout)
    .bind(now)
    .bind(now)
    .bind(order_number(order.order_id, now))
    .bind(totals.subtotal.minor())
    .bind(totals.discount.minor())
    .bind(totals.shipping_fee.minor())
    .bind(ship_to.map(|address| address.recipient.as_str()))
    .bind(ship_to.map(|address| address.phone.as_str()))
    .bind(ship_to.map(|address| address.line1.as_str()))
    .bind(ship_to.and_then(|address| address.line2.as_deref()))
    .bind(ship_to.map(|address| address.city.as_str()))
    .bind(ship_to.map(|address| address.postal_code.as_str()))
    .bind(ship_to.map(|address| address.country.as_str()))
    .execute(&mut *transaction)
    .await?;
    for (line_no, line) in order.priced.lines.iter().enumerate() {
        sqlx::query(
            "INSERT INTO order_line (order_id, line_no, product_id, product_name, quantity, unit_price_minor,
                                     list_price_minor)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&order_id)
        .bind(i32::try_from(line_no).unwrap_or(i32::MAX))
        .bind(line.product_id.as_str())
        .bind(&line.product_name)
        .bind(line.quantity.units())
        .bind(line.unit_price.minor())
        .bind(line.list_price.map(|price| price.minor()))
        .execute(&mut *transaction)
        .await?;
    }
    record_history(
        transaction,
        &order_id,
        None,
        OrderStatus::Placed,
        None,
        context.causation_id.as_deref(),
    )
    .await?;
    let origin = Origin::new(FUNCTION, context.clone().correlated(&order_id));
    let placed = order_placed(&order_id, &user_id, order);
    outbox::append(transaction, &origin, &placed).await?;
    let view = load_view(transaction, &order_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the order just stored is missing"))?;
    Ok(view)
}

fn order_placed(order_id: &str, user_id: &str, order: &NewOrder<'_>) -> OrderPlacedV1 {
    OrderPlacedV1 {
        order_id: order_id.to_owned(),
        user_id: user_id.to_owned(),
        lines: order
            .priced
            .lines
            .iter()
            .map(|line| OrderLineV1 {
                product_id: line.product_id.clone(),
                quantity: line.quantity.units(),
                unit_price_minor: line.unit_price.minor(),
            })
            .collect(),
        total_minor: order.totals.total.minor(),
        currency: order.totals.total.currency(),
        payment_token: order.payment_token.as_str().to_owned(),
    }
}
