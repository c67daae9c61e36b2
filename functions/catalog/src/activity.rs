//! What other contexts tell catalog about its products, as events: units sold (ordering's
//! `order.confirmed`) and whether a SKU has stock (inventory's `stock.depleted` and
//! `stock.restored`). Both run in the transaction the consumer runner opened, which already
//! holds the event's inbox row, and both are safe to replay: a sale counts once per order and
//! SKU, and a stock event older than the one applied to its SKU is ignored.

use chrono::{DateTime, Utc};
use events::inventory::{StockDepletedV1, StockRestoredV1};
use events::ordering::OrderConfirmedV1;
use sqlx::{MySqlConnection, MySqlPool};
use store::consumer::{Consumer, Received, Retryable};

use crate::cache::ChangesProducts;

/// A database failure: a retry may help.
#[derive(Debug, thiserror::Error)]
#[error("the database failed: {0}")]
pub struct ActivityError(#[from] sqlx::Error);

impl Retryable for ActivityError {
    fn is_retryable(&self) -> bool {
        true
    }
}

/// Counts the units of a confirmed order's lines into their products' sales, once per order
/// and SKU, and remembers each line for its buyer's review. A SKU catalog does not know (sold
/// before it existed here) is skipped.
pub async fn record_sales(
    transaction: &mut MySqlConnection,
    confirmed: &OrderConfirmedV1,
    confirmed_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    for line in &confirmed.lines {
        let product: Option<String> = sqlx::query_scalar("SELECT product_id FROM sku WHERE sku = ?")
            .bind(line.product_id.as_str())
            .fetch_optional(&mut *transaction)
            .await?;
        let Some(product) = product else {
            tracing::warn!(
                sku = line.product_id.as_str(),
                "A confirmed order sold a SKU catalog does not know; not counted."
            );
            continue;
        };
        let recorded = sqlx::query(
            "INSERT IGNORE INTO sold_line (order_id, sku, product_id, user_id, quantity, confirmed_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&confirmed.order_id)
        .bind(line.product_id.as_str())
        .bind(&product)
        .bind(&confirmed.user_id)
        .bind(line.quantity)
        .bind(confirmed_at)
        .execute(&mut *transaction)
        .await?;
        if recorded.rows_affected() == 1 {
            sqlx::query("UPDATE product SET sales_count = sales_count + ? WHERE product_id = ?")
                .bind(line.quantity)
                .bind(&product)
                .execute(&mut *transaction)
                .await?;
        }
    }
    Ok(())
}

/// Sets whether a SKU has stock, unless a newer stock event was applied already, and keeps
/// its product's `available` in step.
pub async fn apply_stock(
    transaction: &mut MySqlConnection,
    sku: &str,
    in_stock: bool,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let changed = sqlx::query(
        "UPDATE sku SET in_stock = ?, stock_event_at = ?
         WHERE sku = ? AND (stock_event_at IS NULL OR stock_event_at <= ?)",
    )
    .bind(in_stock)
    .bind(at)
    .bind(sku)
    .bind(at)
    .execute(&mut *transaction)
    .await?;
    if changed.rows_affected() == 1 {
        let product: Option<String> = sqlx::query_scalar("SELECT product_id FROM sku WHERE sku = ?")
            .bind(sku)
            .fetch_optional(&mut *transaction)
            .await?;
        if let Some(product) = product {
            refresh_availability(transaction, &product).await?;
        }
    }
    Ok(())
}

/// A product is available when one of its active SKUs has stock.
pub(crate) async fn refresh_availability(
    connection: &mut MySqlConnection,
    product_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE product SET available = EXISTS (
             SELECT 1 FROM sku WHERE sku.product_id = product.product_id AND sku.status = 'ACTIVE' AND sku.in_stock)
         WHERE product_id = ?",
    )
    .bind(product_id)
    .execute(connection)
    .await?;
    Ok(())
}

/// `record-product-sales`: counts what confirmed orders sold.
#[derive(Debug, Clone, Copy)]
pub struct RecordProductSales;

impl Consumer for RecordProductSales {
    const NAME: &'static str = "record-product-sales";
    // A projection: a batch of records commits once (ADR 0064).
    const APPLIES_BATCHES: bool = true;
    type Event = OrderConfirmedV1;
    type Error = ActivityError;
    type Prepared = ();

    async fn apply(
        &self,
        transaction: &mut MySqlConnection,
        confirmed: &Received<Self::Event>,
    ) -> Result<(), Self::Error> {
        let at = confirmed.time.unwrap_or_else(Utc::now);
        record_sales(transaction, &confirmed.data, at).await?;
        Ok(())
    }
}

events::one_of! {
    /// What inventory says about a SKU's stock.
    pub enum StockEvent {
        Depleted(StockDepletedV1),
        Restored(StockRestoredV1),
    }
}

/// `project-stock-availability`: whether each SKU, and so each product, has stock.
#[derive(Debug, Clone, Copy)]
pub struct ProjectStockAvailability;

impl Consumer for ProjectStockAvailability {
    const NAME: &'static str = "project-stock-availability";
    // A projection: a batch of records commits once (ADR 0064).
    const APPLIES_BATCHES: bool = true;
    type Event = StockEvent;
    type Error = ActivityError;
    type Prepared = ();

    async fn apply(
        &self,
        transaction: &mut MySqlConnection,
        event: &Received<Self::Event>,
    ) -> Result<(), Self::Error> {
        let at = event.time.unwrap_or_else(Utc::now);
        let (sku, in_stock) = match &event.data {
            StockEvent::Depleted(depleted) => (depleted.sku.as_str(), false),
            StockEvent::Restored(restored) => (restored.sku.as_str(), true),
        };
        apply_stock(transaction, sku, in_stock, at).await?;
        Ok(())
    }
}

/// The products of `skus`, which a committed event changed.
async fn products_of_skus(pool: &MySqlPool, skus: &[&str]) -> Result<Vec<String>, sqlx::Error> {
    if skus.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = sqlx::QueryBuilder::new("SELECT DISTINCT product_id FROM sku WHERE sku IN (");
    let mut ids = query.separated(", ");
    for sku in skus {
        ids.push_bind(*sku);
    }
    query.push(")");
    query.build_query_scalar().fetch_all(pool).await
}

impl ChangesProducts for RecordProductSales {
    async fn changed_products(
        pool: &MySqlPool,
        confirmed: &Received<Self::Event>,
    ) -> Result<Vec<String>, sqlx::Error> {
        let skus: Vec<&str> = confirmed
            .data
            .lines
            .iter()
            .map(|line| line.product_id.as_str())
            .collect();
        products_of_skus(pool, &skus).await
    }
}

impl ChangesProducts for ProjectStockAvailability {
    async fn changed_products(
        pool: &MySqlPool,
        event: &Received<Self::Event>,
    ) -> Result<Vec<String>, sqlx::Error> {
        let sku = match &event.data {
            StockEvent::Depleted(depleted) => depleted.sku.as_str(),
            StockEvent::Restored(restored) => restored.sku.as_str(),
        };
        products_of_skus(pool, &[sku]).await
    }
}
