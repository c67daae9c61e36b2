//! The event function `settle-refund`: payment's answer to a refund (`payment.refunded` or
//! `payment.refund-failed`) settles the refund's lines and, when money came back, the order.

use events::payment::{PaymentRefundFailedV1, PaymentRefundedV1};
use events::value::Money;
use sqlx::MySqlConnection;
use store::consumer::{Consumer, Received, Retryable};

use crate::refunds::{self, RefundOutcome, SettleRefundError};

events::one_of! {
    /// Payment's answer to a refund.
    pub enum RefundAnswer {
        Refunded(PaymentRefundedV1),
        Failed(PaymentRefundFailedV1),
    }
}

/// `settle-refund`.
#[derive(Debug, Clone, Copy)]
pub struct SettleRefund;

impl Consumer for SettleRefund {
    const NAME: &'static str = "settle-refund";
    type Event = RefundAnswer;
    type Error = SettleRefundError;
    type Prepared = ();

    async fn apply(
        &self,
        transaction: &mut MySqlConnection,
        answer: &Received<Self::Event>,
    ) -> Result<(), Self::Error> {
        let (order_id, refund_id, outcome) = match &answer.data {
            RefundAnswer::Refunded(refunded) => {
                let amount = Money::new(refunded.amount_minor, refunded.currency).map_err(|error| {
                    SettleRefundError::UnsoundFact(format!("the refunded amount: {error}"))
                })?;
                (
                    &refunded.order_id,
                    &refunded.refund_id,
                    RefundOutcome::Refunded { amount },
                )
            }
            RefundAnswer::Failed(failed) => (
                &failed.order_id,
                &failed.refund_id,
                RefundOutcome::Failed {
                    reason: failed.reason.clone(),
                },
            ),
        };
        refunds::settle_refund(transaction, &answer.origin, order_id, refund_id, &outcome).await?;
        Ok(())
    }
}

impl Retryable for SettleRefundError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::UnknownRefund { .. }
            | Self::AmountMismatch { .. }
            | Self::UnsoundFact(_)
            | Self::Refused(_) => false,
            Self::Database(_) | Self::Unexpected(_) => true,
        }
    }
}
