//! A customer's cart: the use cases on MariaDB (read, add, change a quantity, remove, clear)
//! and the view a customer reads, priced from ordering's catalog projection with each line's
//! availability from inventory (docs/adr/0044).

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::Digest;
use sqlx::{MySqlConnection, MySqlPool};
use uuid::Uuid;

use crate::availability::{AvailableUnits, LineAvailability, StockAvailability};
use crate::order::{
    CatalogPrice, IdempotencyKey, OrderLines, PricingError, ProductId, Quantity, price_order,
};
use crate::orders::rows::catalog_price;
use crate::shopper;
use crate::shopping::{CartLimit, ShippingRule, add_to_cart, totals};

/// A line as stored: the SKU and how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartLine {
    pub product_id: ProductId,
    pub quantity: Quantity,
}

/// The cart as its owner sees it. The totals are those of the lines that can be ordered:
/// `total_minor` (lines + shipping fee) is what `POST /cart/checkout` would charge, and what
/// it expects to be told back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CartView {
    pub lines: Vec<CartLineView>,
    /// Absent while no line can be ordered (an empty cart, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    pub subtotal_minor: i64,
    pub discount_minor: i64,
    pub shipping_fee_minor: i64,
    pub total_minor: i64,
    /// From this subtotal on, shipping is free.
    pub free_shipping_from_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CartLineView {
    pub sku: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub quantity: u32,
    /// The selling price now: what checkout charges per unit.
    pub unit_price_minor: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_price_minor: Option<i64>,
    pub line_total_minor: i64,
    /// False once catalog stopped selling the SKU: checkout refuses the cart until it is removed.
    pub orderable: bool,
    pub availability: LineAvailability,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_units: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum CartError {
    #[error(transparent)]
    Pricing(#[from] PricingError),
    #[error(transparent)]
    Limit(#[from] CartLimit),
    #[error("the cart has no line for this SKU")]
    LineNotFound,
    #[error("this Idempotency-Key was already used for a different add")]
    IdempotencyKeyReused,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<sqlx::Error> for CartError {
    fn from(error: sqlx::Error) -> Self {
        Self::Unexpected(error.into())
    }
}

/// A validated add: `quantity` units of a SKU, once per customer and key.
#[derive(Debug, Clone)]
pub struct AddToCart {
    pub user_id: Uuid,
    pub idempotency_key: IdempotencyKey,
    pub product_id: ProductId,
    pub quantity: Quantity,
}

impl AddToCart {
    fn fingerprint(&self) -> String {
        let mut hasher = sha2::Sha256::new();
        hasher.update(self.product_id.as_str().as_bytes());
        hasher.update(b"\x1f");
        hasher.update(self.quantity.units().to_be_bytes());
        hex::encode(hasher.finalize())
    }
}

/// What an add did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    New,
    /// The same add was made before under this key; nothing changed.
    Replayed,
}

/// The lines of the customer's cart, oldest first.
pub async fn lines(connection: &mut MySqlConnection, user_id: Uuid) -> Result<Vec<CartLine>, anyhow::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT product_id, quantity FROM cart_line WHERE user_id = ? ORDER BY added_at, product_id",
    )
    .bind(user_id.to_string())
    .fetch_all(connection)
    .await?;
    rows.into_iter()
        .map(|(product_id, quantity)| {
            Ok(CartLine {
                product_id: ProductId::parse(&product_id)
                    .map_err(|_| anyhow::anyhow!("stored SKU {product_id:?} is invalid"))?,
                quantity: Quantity::new(quantity)?,
            })
        })
        .collect()
}

/// The cart as its owner sees it: priced now, with the availability inventory gave (if any).
pub async fn get_cart(
    pool: &MySqlPool,
    user_id: Uuid,
    shipping: &ShippingRule,
    inventory: &dyn StockAvailability,
) -> Result<CartView, anyhow::Error> {
    let mut connection = pool.acquire().await?;
    let lines = lines(&mut connection, user_id).await?;
    let mut prices = BTreeMap::new();
    for line in &lines {
        if let Some(price) = catalog_price(&mut connection, &line.product_id).await? {
            prices.insert(line.product_id.clone(), price);
        }
    }
    drop(connection);
    let skus: Vec<String> = lines
        .iter()
        .map(|line| line.product_id.as_str().to_owned())
        .collect();
    let available = inventory.available_units(&skus).await;
    view(&lines, &prices, available.as_ref(), shipping)
}

/// The view of priced lines. The totals are those of the lines that can be ordered — what
/// checkout would charge, the shipping fee included.
pub fn view(
    lines: &[CartLine],
    prices: &BTreeMap<ProductId, CatalogPrice>,
    available: Option<&AvailableUnits>,
    shipping: &ShippingRule,
) -> Result<CartView, anyhow::Error> {
    let mut views = Vec::new();
    let mut orderable = Vec::new();
    for line in lines {
        let Some(price) = prices.get(&line.product_id) else {
            // Every SKU in a cart was in the projection when it was added, and projection rows
            // are never deleted.
            anyhow::bail!(
                "the cart's SKU {} is not in the projection",
                line.product_id.as_str()
            );
        };
        if price.orderable {
            orderable.push((line.product_id.clone(), line.quantity));
        }
        let units = available.and_then(|available| available.get(line.product_id.as_str()).copied());
        views.push(CartLineView {
            sku: line.product_id.as_str().to_owned(),
            name: price.name.clone(),
            quantity: line.quantity.units(),
            unit_price_minor: price.unit_price.minor(),
            list_price_minor: price.list_price.map(|price| price.minor()),
            line_total_minor: price.unit_price.checked_mul(line.quantity.units())?.minor(),
            orderable: price.orderable,
            availability: LineAvailability::of(units, line.quantity.units()),
            available_units: units,
        });
    }
    let mut cart = CartView {
        lines: views,
        currency: None,
        subtotal_minor: 0,
        discount_minor: 0,
        shipping_fee_minor: 0,
        total_minor: 0,
        free_shipping_from_minor: shipping.free_from_minor,
    };
    // A cart whose orderable lines cannot be priced together (all free, say) shows no totals;
    // checkout then names the reason.
    let priced = OrderLines::new(orderable)
        .ok()
        .and_then(|orderable| price_order(&orderable, prices).ok())
        .and_then(|priced| totals(&priced, Some(shipping)).ok());
    if let Some(totals) = priced {
        cart.currency = Some(totals.total.currency().as_str().to_owned());
        cart.subtotal_minor = totals.subtotal.minor();
        cart.discount_minor = totals.discount.minor();
        cart.shipping_fee_minor = totals.shipping_fee.minor();
        cart.total_minor = totals.total.minor();
    }
    Ok(cart)
}

/// Adds units of a SKU ordering sells: to its line if the cart has one, else as a new line.
/// Once per customer and key: a replay changes nothing, a different add under the key is refused.
#[tracing::instrument(skip_all, fields(user_id = %add.user_id, sku = %add.product_id.as_str()))]
pub async fn add_item(pool: &MySqlPool, add: &AddToCart) -> Result<Added, CartError> {
    let user_id = add.user_id.to_string();
    let mut transaction = pool.begin().await?;
    shopper::lock(&mut transaction, add.user_id).await?;
    let fingerprint = add.fingerprint();
    let claimed =
        sqlx::query("INSERT INTO cart_add (user_id, idempotency_key, request_hash) VALUES (?, ?, ?)")
            .bind(&user_id)
            .bind(add.idempotency_key.as_str())
            .bind(&fingerprint)
            .execute(&mut *transaction)
            .await;
    match claimed {
        Ok(_) => {}
        Err(error) if store::mariadb::is_duplicate_key(&error) => {
            let hash: String = sqlx::query_scalar(
                "SELECT request_hash FROM cart_add WHERE user_id = ? AND idempotency_key = ?",
            )
            .bind(&user_id)
            .bind(add.idempotency_key.as_str())
            .fetch_one(&mut *transaction)
            .await?;
            return if hash == fingerprint {
                Ok(Added::Replayed)
            } else {
                Err(CartError::IdempotencyKeyReused)
            };
        }
        Err(error) => return Err(error.into()),
    }
    let price = catalog_price(&mut transaction, &add.product_id)
        .await?
        .ok_or_else(|| PricingError::UnknownProduct(add.product_id.as_str().to_owned()))?;
    if !price.orderable {
        return Err(PricingError::NotOrderable(add.product_id.as_str().to_owned()).into());
    }
    let current = lines(&mut transaction, add.user_id).await?;
    for line in &current {
        let other = catalog_price(&mut transaction, &line.product_id).await?;
        if other.is_some_and(|other| other.unit_price.currency() != price.unit_price.currency()) {
            return Err(PricingError::MixedCurrencies.into());
        }
    }
    let existing = current
        .iter()
        .find(|line| line.product_id == add.product_id)
        .map(|line| line.quantity.units());
    let quantity = add_to_cart(existing, add.quantity, current.len())?;
    sqlx::query(
        "INSERT INTO cart_line (user_id, product_id, quantity, added_at) VALUES (?, ?, ?, NOW(6))
         ON DUPLICATE KEY UPDATE quantity = VALUES(quantity)",
    )
    .bind(&user_id)
    .bind(add.product_id.as_str())
    .bind(quantity.units())
    .execute(&mut *transaction)
    .await?;
    transaction.commit().await?;
    Ok(Added::New)
}

/// Sets the quantity of a line the cart has.
pub async fn set_quantity(
    pool: &MySqlPool,
    user_id: Uuid,
    product_id: &ProductId,
    quantity: Quantity,
) -> Result<(), CartError> {
    let mut transaction = pool.begin().await?;
    shopper::lock(&mut transaction, user_id).await?;
    let found: Option<i64> =
        sqlx::query_scalar("SELECT quantity FROM cart_line WHERE user_id = ? AND product_id = ? FOR UPDATE")
            .bind(user_id.to_string())
            .bind(product_id.as_str())
            .fetch_optional(&mut *transaction)
            .await?;
    if found.is_none() {
        return Err(CartError::LineNotFound);
    }
    sqlx::query("UPDATE cart_line SET quantity = ? WHERE user_id = ? AND product_id = ?")
        .bind(quantity.units())
        .bind(user_id.to_string())
        .bind(product_id.as_str())
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(())
}

/// Removes a line the cart has.
pub async fn remove_item(pool: &MySqlPool, user_id: Uuid, product_id: &ProductId) -> Result<(), CartError> {
    let removed = sqlx::query("DELETE FROM cart_line WHERE user_id = ? AND product_id = ?")
        .bind(user_id.to_string())
        .bind(product_id.as_str())
        .execute(pool)
        .await?;
    if removed.rows_affected() == 0 {
        return Err(CartError::LineNotFound);
    }
    Ok(())
}

/// Empties the cart (an empty cart stays empty).
pub async fn clear(connection: &mut MySqlConnection, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM cart_line WHERE user_id = ?")
        .bind(user_id.to_string())
        .execute(connection)
        .await?;
    Ok(())
}
