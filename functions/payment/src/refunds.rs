//! Refunds: a partial cancellation of a captured payment, asked for by ordering's
//! `order.refund-requested` and idempotent by its refund id.
//!
//! The use case runs on its caller's transaction (the consumer runner's) and locks the order's
//! payment row first, so refunds of one order (and every redelivery of one refund) reach the
//! gateway one at a time, each seeing what the others refunded. Under that lock it decides
//! with [`decide_refund`] (refunded total ≤ captured amount; the CHECK constraint on
//! `payment.refunded_minor` holds the same rule in the database), calls the gateway with the
//! refund id as idempotency key, and records the outcome: `payment_refund` (decided once),
//! a `payment_transaction` row (PARTIAL_CANCEL or CANCEL), the payment's new refunded total
//! and status (PARTIALLY_CANCELED or FULLY_CANCELED), and `payment.refunded`; or
//! `payment.refund-failed` with the reason. A transient gateway failure rolls back; the
//! caller counts it with [`count_refund_attempt`], and the failure that uses up
//! [`GatewayPolicy::max_attempts`] fails the refund (`gateway-unavailable`).

use events::ordering::OrderRefundRequestedV1;
use events::payment::{PaymentRefundFailedV1, PaymentRefundedV1, refund_failure_reason};
use sqlx::{MySqlConnection, MySqlExecutor};
use store::outbox::{self, Origin};

use crate::domain::{
    InvalidInput, Money, PaymentStatus, PaymentToken, RefundDecision, RefundFacts, amount_to_charge,
    decide_refund, refund_id,
};
use crate::gateway::{GatewayError, PaymentGateway};
use crate::payments::{GatewayPolicy, call};
use crate::transactions::{self, Ledger, TransactionKind};

/// A refund as ordering asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub order_id: String,
    pub refund_id: String,
    pub amount: Money,
}

impl RefundRequest {
    pub fn of(requested: &OrderRefundRequestedV1) -> Result<Self, InvalidInput> {
        Ok(Self {
            order_id: requested.order_id.clone(),
            refund_id: refund_id(&requested.refund_id)?.to_owned(),
            amount: amount_to_charge(requested.amount_minor, requested.currency.as_str())?,
        })
    }
}

/// What a refund step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refunded {
    /// The gateway gave the money back; `payment.refunded` is in the outbox.
    Refunded { fully: bool },
    /// Refused with one of [`refund_failure_reason`]; `payment.refund-failed` is in the outbox.
    Failed(&'static str),
    /// The refund was decided before: nothing to do.
    AlreadyDecided,
}

#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    /// The request carries an amount payment cannot use.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// The refund id is known for another order: a person must look.
    #[error("refund {refund_id} belongs to order {known}, not {order_id}")]
    OtherOrder {
        refund_id: String,
        order_id: String,
        known: String,
    },
    /// The gateway failed transiently; the attempt is counted and the event retried.
    #[error("the gateway failed, try again: {0}")]
    GatewayUnavailable(GatewayError),
    #[error("the database failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The order's payment as a refund needs it.
struct RefundablePayment {
    payment_id: String,
    status: PaymentStatus,
    captured: Option<Money>,
    refunded_minor: i64,
    token: Option<PaymentToken>,
    authorization_id: Option<String>,
}

