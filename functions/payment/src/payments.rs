//! The payment use cases on MariaDB: record what authorization needs and authorize once both
//! facts are known, capture on confirmation, void on cancellation.
//!
//! Authorization is the step of the saga that waits on the gateway for every order, so it holds
//! no database connection while it does (docs/adr/0061). [`prepare_authorization`] decides from
//! a plain read and, when the gateway is to be asked, asks with no connection held;
//! [`record_authorization`] records the event's fact and the answer on the caller's transaction
//! (the consumer runner's, which also holds the event's inbox row), with the outbox event it
//! causes, if the payment still waits for it. Two deliveries for one order may both ask: the
//! gateway is idempotent by order id, and only the first answer recorded counts.
//!
//! Capture and void run on the caller's transaction, holding the order's payment row locked
//! while the gateway is called (they are rarer, and a duplicate must not race them).
//!
//! A transient gateway failure is an error: the caller rolls everything back, counts the
//! attempt with [`count_gateway_attempt`] in a transaction of its own, and retries — except
//! the failure that uses up [`GatewayPolicy::max_attempts`], which declines the payment
//! (`gateway-unavailable`) on the spot.

use std::time::Duration;

use events::payment::{
    PaymentAuthorizedV1, PaymentCapturedV1, PaymentDeclinedV1, PaymentVoidedV1, decline_reason,
};
use sqlx::{MySqlConnection, MySqlExecutor, MySqlPool};
use store::outbox::{self, Origin};

use crate::domain::{
    AuthorizationDecision, InvalidInput, Money, PaymentFacts, PaymentStatus, PaymentToken, amount_to_charge,
    decide_authorization,
};
use crate::gateway::{GatewayError, PaymentGateway};
use crate::transactions::{self, Ledger, TransactionKind};

/// How payment treats its gateway.
#[derive(Debug, Clone, Copy)]
pub struct GatewayPolicy {
    /// How long one gateway call may take before it counts as a timeout.
    pub call_timeout: Duration,
    /// Transient failures of one authorization before the payment is declined.
    pub max_attempts: u32,
}

impl Default for GatewayPolicy {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(3),
            max_attempts: 5,
        }
    }
}

/// A fact authorization waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// `order.placed`: what to charge and how.
    OrderPlaced { amount: Money, token: PaymentToken },
    /// `stock.reserved`: the order can be fulfilled.
    StockReserved,
}

/// What a payment step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    Authorized,
    /// Declined with one of [`decline_reason`].
    Declined(&'static str),
    Captured,
    Voided,
    /// Recorded; nothing else to do yet (or any more).
    NothingToDo,
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// `order.placed` carries an amount or a payment token payment cannot use.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// The gateway failed transiently; the attempt is counted and the event should be retried.
    #[error("the gateway failed, try again: {0}")]
    GatewayUnavailable(GatewayError),
    /// Both facts of an order arrived at once, and each delivery decided to wait for the other
    /// before asking the gateway: the one that finds both recorded asks on its next attempt.
    #[error(
        "both facts of order {order_id} are recorded but the gateway was not asked yet; asking on the next attempt"
    )]
    NotAskedYet { order_id: String },
    /// An order was confirmed without an authorized payment: the saga is broken somewhere
    /// and a person must look; retrying cannot help.
    #[error("order {order_id} cannot be captured: its payment is {status}")]
    NotCapturable { order_id: String, status: String },
    #[error("the database failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// What [`prepare_authorization`] learned from the gateway for [`record_authorization`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum GatewayAnswer {
    /// The gateway was not asked: the payment waits for its other fact, or was decided already.
    #[default]
    NotAsked,
    /// What the gateway answered to this order's authorization: its authorization id, or why not.
    Answered(Result<String, GatewayError>),
}

/// Decides whether the gateway is to be asked now, from the payment as last committed with
/// `fact` added, and if so asks it with no connection held. [`record_authorization`] then
/// records the fact and the answer in the caller's transaction.
///
/// This costs one plain read: no lock, no transaction, no commit. Should the other fact be
/// committed right after that read, [`record_authorization`] finds both and asks for a retry.
#[tracing::instrument(skip_all, fields(order_id))]
pub async fn prepare_authorization(
    pool: &MySqlPool,
    gateway: &impl PaymentGateway,
    policy: GatewayPolicy,
    order_id: &str,
    fact: &Fact,
) -> Result<GatewayAnswer, PaymentError> {
    tracing::Span::current().record("order_id", order_id);
    let Some(row) = read_payment(pool, order_id).await? else {
        return Ok(GatewayAnswer::NotAsked);
    };
    let mut facts = row.facts();
    match fact {
        Fact::OrderPlaced { amount, token } => facts.order = Some((*amount, token.clone())),
        Fact::StockReserved => facts.stock_reserved = true,
    }
    match decide_authorization(&facts, policy.max_attempts) {
        AuthorizationDecision::Authorize { amount, token } => Ok(GatewayAnswer::Answered(
            call(policy, gateway.authorize(order_id, amount, &token)).await,
        )),
        AuthorizationDecision::Wait | AuthorizationDecision::GiveUp => Ok(GatewayAnswer::NotAsked),
    }
}

