//! What a customer reads: one order with its lines and history, or a page of their orders.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{MySqlConnection, MySqlPool};
use uuid::Uuid;

use crate::refund::LineRefundStatus;

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
    /// Every refund asked for, oldest first, with its outcome.
    pub refunds: Vec<crate::refunds::RefundView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    type LineRow = (i32, Option<String>, String, Option<String>, i32, i64);
    let lines: Vec<LineRow> = sqlx::query_as(
        "SELECT line_no, refund_status, product_id, product_name, quantity, unit_price_minor
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
    let refunds = crate::refunds::load_refunds(connection, order_id).await?;
    Ok(Some(OrderView {
        order_id: order_id.to_owned(),
        status,
        lines: lines
            .into_iter()
            .map(
                |(line_no, refund_status, product_id, product_name, quantity, unit_price_minor)| {
                    OrderLineView {
                        line_no,
                        status: LineRefundStatus::from_stored(refund_status.as_deref())
                            .map_or("UNKNOWN", LineRefundStatus::shown)
                            .to_owned(),
                        product_id,
                        product_name,
                        quantity,
                        unit_price_minor,
                    }
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
        refunds,
    }))
}
