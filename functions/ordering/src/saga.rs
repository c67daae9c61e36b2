//! The event functions that move orders through the saga: `confirm-order` on
//! `payment.authorized`, `cancel-order` on `stock.reservation-failed`, `payment.declined` and
//! `stock.released` for a lapsed reservation (so an order whose stock is gone cannot be
//! confirmed later).

use cloudevents::{AttributesReader, Event};
use events::inventory::{
    STOCK_RELEASED_V1, STOCK_RESERVATION_FAILED_V1, StockReleasedV1, StockReservationFailedV1, release_reason,
};
use events::payment::{PAYMENT_AUTHORIZED_V1, PAYMENT_DECLINED_V1, PaymentAuthorizedV1, PaymentDeclinedV1};
use runtime::events::{Delivery, EventHandler, Outcome};
use sqlx::MySqlPool;
use store::outbox::EventContext;

use crate::order::OrderTrigger;
use crate::orders::{self, SagaStepError, Stepped};

/// `confirm-order`.
#[derive(Debug, Clone)]
pub struct ConfirmOrder {
    pool: MySqlPool,
}

impl ConfirmOrder {
    pub const CONSUMER: &'static str = "confirm-order";

    pub fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }
}

impl EventHandler for ConfirmOrder {
    async fn handle(&self, event: &Event, _delivery: &Delivery) -> Outcome {
        if event.ty() != PAYMENT_AUTHORIZED_V1 {
            return Outcome::Ack;
        }
        match events::envelope::data_json::<PaymentAuthorizedV1>(event) {
            Ok(authorized) => {
                step(
                    &self.pool,
                    Self::CONSUMER,
                    event,
                    &authorized.order_id,
                    OrderTrigger::PaymentAuthorized,
                )
                .await
            }
            Err(error) => Outcome::Reject(error.to_string()),
        }
    }
}

/// `cancel-order`.
#[derive(Debug, Clone)]
pub struct CancelOrder {
    pool: MySqlPool,
}

impl CancelOrder {
    pub const CONSUMER: &'static str = "cancel-order";

    pub fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }
}

impl EventHandler for CancelOrder {
    async fn handle(&self, event: &Event, _delivery: &Delivery) -> Outcome {
        let read = match event.ty() {
            STOCK_RESERVATION_FAILED_V1 => events::envelope::data_json::<StockReservationFailedV1>(event)
                .map(|failed| (failed.order_id, OrderTrigger::StockReservationFailed)),
            PAYMENT_DECLINED_V1 => events::envelope::data_json::<PaymentDeclinedV1>(event)
                .map(|declined| (declined.order_id, OrderTrigger::PaymentDeclined)),
            STOCK_RELEASED_V1 => match events::envelope::data_json::<StockReleasedV1>(event) {
                // A release the order caused itself (its cancellation) needs nothing more.
                Ok(released) if released.reason != release_reason::EXPIRED => return Outcome::Ack,
                read => read.map(|released| (released.order_id, OrderTrigger::ReservationExpired)),
            },
            _ => return Outcome::Ack,
        };
        match read {
            Ok((order_id, trigger)) => step(&self.pool, Self::CONSUMER, event, &order_id, trigger).await,
            Err(error) => Outcome::Reject(error.to_string()),
        }
    }
}

async fn step(
    pool: &MySqlPool,
    consumer: &str,
    event: &Event,
    order_id: &str,
    trigger: OrderTrigger,
) -> Outcome {
    let context = EventContext::caused_by(event);
    match orders::saga_step(pool, consumer, event.id(), order_id, trigger, &context).await {
        Ok(Stepped::Moved(status)) => {
            tracing::info!(status = status.as_str(), "Order moved");
            Outcome::Ack
        }
        Ok(Stepped::Unchanged | Stepped::Duplicate) => {
            tracing::info!("Order already there; nothing to do");
            Outcome::Ack
        }
        Err(error @ (SagaStepError::UnknownOrder(_) | SagaStepError::Refused(_))) => {
            Outcome::Reject(error.to_string())
        }
        Err(error @ (SagaStepError::Database(_) | SagaStepError::Unexpected(_))) => {
            Outcome::Retry(format!("{error:#}"))
        }
    }
}

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
    async fn run(&self) -> anyhow::Result<serde_json::Value> {
        let mut expired = 0;
        for _ in 0..Self::MAX_BATCHES {
            let batch = orders::expire_unpaid(&self.pool, chrono::Utc::now(), Self::BATCH).await?;
            expired += batch;
            if batch < Self::BATCH {
                break;
            }
        }
        Ok(serde_json::json!({ "expired": expired }))
    }
}