async fn record_fact(
    connection: &mut MySqlConnection,
    order_id: &str,
    fact: &Fact,
) -> Result<(), sqlx::Error> {
    match fact {
        Fact::OrderPlaced { amount, token } => {
            sqlx::query(
                "INSERT INTO payment (order_id, payment_id, status, order_placed, amount_minor, currency, payment_token)
                 VALUES (?, ?, 'PENDING', TRUE, ?, ?, ?)
                 ON DUPLICATE KEY UPDATE order_placed = TRUE, amount_minor = VALUES(amount_minor),
                   currency = VALUES(currency), payment_token = VALUES(payment_token), updated_at = NOW(6)",
            )
            .bind(order_id)
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(amount.minor())
            .bind(amount.currency().as_str())
            .bind(token.as_str())
            .execute(connection)
            .await?;
        }
        Fact::StockReserved => {
            sqlx::query(
                "INSERT INTO payment (order_id, payment_id, status, stock_reserved) VALUES (?, ?, 'PENDING', TRUE)
                 ON DUPLICATE KEY UPDATE stock_reserved = TRUE, updated_at = NOW(6)",
            )
            .bind(order_id)
            .bind(uuid::Uuid::now_v7().to_string())
            .execute(connection)
            .await?;
        }
    }
    Ok(())
}

