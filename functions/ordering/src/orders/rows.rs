//! The rows the order use cases lock, read and write, mapped to ordering's types.

use chrono::Utc;
use events::value::{Currency, Money};
use sqlx::MySqlConnection;

use crate::order::{CatalogPrice, OrderStatus, ProductId};

/// An order row locked for a status change.
#[derive(Debug)]
pub struct LockedOrder {
    pub order_id: String,
    pub user_id: String,
    pub status: OrderStatus,
    pub total: Money,
}

/// Locks the order's row (`SELECT … FOR UPDATE`) until the transaction ends.
pub async fn lock_order(
    connection: &mut MySqlConnection,
    order_id: &str,
) -> Result<Option<LockedOrder>, anyhow::Error> {
    // Order ids are ASCII (the column too); anything else names no order, and MariaDB
    // refuses to compare it with the column at all.
    if !order_id.is_ascii() {
        return Ok(None);
    }
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
            total: Money::new(total_minor, Currency::parse(&currency)?)?,
        })
    })
    .transpose()
}

/// Adds a row to the order's status history, naming what caused the move.
pub async fn record_history(
    connection: &mut MySqlConnection,
    order_id: &str,
    from: Option<OrderStatus>,
    to: OrderStatus,
    reason: Option<&str>,
    caused_by: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO order_status_history (order_id, from_status, to_status, reason, caused_by, occurred_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(order_id)
    .bind(from.map(OrderStatus::as_str))
    .bind(to.as_str())
    .bind(reason)
    .bind(caused_by)
    .bind(Utc::now())
    .execute(connection)
    .await?;
    Ok(())
}

/// What ordering's copy of the catalog says about a product, if it knows the product.
pub async fn catalog_price(
    connection: &mut MySqlConnection,
    product_id: &ProductId,
) -> Result<Option<CatalogPrice>, anyhow::Error> {
    type Row = (Option<String>, i64, Option<i64>, String, bool);
    let row: Option<Row> = sqlx::query_as(
        "SELECT name, price_minor, list_price_minor, currency, orderable AND sku_active
         FROM product_price WHERE product_id = ?",
    )
    .bind(product_id.as_str())
    .fetch_optional(connection)
    .await?;
    row.map(|(name, price_minor, list_price_minor, currency, orderable)| {
        Ok(CatalogPrice {
            name,
            unit_price: Money::parse(price_minor, &currency)?,
            list_price: list_price_minor
                .map(|minor| Money::parse(minor, &currency))
                .transpose()?,
            orderable,
        })
    })
    .transpose()
}
