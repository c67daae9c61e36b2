//! The ledger of a payment: one `payment_transaction` row per money movement the gateway
//! confirmed (authorize, capture, void, and the partial or full cancellations refunds make),
//! written on the transaction that records the movement.

use sqlx::MySqlExecutor;

use crate::domain::Money;

/// What kind of movement a ledger row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionKind {
    Authorize,
    Capture,
    Void,
    /// A refund of part of the capture.
    PartialCancel,
    /// A refund of what was left of the capture.
    Cancel,
}

impl TransactionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authorize => "AUTHORIZE",
            Self::Capture => "CAPTURE",
            Self::Void => "VOID",
            Self::PartialCancel => "PARTIAL_CANCEL",
            Self::Cancel => "CANCEL",
        }
    }
}

/// One ledger row to write.
#[derive(Debug, Clone)]
pub struct Ledger<'a> {
    pub kind: TransactionKind,
    pub order_id: &'a str,
    pub payment_id: &'a str,
    pub amount: Money,
    pub reference: Option<&'a str>,
    pub refund_id: Option<&'a str>,
}

impl<'a> Ledger<'a> {
    pub fn new(kind: TransactionKind, order_id: &'a str, payment_id: &'a str, amount: Money) -> Self {
        Self {
            kind,
            order_id,
            payment_id,
            amount,
            reference: None,
            refund_id: None,
        }
    }

    /// The gateway's reference of the movement.
    pub fn reference(self, reference: &'a str) -> Self {
        Self {
            reference: Some(reference),
            ..self
        }
    }

    /// The refund the movement belongs to.
    pub fn of_refund(self, refund_id: &'a str) -> Self {
        Self {
            refund_id: Some(refund_id),
            ..self
        }
    }
}

/// Writes `entry`. A refund's row is unique by refund id, so a refund is in the ledger once.
pub async fn record<'e>(executor: impl MySqlExecutor<'e>, entry: &Ledger<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO payment_transaction (order_id, payment_id, kind, amount_minor, currency, reference, refund_id)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(entry.order_id)
    .bind(entry.payment_id)
    .bind(entry.kind.as_str())
    .bind(entry.amount.minor())
    .bind(entry.amount.currency().as_str())
    .bind(entry.reference)
    .bind(entry.refund_id)
    .execute(executor)
    .await?;
    Ok(())
}