/// Records `fact` and the gateway's `answer` for `order_id` on `transaction`, with the event it
/// causes, when the payment still waits for it: authorized, or declined (at once for a final
/// refusal, after [`GatewayPolicy::max_attempts`] transient failures otherwise). When a
/// cancellation came first, an authorization the gateway made is voided at once.
///
/// A transient gateway failure is [`PaymentError::GatewayUnavailable`]; the caller must roll
/// back and then [`count_gateway_attempt`].
#[tracing::instrument(skip_all, fields(order_id))]
pub async fn record_authorization(
    transaction: &mut MySqlConnection,
    gateway: &impl PaymentGateway,
    policy: GatewayPolicy,
    origin: &Origin,
    order_id: &str,
    fact: &Fact,
    answer: &GatewayAnswer,
) -> Result<Done, PaymentError> {
    tracing::Span::current().record("order_id", order_id);
    record_fact(transaction, order_id, fact).await?;
    let row = lock_payment(transaction, order_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the payment row of {order_id} vanished"))?;
    let done = match row.status {
        PaymentStatus::Pending => {
            authorize_pending(transaction, policy, origin, order_id, &row, answer).await?
        }
        PaymentStatus::Cancelled => {
            void_late_authorization(transaction, gateway, policy, origin, order_id, &row, answer).await?
        }
        _ => Done::NothingToDo,
    };
    tracing::info!(?done, "Payment step done");
    Ok(done)
}

async fn authorize_pending(
    transaction: &mut MySqlConnection,
    policy: GatewayPolicy,
    origin: &Origin,
    order_id: &str,
    row: &PaymentRow,
    answer: &GatewayAnswer,
) -> Result<Done, PaymentError> {
    let amount = match decide_authorization(&row.facts(), policy.max_attempts) {
        AuthorizationDecision::Wait => return Ok(Done::NothingToDo),
        AuthorizationDecision::GiveUp => {
            let reason = decline_reason::GATEWAY_UNAVAILABLE;
            decline(transaction, origin, order_id, &row.payment_id, reason).await?;
            return Ok(Done::Declined(reason));
        }
        AuthorizationDecision::Authorize { amount, .. } => amount,
    };
    let answer = match answer {
        // Each of the two deliveries read the payment before the other's fact was committed,
        // so neither asked the gateway. (Had the other delivery asked, it would have read this
        // one's fact committed, and this one would have found the payment waiting.) This one
        // asks on its next attempt.
        GatewayAnswer::NotAsked => {
            return Err(PaymentError::NotAskedYet {
                order_id: order_id.to_owned(),
            });
        }
        GatewayAnswer::Answered(answer) => answer,
    };
    Ok(match answer {
        Ok(authorization_id) => {
            sqlx::query(
                "UPDATE payment SET status = 'AUTHORIZED', authorization_id = ?, updated_at = NOW(6)
                 WHERE order_id = ?",
            )
            .bind(authorization_id)
            .bind(order_id)
            .execute(&mut *transaction)
            .await?;
            let authorize = Ledger::new(TransactionKind::Authorize, order_id, &row.payment_id, amount);
            transactions::record(&mut *transaction, &authorize.reference(authorization_id)).await?;
            let authorized = PaymentAuthorizedV1 {
                order_id: order_id.to_owned(),
                payment_id: row.payment_id.clone(),
                amount_minor: amount.minor(),
                currency: amount.currency(),
                authorization_id: authorization_id.clone(),
            };
            outbox::append(transaction, origin, &authorized).await?;
            Done::Authorized
        }
        // The failure that uses up the attempts declines at once, on this delivery: waiting for
        // one more would make the decision depend on the trigger still having retries left.
        Err(error)
            if error.is_transient() && row.gateway_attempts.saturating_add(1) >= policy.max_attempts =>
        {
            tracing::warn!(%error, attempts = policy.max_attempts, "The gateway failed on the last attempt");
            count_gateway_attempt(&mut *transaction, order_id).await?;
            let reason = decline_reason::GATEWAY_UNAVAILABLE;
            decline(transaction, origin, order_id, &row.payment_id, reason).await?;
            Done::Declined(reason)
        }
        Err(error) if error.is_transient() => return Err(PaymentError::GatewayUnavailable(error.clone())),
        Err(error) => {
            let reason = if *error == GatewayError::InsufficientFunds {
                decline_reason::INSUFFICIENT_FUNDS
            } else {
                decline_reason::DECLINED
            };
            decline(transaction, origin, order_id, &row.payment_id, reason).await?;
            Done::Declined(reason)
        }
    })
}

/// The order was cancelled while this delivery asked the gateway: an authorization it made is
/// voided now, and recorded (authorized, then voided) so the ledger tells the truth.
async fn void_late_authorization(
    transaction: &mut MySqlConnection,
    gateway: &impl PaymentGateway,
    policy: GatewayPolicy,
    origin: &Origin,
    order_id: &str,
    row: &PaymentRow,
    answer: &GatewayAnswer,
) -> Result<Done, PaymentError> {
    let authorization_id = match answer {
        GatewayAnswer::Answered(Ok(authorization_id)) => authorization_id,
        GatewayAnswer::Answered(Err(error)) if error.is_transient() => {
            // Whether the gateway authorized is unknown, and a retry would not ask again (the
            // payment is cancelled): as with any authorization that timed out (docs/adr/0061).
            tracing::warn!(%error, "The order was cancelled while its authorization failed; nothing is known to void");
            return Ok(Done::NothingToDo);
        }
        GatewayAnswer::Answered(Err(_)) | GatewayAnswer::NotAsked => return Ok(Done::NothingToDo),
    };
    if let Err(error) = call(policy, gateway.void(order_id, authorization_id)).await {
        // A retry could not void it: its next attempt finds the payment cancelled and asks the
        // gateway nothing. The authorization stays on the row for a person to release.
        tracing::error!(%error, %authorization_id, "The order was cancelled while the gateway authorized it, and the void failed; release the authorization by hand");
        sqlx::query("UPDATE payment SET authorization_id = ?, updated_at = NOW(6) WHERE order_id = ?")
            .bind(authorization_id)
            .bind(order_id)
            .execute(&mut *transaction)
            .await?;
        return Ok(Done::NothingToDo);
    }
    sqlx::query("UPDATE payment SET authorization_id = ?, updated_at = NOW(6) WHERE order_id = ?")
        .bind(authorization_id)
        .bind(order_id)
        .execute(&mut *transaction)
        .await?;
    if let Some(amount) = row.amount {
        let authorize = Ledger::new(TransactionKind::Authorize, order_id, &row.payment_id, amount);
        transactions::record(&mut *transaction, &authorize.reference(authorization_id)).await?;
    }
    record_void(transaction, origin, order_id, row, authorization_id).await?;
    tracing::warn!("The order was cancelled while the gateway authorized it; the authorization is voided");
    Ok(Done::Voided)
}

/// Takes the authorized amount of a confirmed order, once.
#[tracing::instrument(skip_all, fields(order_id))]
pub async fn capture(
    transaction: &mut MySqlConnection,
    gateway: &impl PaymentGateway,
    policy: GatewayPolicy,
    origin: &Origin,
    order_id: &str,
) -> Result<Done, PaymentError> {
    tracing::Span::current().record("order_id", order_id);
    let row = match lock_payment(transaction, order_id).await? {
        Some(row)
            if matches!(
                row.status,
                PaymentStatus::Authorized
                    | PaymentStatus::Captured
                    | PaymentStatus::PartiallyCanceled
                    | PaymentStatus::FullyCanceled
            ) =>
        {
            row
        }
        other => {
            return Err(PaymentError::NotCapturable {
                order_id: order_id.to_owned(),
                status: other.map_or("missing", |row| row.status.as_str()).to_owned(),
            });
        }
    };
    // Captured before, and perhaps refunded since: a redelivered confirmation changes nothing.
    if row.status != PaymentStatus::Authorized {
        return Ok(Done::NothingToDo);
    }
    let (amount, authorization_id) = row
        .amount
        .zip(row.authorization_id)
        .ok_or_else(|| anyhow::anyhow!("authorized payment of {order_id} has no amount or authorization"))?;
    call(policy, gateway.capture(order_id, &authorization_id, amount))
        .await
        .map_err(PaymentError::GatewayUnavailable)?;
    set_status(transaction, order_id, PaymentStatus::Captured).await?;
    let capture = Ledger::new(TransactionKind::Capture, order_id, &row.payment_id, amount);
    transactions::record(&mut *transaction, &capture.reference(&authorization_id)).await?;
    let captured = PaymentCapturedV1 {
        order_id: order_id.to_owned(),
        payment_id: row.payment_id,
        amount_minor: amount.minor(),
        currency: amount.currency(),
    };
    outbox::append(transaction, origin, &captured).await?;
    tracing::info!("Payment captured");
    Ok(Done::Captured)
}

/// Releases a cancelled order's authorization, or makes sure none will be made.
#[tracing::instrument(skip_all, fields(order_id))]
pub async fn void(
    transaction: &mut MySqlConnection,
    gateway: &impl PaymentGateway,
    policy: GatewayPolicy,
    origin: &Origin,
    order_id: &str,
) -> Result<Done, PaymentError> {
    tracing::Span::current().record("order_id", order_id);
    // A cancellation that overtakes the order leaves a tombstone, so no late authorization.
    let inserted =
        sqlx::query("INSERT IGNORE INTO payment (order_id, payment_id, status) VALUES (?, ?, 'CANCELLED')")
            .bind(order_id)
            .bind(uuid::Uuid::now_v7().to_string())
            .execute(&mut *transaction)
            .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Done::NothingToDo);
    }
    let row = lock_payment(transaction, order_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the payment row of {order_id} vanished"))?;
    let done = match row.status {
        PaymentStatus::Pending => {
            set_status(transaction, order_id, PaymentStatus::Cancelled).await?;
            Done::NothingToDo
        }
        PaymentStatus::Authorized => {
            let authorization_id = row
                .authorization_id
                .clone()
                .ok_or_else(|| anyhow::anyhow!("authorized payment of {order_id} has no authorization"))?;
            call(policy, gateway.void(order_id, &authorization_id))
                .await
                .map_err(PaymentError::GatewayUnavailable)?;
            record_void(transaction, origin, order_id, &row, &authorization_id).await?;
            Done::Voided
        }
        PaymentStatus::Captured | PaymentStatus::PartiallyCanceled | PaymentStatus::FullyCanceled => {
            // Refunds are a separate flow; a cancellation never takes captured money back.
            tracing::warn!("A captured payment's order was cancelled; leaving it for a refund");
            Done::NothingToDo
        }
        PaymentStatus::Declined | PaymentStatus::Voided | PaymentStatus::Cancelled => Done::NothingToDo,
    };
    tracing::info!(?done, "Payment step done");
    Ok(done)
}

