//! Checkout: the customer's cart becomes an order through the same steps as place-order —
//! same Idempotency-Key rules, same pricing, same `order.placed` — shipped to one of their
//! addresses (copied onto the order), and the cart is emptied in the same transaction.
//!
//! The customer confirms the total they were shown; if the cart would now cost anything else
//! (a price changed, a line changed in another tab), nothing is placed and the cart is kept.

use chrono::Duration;
use sha2::Digest;
use sqlx::MySqlPool;
use store::outbox::EventContext;
use uuid::Uuid;

use super::place::{Claim, NewOrder, PlaceOrderError, Placed, claim_key, price_lines, store_order};
use crate::order::{IdempotencyKey, OrderLines, PaymentToken, PricedOrder};
use crate::shopping::{ShippingRule, totals};
use crate::{addresses, cart, shopper};

/// A validated checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub user_id: Uuid,
    pub idempotency_key: IdempotencyKey,
    pub address_id: String,
    pub payment_token: PaymentToken,
    /// The cart's `totalMinor` the customer was shown and agreed to pay.
    pub expected_total_minor: i64,
}

impl Checkout {
    /// What the customer asked for: the same request under the same key is the same order,
    /// even once the cart it emptied is gone.
    fn fingerprint(&self) -> String {
        let mut hasher = sha2::Sha256::new();
        hasher.update(b"checkout\x1f");
        hasher.update(self.address_id.as_bytes());
        hasher.update(b"\x1f");
        hasher.update(self.expected_total_minor.to_be_bytes());
        hasher.update(b"\x1f");
        hasher.update(self.payment_token.as_str().as_bytes());
        hex::encode(hasher.finalize())
    }
}

/// A line's price now, as the refusal of a changed cart shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentPrice {
    pub sku: String,
    pub unit_price_minor: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("the cart is empty")]
    CartEmpty,
    #[error("no such address")]
    AddressNotFound,
    #[error("the cart now costs {total_minor}, not the total the customer was shown")]
    PriceChanged {
        total_minor: i64,
        lines: Vec<CurrentPrice>,
    },
    #[error(transparent)]
    Place(#[from] PlaceOrderError),
}

impl From<sqlx::Error> for CheckoutError {
    fn from(error: sqlx::Error) -> Self {
        Self::Place(error.into())
    }
}

impl From<anyhow::Error> for CheckoutError {
    fn from(error: anyhow::Error) -> Self {
        Self::Place(error.into())
    }
}

/// Places the cart as an order shipped to the address, if it costs what the customer agreed
/// to; empties the cart in the same transaction.
#[tracing::instrument(skip_all, fields(user_id = %command.user_id, order_id))]
pub async fn checkout(
    pool: &MySqlPool,
    command: &Checkout,
    shipping: &ShippingRule,
    payment_timeout: Duration,
    context: &EventContext,
) -> Result<Placed, CheckoutError> {
    let order_id = Uuid::now_v7();
    // As place-order: a locked or withdrawn customer is refused before anything is written.
    crate::customer_status::customer_status(pool, &command.user_id.to_string())
        .await?
        .may_order()
        .map_err(PlaceOrderError::from)?;
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
    shopper::lock(&mut transaction, command.user_id).await?;
    let lines = cart::lines(&mut transaction, command.user_id).await?;
    if lines.is_empty() {
        return Err(CheckoutError::CartEmpty);
    }
    let address = addresses::find(&mut transaction, command.user_id, &command.address_id)
        .await?
        .ok_or(CheckoutError::AddressNotFound)?
        .address();
    let lines = OrderLines::new(
        lines
            .into_iter()
            .map(|line| (line.product_id, line.quantity))
            .collect(),
    )
    .map_err(anyhow::Error::from)?;
    let priced = price_lines(&mut transaction, &lines).await?;
    let totals = totals(&priced, Some(shipping)).map_err(PlaceOrderError::from)?;
    if totals.total.minor() != command.expected_total_minor {
        return Err(price_changed(&priced, totals.total.minor()));
    }
    tracing::Span::current().record("order_id", order_id.to_string());
    let order = NewOrder {
        order_id,
        user_id: command.user_id,
        priced: &priced,
        totals,
        ship_to: Some(&address),
        payment_token: &command.payment_token,
        payment_timeout,
    };
    let view = store_order(&mut transaction, &order, context).await?;
    cart::clear(&mut transaction, command.user_id).await?;
    transaction.commit().await?;
    Ok(Placed::New(view))
}

fn price_changed(priced: &PricedOrder, total_minor: i64) -> CheckoutError {
    CheckoutError::PriceChanged {
        total_minor,
        lines: priced
            .lines
            .iter()
            .map(|line| CurrentPrice {
                sku: line.product_id.as_str().to_owned(),
                unit_price_minor: line.unit_price.minor(),
            })
            .collect(),
    }
}
