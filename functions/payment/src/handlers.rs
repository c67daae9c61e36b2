//! The event functions of payment: `authorize-payment` (on `order.placed` and
//! `stock.reserved`), `capture-payment` (on `order.confirmed`) and `void-payment` (on
//! `order.cancelled`). Event types a function does not need are acknowledged untouched.

use std::sync::Arc;

use cloudevents::{AttributesReader, Event};
use events::inventory::{STOCK_RESERVED_V1, StockReservedV1};
use events::ordering::{
    ORDER_CANCELLED_V1, ORDER_CONFIRMED_V1, ORDER_PLACED_V1, OrderCancelledV1, OrderConfirmedV1,
    OrderPlacedV1,
};
use runtime::events::{Delivery, EventHandler, Outcome};
use sqlx::MySqlPool;
use store::outbox::EventContext;

use crate::domain::{Money, PaymentToken};
use crate::gateway::PaymentGateway;
use crate::payments::{self, Done, Fact, GatewayPolicy, PaymentError, Step};

/// What every payment function holds: the database, the gateway and how to treat it.
#[derive(Debug)]
pub struct Payments<G> {
    pool: MySqlPool,
    gateway: Arc<G>,
    policy: GatewayPolicy,
}

impl<G> Clone for Payments<G> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            gateway: Arc::clone(&self.gateway),
            policy: self.policy,
        }
    }
}

impl<G: PaymentGateway> Payments<G> {
    pub fn new(pool: MySqlPool, gateway: Arc<G>, policy: GatewayPolicy) -> Self {
        Self {
            pool,
            gateway,
            policy,
        }
    }
}

/// `authorize-payment`.
#[derive(Debug, Clone)]
pub struct AuthorizePayment<G>(pub Payments<G>);

impl<G> AuthorizePayment<G> {
    pub const CONSUMER: &'static str = "authorize-payment";
}

impl<G: PaymentGateway> EventHandler for AuthorizePayment<G> {
    async fn handle(&self, event: &Event, _delivery: &Delivery) -> Outcome {
        let (order_id, fact) = match event.ty() {
            ORDER_PLACED_V1 => match order_fact(event) {
                Ok(read) => read,
                Err(reason) => return Outcome::Reject(reason),
            },
            STOCK_RESERVED_V1 => match events::envelope::data_json::<StockReservedV1>(event) {
                Ok(reserved) => (reserved.order_id, Fact::StockReserved),
                Err(error) => return Outcome::Reject(error.to_string()),
            },
            _ => return Outcome::Ack,
        };
        let context = EventContext::caused_by(event);
        let step = Step {
            consumer: Self::CONSUMER,
            event_id: event.id(),
            context: &context,
        };
        let payments = &self.0;
        outcome_of(
            payments::record_and_authorize(
                &payments.pool,
                payments.gateway.as_ref(),
                payments.policy,
                step,
                &order_id,
                &fact,
            )
            .await,
        )
    }
}

fn order_fact(event: &Event) -> Result<(String, Fact), String> {
    let placed: OrderPlacedV1 = events::envelope::data_json(event).map_err(|error| error.to_string())?;
    let amount = Money::new(placed.total_minor, &placed.currency).map_err(|error| error.to_string())?;
    let token = PaymentToken::parse(&placed.payment_token).map_err(|error| error.to_string())?;
    Ok((placed.order_id, Fact::OrderPlaced { amount, token }))
}

/// `capture-payment`.
#[derive(Debug, Clone)]
pub struct CapturePayment<G>(pub Payments<G>);

impl<G> CapturePayment<G> {
    pub const CONSUMER: &'static str = "capture-payment";
}

impl<G: PaymentGateway> EventHandler for CapturePayment<G> {
    async fn handle(&self, event: &Event, _delivery: &Delivery) -> Outcome {
        if event.ty() != ORDER_CONFIRMED_V1 {
            return Outcome::Ack;
        }
        let confirmed: OrderConfirmedV1 = match events::envelope::data_json(event) {
            Ok(confirmed) => confirmed,
            Err(error) => return Outcome::Reject(error.to_string()),
        };
        let context = EventContext::caused_by(event);
        let step = Step {
            consumer: Self::CONSUMER,
            event_id: event.id(),
            context: &context,
        };
        let payments = &self.0;
        outcome_of(
            payments::capture(
                &payments.pool,
                payments.gateway.as_ref(),
                payments.policy,
                step,
                &confirmed.order_id,
            )
            .await,
        )
    }
}

/// `void-payment`.
#[derive(Debug, Clone)]
pub struct VoidPayment<G>(pub Payments<G>);

impl<G> VoidPayment<G> {
    pub const CONSUMER: &'static str = "void-payment";
}

impl<G: PaymentGateway> EventHandler for VoidPayment<G> {
    async fn handle(&self, event: &Event, _delivery: &Delivery) -> Outcome {
        if event.ty() != ORDER_CANCELLED_V1 {
            return Outcome::Ack;
        }
        let cancelled: OrderCancelledV1 = match events::envelope::data_json(event) {
            Ok(cancelled) => cancelled,
            Err(error) => return Outcome::Reject(error.to_string()),
        };
        let context = EventContext::caused_by(event);
        let step = Step {
            consumer: Self::CONSUMER,
            event_id: event.id(),
            context: &context,
        };
        let payments = &self.0;
        outcome_of(
            payments::void(
                &payments.pool,
                payments.gateway.as_ref(),
                payments.policy,
                step,
                &cancelled.order_id,
            )
            .await,
        )
    }
}

fn outcome_of(result: Result<Done, PaymentError>) -> Outcome {
    match result {
        Ok(done) => {
            tracing::info!(?done, "Payment step done");
            Outcome::Ack
        }
        Err(error @ PaymentError::NotCapturable { .. }) => Outcome::Reject(error.to_string()),
        Err(
            error @ (PaymentError::GatewayUnavailable(_)
            | PaymentError::Database(_)
            | PaymentError::Unexpected(_)),
        ) => Outcome::Retry(format!("{error:#}")),
    }
}
