//! The event functions that move orders through the saga, each a [`Consumer`] the shared
//! runner drives: `confirm-order` on `payment.authorized`, `cancel-order` on
//! `stock.reservation-failed`, `payment.declined` and `stock.released` for a lapsed
//! reservation (so an order whose stock is gone cannot be confirmed later); and the scheduled
//! `expire-orders`.

use events::inventory::{StockReleasedV1, StockReservationFailedV1, release_reason};
use events::payment::{PaymentAuthorizedV1, PaymentDeclinedV1};
use events::value::Money;
use sqlx::{MySqlConnection, MySqlPool};
use store::consumer::{Consumer, Received, Retryable};

use crate::order::OrderTrigger;
use crate::orders::{self, SagaStepError};

/// `confirm-order`: confirms an order whose payment is authorized for its total.
#[derive(Debug, Clone, Copy)]
pub struct ConfirmOrder;

impl Consumer for ConfirmOrder {
    const NAME: &'static str = "confirm-order";
    // A saga step with only local writes: what waits under load commits once (ADR 0064).
    const APPLIES_BATCHES: bool = true;
    type Event = PaymentAuthorizedV1;
    type Error = SagaStepError;
    type Prepared = ();

    async fn apply(
        &self,
        transaction: &mut MySqlConnection,
        authorized: &Received<Self::Event>,
    ) -> Result<(), Self::Error> {
        let PaymentAuthorizedV1 {
            order_id,
            amount_minor,
            currency,
            ..
        } = &authorized.data;
        let paid = Money::new(*amount_minor, *currency)
            .map_err(|error| SagaStepError::UnsoundFact(format!("the authorized amount: {error}")))?;
        orders::confirm_paid(transaction, &authorized.origin, order_id, paid).await?;
        Ok(())
    }
}

events::one_of! {
    /// What ends a placed order without a sale.
    pub enum CancelCause {
        ReservationFailed(StockReservationFailedV1),
        PaymentDeclined(PaymentDeclinedV1),
        StockReleased(StockReleasedV1),
    }
}

/// `cancel-order`: cancels an order whose stock or payment failed, or whose reservation lapsed.
#[derive(Debug, Clone, Copy)]
pub struct CancelOrder;

impl Consumer for CancelOrder {
    const NAME: &'static str = "cancel-order";
    type Event = CancelCause;
    type Error = SagaStepError;
    type Prepared = ();

    /// A release the order caused itself (its cancellation) needs nothing more.
    fn wants(&self, cause: &Self::Event) -> bool {
        !matches!(cause, CancelCause::StockReleased(released) if released.reason != release_reason::EXPIRED)
    }

    async fn apply(
        &self,
        transaction: &mut MySqlConnection,
        cause: &Received<Self::Event>,
    ) -> Result<(), Self::Error> {
        let (order_id, trigger) = match &cause.data {
            CancelCause::ReservationFailed(failed) => {
                (&failed.order_id, OrderTrigger::StockReservationFailed)
            }
            CancelCause::PaymentDeclined(declined) => (&declined.order_id, OrderTrigger::PaymentDeclined),
            CancelCause::StockReleased(released) => (&released.order_id, OrderTrigger::ReservationExpired),
        };
        orders::saga_step(transaction, &cause.origin, order_id, trigger).await?;
        Ok(())
    }
}

impl Retryable for SagaStepError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::UnknownOrder(_) | Self::Refused(_) | Self::AmountMismatch { .. } | Self::UnsoundFact(_) => {
                false
            }
            Self::Database(_) | Self::Unexpected(_) => true,
        }
    }
}

/// Counter of orders cancelled because their payment did not arrive in time.
pub const ORDERS_EXPIRED_TOTAL: &str = "ordering_orders_expired_total";
/// Gauge of orders still PLACED past their payment deadline after the last sweep.
pub const ORDERS_OVERDUE: &str = "ordering_orders_overdue";
/// Gauge of when the last sweep finished, in seconds since the epoch.
pub const LAST_SWEEP_TIMESTAMP_SECONDS: &str = "ordering_expire_orders_last_sweep_timestamp_seconds";

/// `expire-orders`: a scheduled sweep that cancels orders whose payment did not arrive in time.
#[derive(Debug, Clone)]
pub struct ExpireOrders {
    pool: MySqlPool,
}

impl ExpireOrders {
    /// Orders cancelled per transaction; a sweep runs batches until one comes back short.
    pub const BATCH: u32 = 100;
    /// Batches per run, so one run stays well inside a function's time limit.
    pub const MAX_BATCHES: u32 = 50;

    pub fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }
}

impl runtime::schedule::ScheduledJob for ExpireOrders {
    async fn readiness(&self) -> Result<(), String> {
        store::mariadb::ping(&self.pool).await
    }

    async fn run(&self) -> anyhow::Result<serde_json::Value> {
        let mut expired = 0;
        for _ in 0..Self::MAX_BATCHES {
            let batch = orders::expire_unpaid(&self.pool, chrono::Utc::now(), Self::BATCH).await?;
            expired += batch;
            metrics::counter!(ORDERS_EXPIRED_TOTAL).increment(u64::from(batch));
            if batch < Self::BATCH {
                break;
            }
        }
        // What the sweep left behind: none, unless it hit its batch limit or an order was
        // locked by another transaction. Alerts watch both gauges (OrdersStuckInPlaced,
        // OrderExpirySweepNotRunning).
        let now = chrono::Utc::now();
        let overdue = orders::count_overdue(&self.pool, now).await?;
        metrics::gauge!(ORDERS_OVERDUE).set(overdue as f64);
        metrics::gauge!(LAST_SWEEP_TIMESTAMP_SECONDS).set(now.timestamp() as f64);
        Ok(serde_json::json!({ "expired": expired, "overdue": overdue }))
    }
}
