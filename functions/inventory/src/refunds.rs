//! Refunded units back on hand: `order.refunded` names the lines ordering refunded, and each
//! of their units returns to its SKU's stock exactly once.
//!
//! The refund's id is claimed in `refund_restock` on the same transaction as the stock
//! changes (and, run by the consumer runner, the event's inbox row), so neither a redelivery
//! nor the same fact republished under another event id puts units back twice. Stock rows are
//! locked in SKU order, like every other multi-SKU change, so a restock queues behind
//! concurrent reservations instead of deadlocking with them. Each SKU's change is logged as a
//! `REFUND` in `stock_change` and may announce that the SKU can be bought again
//! (`stock.restored`, [`crate::changes`]).

use events::ordering::OrderRefundedV1;
use sqlx::MySqlConnection;
use store::outbox::Origin;

use crate::changes::{self, Change};
use crate::domain::{InvalidInput, Levels, Quantity, ReservationRequest, StockAction};

/// What restocking did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restocked {
    /// The refunded units are back on hand.
    Restocked,
    /// This refund's units came back before: nothing to do.
    AlreadyRestocked,
}

#[derive(Debug, thiserror::Error)]
pub enum RestockError {
    /// The refund's lines cannot be units (no lines, a quantity out of range).
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// The refund id is not one ordering makes (empty, too long, not printable ASCII).
    #[error("refund id {0:?} is not a refund id")]
    RefundId(String),
    /// A refunded SKU has no stock here: a broken saga that needs a person, not a retry.
    #[error("refunded SKU {0} has no stock")]
    UnknownSku(String),
    #[error("the database failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The units a refund returns, per SKU, in SKU order.
pub fn units_of(refunded: &OrderRefundedV1) -> Result<ReservationRequest, InvalidInput> {
    let lines = refunded
        .lines
        .iter()
        .map(|line| Ok((line.sku.clone(), Quantity::new(i64::from(line.quantity))?)))
        .collect::<Result<Vec<_>, InvalidInput>>()?;
    ReservationRequest::new(lines)
}

/// Puts the units of `refunded` back on hand, once per refund.
#[tracing::instrument(skip_all, fields(order_id = %refunded.order_id, refund_id = %refunded.refund_id))]
pub async fn restock(
    transaction: &mut MySqlConnection,
    origin: &Origin,
    refunded: &OrderRefundedV1,
) -> Result<Restocked, RestockError> {
    let units = units_of(refunded)?;
    let refund_id = &refunded.refund_id;
    if refund_id.is_empty() || refund_id.len() > 36 || !refund_id.bytes().all(|byte| byte.is_ascii_graphic())
    {
        return Err(RestockError::RefundId(refund_id.clone()));
    }
    let claimed = sqlx::query("INSERT IGNORE INTO refund_restock (refund_id, order_id) VALUES (?, ?)")
        .bind(&refunded.refund_id)
        .bind(&refunded.order_id)
        .execute(&mut *transaction)
        .await?;
    if claimed.rows_affected() == 0 {
        tracing::info!("Refund restocked before; nothing to do");
        return Ok(Restocked::AlreadyRestocked);
    }
    for (sku, quantity) in units.lines() {
        let before = changes::lock_levels(transaction, sku.as_str())
            .await?
            .ok_or_else(|| RestockError::UnknownSku(sku.as_str().to_owned()))?;
        let units = i64::from(quantity.units());
        sqlx::query("UPDATE stock SET on_hand = on_hand + ?, updated_at = NOW(6) WHERE sku = ?")
            .bind(units)
            .bind(sku.as_str())
            .execute(&mut *transaction)
            .await?;
        let after = Levels {
            on_hand: before
                .on_hand
                .checked_add(units)
                .ok_or_else(|| anyhow::anyhow!("on hand of {sku} overflows"))?,
            reserved: before.reserved,
        };
        let change = Change {
            sku,
            order_id: Some(&refunded.order_id),
            action: StockAction::Refund,
            before,
            after,
        };
        changes::record(transaction, origin, &change).await?;
    }
    tracing::info!("Refunded units back on hand");
    Ok(Restocked::Restocked)
}