/// Refunds `request` of the order's captured payment, once.
#[tracing::instrument(skip_all, fields(order_id = %request.order_id, refund_id = %request.refund_id))]
pub async fn refund(
    transaction: &mut MySqlConnection,
    gateway: &impl PaymentGateway,
    policy: GatewayPolicy,
    origin: &Origin,
    request: &RefundRequest,
) -> Result<Refunded, RefundError> {
    let payment = lock_payment(transaction, &request.order_id).await?;
    sqlx::query(
        "INSERT IGNORE INTO payment_refund (refund_id, order_id, status, amount_minor, currency)
         VALUES (?, ?, 'PENDING', ?, ?)",
    )
    .bind(&request.refund_id)
    .bind(&request.order_id)
    .bind(request.amount.minor())
    .bind(request.amount.currency().as_str())
    .execute(&mut *transaction)
    .await?;
    let (known_order, status, attempts): (String, String, i32) = sqlx::query_as(
        "SELECT order_id, status, gateway_attempts FROM payment_refund WHERE refund_id = ? FOR UPDATE",
    )
    .bind(&request.refund_id)
    .fetch_one(&mut *transaction)
    .await?;
    if known_order != request.order_id {
        return Err(RefundError::OtherOrder {
            refund_id: request.refund_id.clone(),
            order_id: request.order_id.clone(),
            known: known_order,
        });
    }
    if status != "PENDING" {
        tracing::info!(status, "Refund decided before; nothing to do");
        return Ok(Refunded::AlreadyDecided);
    }
    let attempts = u32::try_from(attempts).unwrap_or(0);
    let Some(payment) = payment else {
        return fail(transaction, origin, request, refund_failure_reason::NOT_CAPTURED).await;
    };
    let facts = RefundFacts {
        status: payment.status,
        captured: payment.captured,
        refunded_minor: payment.refunded_minor,
        gateway_attempts: attempts,
    };
    let (fully, refunded_after) = match decide_refund(&facts, request.amount, policy.max_attempts) {
        RefundDecision::Fail(reason) => return fail(transaction, origin, request, reason).await,
        RefundDecision::Refund {
            fully,
            refunded_after,
        } => (fully, refunded_after),
    };
    let (Some(token), Some(authorization_id)) = (&payment.token, &payment.authorization_id) else {
        return Err(anyhow::anyhow!(
            "captured payment of {} has no token or authorization",
            request.order_id
        )
        .into());
    };

    let answer = call(
        policy,
        gateway.refund(&request.refund_id, authorization_id, request.amount, token),
    )
    .await;
    match answer {
        Ok(reference) => {
            let status = if fully {
                PaymentStatus::FullyCanceled
            } else {
                PaymentStatus::PartiallyCanceled
            };
            let updated = sqlx::query(
                "UPDATE payment SET refunded_minor = ?, status = ?, updated_at = NOW(6)
                 WHERE order_id = ? AND refunded_minor = ?",
            )
            .bind(refunded_after)
            .bind(status.as_str())
            .bind(&request.order_id)
            .bind(payment.refunded_minor)
            .execute(&mut *transaction)
            .await?;
            if updated.rows_affected() != 1 {
                return Err(
                    anyhow::anyhow!("the refunded total of {} moved under a lock", request.order_id).into(),
                );
            }
            let kind = if fully {
                TransactionKind::Cancel
            } else {
                TransactionKind::PartialCancel
            };
            let entry = Ledger::new(kind, &request.order_id, &payment.payment_id, request.amount)
                .reference(&reference)
                .of_refund(&request.refund_id);
            transactions::record(&mut *transaction, &entry).await?;
            decide(transaction, &request.refund_id, "SUCCEEDED", None).await?;
            let refunded = PaymentRefundedV1 {
                order_id: request.order_id.clone(),
                payment_id: payment.payment_id.clone(),
                refund_id: request.refund_id.clone(),
                amount_minor: request.amount.minor(),
                currency: request.amount.currency(),
                refunded_total_minor: refunded_after,
                reference,
            };
            outbox::append(transaction, origin, &refunded).await?;
            tracing::info!(refunded_total_minor = refunded_after, fully, "Refund made");
            Ok(Refunded::Refunded { fully })
        }
        // The failure that uses up the attempts fails the refund at once, on this delivery.
        Err(error) if error.is_transient() && attempts.saturating_add(1) >= policy.max_attempts => {
            tracing::warn!(%error, attempts = policy.max_attempts, "The gateway failed the refund's last attempt");
            count_refund_attempt(&mut *transaction, request).await?;
            fail(
                transaction,
                origin,
                request,
                refund_failure_reason::GATEWAY_UNAVAILABLE,
            )
            .await
        }
        Err(error) if error.is_transient() => Err(RefundError::GatewayUnavailable(error)),
        Err(error) => {
            tracing::warn!(%error, "The gateway refused the refund");
            fail(
                transaction,
                origin,
                request,
                refund_failure_reason::REFUND_DECLINED,
            )
            .await
        }
    }
}

/// Counts a transient gateway failure of a refund towards [`GatewayPolicy::max_attempts`]: on
/// the pool after the attempt's transaction rolled back (the refund's row may have rolled back
/// with it), or on the attempt's own transaction when the failure fails the refund.
pub async fn count_refund_attempt<'e>(
    executor: impl MySqlExecutor<'e>,
    request: &RefundRequest,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO payment_refund (refund_id, order_id, status, amount_minor, currency, gateway_attempts)
         VALUES (?, ?, 'PENDING', ?, ?, 1)
         ON DUPLICATE KEY UPDATE gateway_attempts = gateway_attempts + 1, updated_at = NOW(6)",
    )
    .bind(&request.refund_id)
    .bind(&request.order_id)
    .bind(request.amount.minor())
    .bind(request.amount.currency().as_str())
    .execute(executor)
    .await?;
    Ok(())
}

async fn fail(
    transaction: &mut MySqlConnection,
    origin: &Origin,
    request: &RefundRequest,
    reason: &'static str,
) -> Result<Refunded, RefundError> {
    decide(transaction, &request.refund_id, "FAILED", Some(reason)).await?;
    let failed = PaymentRefundFailedV1 {
        order_id: request.order_id.clone(),
        refund_id: request.refund_id.clone(),
        reason: reason.to_owned(),
    };
    outbox::append(transaction, origin, &failed).await?;
    tracing::warn!(reason, "Refund failed");
    Ok(Refunded::Failed(reason))
}

async fn decide(
    connection: &mut MySqlConnection,
    refund_id: &str,
    status: &str,
    reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payment_refund SET status = ?, failure_reason = ?, updated_at = NOW(6) WHERE refund_id = ?",
    )
    .bind(status)
    .bind(reason)
    .bind(refund_id)
    .execute(connection)
    .await?;
    Ok(())
}

type PaymentRow = (
    String,
    String,
    Option<i64>,
    Option<String>,
    i64,
    Option<String>,
    Option<String>,
);

async fn lock_payment(
    connection: &mut MySqlConnection,
    order_id: &str,
) -> Result<Option<RefundablePayment>, RefundError> {
    let row: Option<PaymentRow> = sqlx::query_as(
        "SELECT payment_id, status, amount_minor, currency, refunded_minor, payment_token, authorization_id
         FROM payment WHERE order_id = ? FOR UPDATE",
    )
    .bind(order_id)
    .fetch_optional(connection)
    .await?;
    let Some((payment_id, status, amount, currency, refunded_minor, token, authorization_id)) = row else {
        return Ok(None);
    };
    let status =
        PaymentStatus::parse(&status).ok_or_else(|| anyhow::anyhow!("unknown payment status {status:?}"))?;
    let captured = match (amount, currency) {
        (Some(minor), Some(currency)) => {
            Some(amount_to_charge(minor, &currency).map_err(anyhow::Error::from)?)
        }
        _ => None,
    };
    let token = token
        .map(|token| PaymentToken::parse(&token))
        .transpose()
        .map_err(anyhow::Error::from)?;
    Ok(Some(RefundablePayment {
        payment_id,
        status,
        captured,
        refunded_minor,
        token,
        authorization_id,
    }))
}
