//! The stock change log, and the availability events a change can cause.
//!
//! Every use case that changes a SKU's stock calls [`record`] on the transaction that made the
//! change, once per SKU it changed, and only when something really changed. So the log and the
//! events commit exactly when the change does, and a redelivered event (which changes nothing)
//! leaves no trace in either. Admins read the log with [`list`].

use chrono::{DateTime, Utc};
use events::inventory::{StockDepletedV1, StockRestoredV1};
use serde::Serialize;
use sqlx::{MySqlConnection, MySqlPool};
use store::outbox::{self, Origin};

use crate::domain::{AvailabilityCrossing, Levels, Page, Sku, StockAction, availability_crossing};

/// One change of one SKU's stock, with the levels around it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Change<'a> {
    pub sku: &'a Sku,
    /// The order whose reservation moved the stock; `None` for admin and catalog changes.
    pub order_id: Option<&'a str>,
    pub action: StockAction,
    pub before: Levels,
    pub after: Levels,
}

/// Logs `change` and, when it makes the SKU run out or come back, appends that event to the
/// outbox, all on the caller's transaction.
pub(crate) async fn record(
    connection: &mut MySqlConnection,
    origin: &Origin,
    change: &Change<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO stock_change (sku, order_id, action, quantity, on_hand_after, reserved_after)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(change.sku.as_str())
    .bind(change.order_id)
    .bind(change.action.as_str())
    .bind(change.action.quantity(change.before, change.after))
    .bind(change.after.on_hand)
    .bind(change.after.reserved)
    .execute(&mut *connection)
    .await?;
    let sku = change.sku.clone();
    match availability_crossing(change.before, change.after) {
        Some(AvailabilityCrossing::Depleted) => {
            outbox::append(connection, origin, &StockDepletedV1 { sku }).await?;
        }
        Some(AvailabilityCrossing::Restored) => {
            outbox::append(connection, origin, &StockRestoredV1 { sku }).await?;
        }
        None => {}
    }
    Ok(())
}

/// The levels of `sku`, locked for the rest of the transaction; `None` when inventory has no
/// row for it.
pub(crate) async fn lock_levels(
    connection: &mut MySqlConnection,
    sku: &str,
) -> Result<Option<Levels>, sqlx::Error> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT on_hand, reserved FROM stock WHERE sku = ? FOR UPDATE")
            .bind(sku)
            .fetch_optional(connection)
            .await?;
    Ok(row.map(|(on_hand, reserved)| Levels { on_hand, reserved }))
}

/// One row of the change log as admins read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StockChangeView {
    pub id: i64,
    pub order_id: Option<String>,
    /// `INITIALIZE`, `SET`, `ADJUST`, `RESERVE`, `RELEASE`, `COMMIT`, `EXPIRE` or `REFUND`.
    #[schema(example = "ADJUST")]
    pub action: String,
    pub quantity: i64,
    pub on_hand_after: i64,
    pub reserved_after: i64,
    pub created_at: DateTime<Utc>,
}

/// A `stock_change` row as read, in the order of [`StockChangeView`]'s fields.
type ChangeRow = (i64, Option<String>, String, i64, i64, i64, DateTime<Utc>);

/// A page of a SKU's change log, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StockChangePage {
    pub sku: String,
    pub changes: Vec<StockChangeView>,
    pub page: u32,
    pub size: u32,
    pub total: i64,
}

/// Which changes to read: those at or after `from` and before `to`, when given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Period {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// A page of the changes of `sku` within `period`; `None` when inventory has no stock of it.
pub async fn list(
    pool: &MySqlPool,
    sku: &Sku,
    period: Period,
    page: Page,
) -> Result<Option<StockChangePage>, anyhow::Error> {
    let known: Option<i32> = sqlx::query_scalar("SELECT 1 FROM stock WHERE sku = ?")
        .bind(sku.as_str())
        .fetch_optional(pool)
        .await?;
    if known.is_none() {
        return Ok(None);
    }
    // Absent bounds are bound as NULL, so one statement serves every combination of filters.
    let rows: Vec<ChangeRow> = sqlx::query_as(
        "SELECT id, order_id, action, quantity, on_hand_after, reserved_after, created_at
         FROM stock_change
         WHERE sku = ? AND (? IS NULL OR created_at >= ?) AND (? IS NULL OR created_at < ?)
         ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
    )
    .bind(sku.as_str())
    .bind(period.from)
    .bind(period.from)
    .bind(period.to)
    .bind(period.to)
    .bind(page.size())
    .bind(page.offset())
    .fetch_all(pool)
    .await?;
    let changes = rows
        .into_iter()
        .map(
            |(id, order_id, action, quantity, on_hand_after, reserved_after, created_at)| StockChangeView {
                id,
                order_id,
                action,
                quantity,
                on_hand_after,
                reserved_after,
                created_at,
            },
        )
        .collect();
    let total: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM stock_change
         WHERE sku = ? AND (? IS NULL OR created_at >= ?) AND (? IS NULL OR created_at < ?)",
    )
    .bind(sku.as_str())
    .bind(period.from)
    .bind(period.from)
    .bind(period.to)
    .bind(period.to)
    .fetch_one(pool)
    .await?;
    Ok(Some(StockChangePage {
        sku: sku.as_str().to_owned(),
        changes,
        page: page.number(),
        size: page.size(),
        total,
    }))
}