pub(crate) async fn call<T>(
    policy: GatewayPolicy,
    future: impl std::future::Future<Output = Result<T, GatewayError>>,
) -> Result<T, GatewayError> {
    tokio::time::timeout(policy.call_timeout, future)
        .await
        .unwrap_or(Err(GatewayError::Timeout))
}

/// Counts a transient gateway failure of `order_id`'s authorization towards
/// [`GatewayPolicy::max_attempts`]: on the pool after the attempt's transaction rolled back
/// (the failure must still count), or on the attempt's own transaction when that failure
/// declines the payment.
pub async fn count_gateway_attempt<'e>(
    executor: impl MySqlExecutor<'e>,
    order_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE payment SET gateway_attempts = gateway_attempts + 1 WHERE order_id = ?")
        .bind(order_id)
        .execute(executor)
        .await?;
    Ok(())
}

/// Records a void the gateway made: the payment `VOIDED`, the ledger's entry and
/// `payment.voided`.
async fn record_void(
    transaction: &mut MySqlConnection,
    origin: &Origin,
    order_id: &str,
    row: &PaymentRow,
    authorization_id: &str,
) -> Result<(), PaymentError> {
    set_status(transaction, order_id, PaymentStatus::Voided).await?;
    if let Some(amount) = row.amount {
        let void = Ledger::new(TransactionKind::Void, order_id, &row.payment_id, amount);
        transactions::record(&mut *transaction, &void.reference(authorization_id)).await?;
    }
    let voided = PaymentVoidedV1 {
        order_id: order_id.to_owned(),
        payment_id: row.payment_id.clone(),
    };
    outbox::append(transaction, origin, &voided).await?;
    Ok(())
}

