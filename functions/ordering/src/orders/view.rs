//! What a customer reads: one order with its lines and history, or a page of their orders.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{MySqlConnection, MySqlPool};
use uuid::Uuid;

use crate::refund::LineRefundStatus;

/// An order as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    pub order_id: String,
    /// Human-readable; absent on orders placed before numbers existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_number: Option<String>,
    pub status: String,
    pub lines: Vec<OrderLineView>,
    /// The lines at their selling prices, what promotions took off the list prices, and the
    /// shipping fee; `total_minor` = subtotal + shipping fee. Absent on older orders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subtotal_minor: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount_minor: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_fee_minor: Option<i64>,
    pub total_minor: i64,
    pub currency: String,
    /// The address as it was at checkout; absent for an order placed without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<ShippingAddressView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub history: Vec<StatusChangeView>,
    /// The saga's steps in other contexts (stock reserved, payment authorized) with their
    /// times, as ordering heard of them; oldest first.
    pub steps: Vec<crate::progress::StepView>,
    /// The saga's events as ordering's functions received them, oldest first: when the
    /// producer committed each, when the relay published it to Kafka and when the function
    /// began on it. Where the time of the saga goes; the whole journey across every context is
    /// `local-stack/timeline` (docs/adr/0057).
    pub hops: Vec<crate::progress::HopView>,
    /// Every refund asked for, oldest first, with its outcome.
    pub refunds: Vec<crate::refunds::RefundView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderLineView {
    /// What a refund names the line by.
    pub line_no: i32,
    /// `ORDERED`, `REFUND_REQUESTED` or `REFUNDED`.
    pub status: String,
    pub product_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    pub quantity: i32,
    pub unit_price_minor: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_price_minor: Option<i64>,
}

/// The snapshot of a shipping address an order keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShippingAddressView {
    pub recipient: String,
    pub phone: String,
    pub line1: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusChangeView {
    pub from: Option<String>,
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// An order in a customer's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderSummary {
    pub order_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_number: Option<String>,
    pub status: String,
    pub total_minor: i64,
    pub currency: String,
    pub created_at: DateTime<Utc>,
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
///
/// The view takes several queries (order, lines, history, refunds); they all read one snapshot,
/// so a settlement committing meanwhile shows either wholly or not at all, never a refund that
/// succeeded on an order still waiting for it.
pub async fn get_order(pool: &MySqlPool, user_id: Uuid, order_id: &str) -> Result<OrderView, GetOrderError> {
    // Order ids are ASCII; anything else names no order (and cannot be compared with the column).
    if !order_id.is_ascii() {
        return Err(GetOrderError::NotFound);
    }
    let mut snapshot = pool
        .begin_with("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        .await
        .map_err(anyhow::Error::from)?;
    let owner: Option<String> = sqlx::query_scalar("SELECT user_id FROM orders WHERE order_id = ?")
        .bind(order_id)
        .fetch_optional(&mut *snapshot)
        .await
        .map_err(anyhow::Error::from)?;
    if owner != Some(user_id.to_string()) {
        return Err(GetOrderError::NotFound);
    }
    let view = load_view(&mut snapshot, order_id).await?;
    snapshot.rollback().await.map_err(anyhow::Error::from)?;
    view.ok_or(GetOrderError::NotFound)
}

/// A page of the customer's orders, newest first.
pub async fn list_orders(
    pool: &MySqlPool,
    user_id: Uuid,
    limit: u32,
    offset: u32,
) -> Result<Vec<OrderSummary>, anyhow::Error> {
    type Row = (String, Option<String>, String, i64, String, DateTime<Utc>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT order_id, order_number, status, total_minor, currency, created_at FROM orders
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
            |(order_id, order_number, status, total_minor, currency, created_at)| OrderSummary {
                order_id,
                order_number,
                status,
                total_minor,
                currency,
                created_at,
            },
        )
        .collect())
}

/// The order as its owner sees it, read on `connection` (inside a use case's transaction, so
/// the answer shows what that transaction did).
pub(crate) async fn load_view(
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
    let shopping = load_shopping(connection, order_id).await?;
    type LineRow = (i32, Option<String>, String, Option<String>, i32, i64, Option<i64>);
    let lines: Vec<LineRow> = sqlx::query_as(
        "SELECT line_no, refund_status, product_id, product_name, quantity, unit_price_minor, list_price_minor
         FROM order_line WHERE order_id = ? ORDER BY line_no",
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
    let steps = crate::progress::load_steps(connection, order_id).await?;
    let hops = crate::progress::load_hops(connection, order_id).await?;
    let refunds = crate::refunds::load_refunds(connection, order_id).await?;
    Ok(Some(OrderView {
        order_id: order_id.to_owned(),
        order_number: shopping.order_number,
        status,
        lines: lines
            .into_iter()
            .map(
                |(
                    line_no,
                    refund_status,
                    product_id,
                    product_name,
                    quantity,
                    unit_price_minor,
                    list_price_minor,
                )| {
                    OrderLineView {
                        line_no,
                        status: LineRefundStatus::from_stored(refund_status.as_deref())
                            .map_or("UNKNOWN", LineRefundStatus::shown)
                            .to_owned(),
                        product_id,
                        product_name,
                        quantity,
                        unit_price_minor,
                        list_price_minor,
                    }
                },
            )
            .collect(),
        subtotal_minor: shopping.subtotal_minor,
        discount_minor: shopping.discount_minor,
        shipping_fee_minor: shopping.shipping_fee_minor,
        total_minor,
        currency,
        shipping_address: shopping.shipping_address,
        cancel_reason,
        created_at,
        updated_at,
        history: history
            .into_iter()
            .map(|(from, to, reason, at)| StatusChangeView { from, to, reason, at })
            .collect(),
        steps,
        hops,
        refunds,
    }))
}

/// What the shopping flow added to an order (docs/adr/0045): its number, totals and address.
struct OrderShopping {
    order_number: Option<String>,
    subtotal_minor: Option<i64>,
    discount_minor: Option<i64>,
    shipping_fee_minor: Option<i64>,
    shipping_address: Option<ShippingAddressView>,
}

async fn load_shopping(
    connection: &mut MySqlConnection,
    order_id: &str,
) -> Result<OrderShopping, anyhow::Error> {
    type Row = (
        Option<String>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let (
        order_number,
        subtotal_minor,
        discount_minor,
        shipping_fee_minor,
        recipient,
        phone,
        line1,
        line2,
        city,
        postal_code,
        country,
    ): Row = sqlx::query_as(
        "SELECT order_number, subtotal_minor, discount_minor, shipping_fee_minor, ship_recipient, ship_phone,
                    ship_line1, ship_line2, ship_city, ship_postal_code, ship_country
             FROM orders WHERE order_id = ?",
    )
    .bind(order_id)
    .fetch_one(&mut *connection)
    .await?;
    let shipping_address = match (recipient, phone, line1, city, postal_code, country) {
        (Some(recipient), Some(phone), Some(line1), Some(city), Some(postal_code), Some(country)) => {
            Some(ShippingAddressView {
                recipient,
                phone,
                line1,
                line2,
                city,
                postal_code,
                country,
            })
        }
        _ => None,
    };
    Ok(OrderShopping {
        order_number,
        subtotal_minor,
        discount_minor,
        shipping_fee_minor,
        shipping_address,
    })
}