async fn decline(
    connection: &mut MySqlConnection,
    origin: &Origin,
    order_id: &str,
    payment_id: &str,
    reason: &'static str,
) -> Result<(), PaymentError> {
    sqlx::query(
        "UPDATE payment SET status = 'DECLINED', decline_reason = ?, updated_at = NOW(6) WHERE order_id = ?",
    )
    .bind(reason)
    .bind(order_id)
    .execute(&mut *connection)
    .await?;
    let declined = PaymentDeclinedV1 {
        order_id: order_id.to_owned(),
        payment_id: payment_id.to_owned(),
        reason: reason.to_owned(),
    };
    outbox::append(connection, origin, &declined).await?;
    Ok(())
}

/// A payment row as stored.
struct PaymentRow {
    payment_id: String,
    status: PaymentStatus,
    amount: Option<Money>,
    token: Option<PaymentToken>,
    order_placed: bool,
    stock_reserved: bool,
    gateway_attempts: u32,
    authorization_id: Option<String>,
}

impl PaymentRow {
    fn facts(&self) -> PaymentFacts {
        PaymentFacts {
            status: self.status,
            order: if self.order_placed {
                self.amount.zip(self.token.clone())
            } else {
                None
            },
            stock_reserved: self.stock_reserved,
            gateway_attempts: self.gateway_attempts,
        }
    }
}

type RawPaymentRow = (
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    bool,
    bool,
    i32,
    Option<String>,
);

macro_rules! select_payment {
    ($($suffix:literal)?) => {
        concat!(
            "SELECT payment_id, status, amount_minor, currency, payment_token, order_placed, stock_reserved,
                    gateway_attempts, authorization_id
             FROM payment WHERE order_id = ?",
            $($suffix)?
        )
    };
}

/// The payment row of `order_id`, locked until `connection`'s transaction ends.
async fn lock_payment(
    connection: &mut MySqlConnection,
    order_id: &str,
) -> Result<Option<PaymentRow>, PaymentError> {
    payment_row(connection, select_payment!(" FOR UPDATE"), order_id).await
}

/// The payment row of `order_id` as last committed, without a lock.
async fn read_payment(pool: &MySqlPool, order_id: &str) -> Result<Option<PaymentRow>, PaymentError> {
    payment_row(pool, select_payment!(), order_id).await
}

async fn payment_row<'e>(
    executor: impl MySqlExecutor<'e>,
    query: &'static str,
    order_id: &str,
) -> Result<Option<PaymentRow>, PaymentError> {
    let raw: Option<RawPaymentRow> = sqlx::query_as(query)
        .bind(order_id)
        .fetch_optional(executor)
        .await?;
    let Some((
        payment_id,
        status,
        amount,
        currency,
        token,
        order_placed,
        stock_reserved,
        attempts,
        authorization_id,
    )) = raw
    else {
        return Ok(None);
    };
    let status =
        PaymentStatus::parse(&status).ok_or_else(|| anyhow::anyhow!("unknown payment status {status:?}"))?;
    let amount = match (amount, currency) {
        (Some(minor), Some(currency)) => {
            Some(amount_to_charge(minor, &currency).map_err(anyhow::Error::from)?)
        }
        _ => None,
    };
    let token = token
        .map(|token| PaymentToken::parse(&token))
        .transpose()
        .map_err(anyhow::Error::from)?;
    Ok(Some(PaymentRow {
        payment_id,
        status,
        amount,
        token,
        order_placed,
        stock_reserved,
        gateway_attempts: u32::try_from(attempts).unwrap_or(0),
        authorization_id,
    }))
}

async fn set_status(
    connection: &mut MySqlConnection,
    order_id: &str,
    status: PaymentStatus,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE payment SET status = ?, updated_at = NOW(6) WHERE order_id = ?")
        .bind(status.as_str())
        .bind(order_id)
        .execute(connection)
        .await?;
    Ok(())
}
