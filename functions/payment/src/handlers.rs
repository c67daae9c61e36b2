//! The event functions of payment, each a [`Consumer`] the shared runner drives:
//! `authorize-payment` (on `order.placed` and `stock.reserved`), `capture-payment` (on
//! `order.confirmed`), `void-payment` (on `order.cancelled`) and `refund-payment` (on
//! `order.refund-requested`). Event types a function does not read are acknowledged untouched.

use std::sync::Arc;

use events::inventory::StockReservedV1;
use events::ordering::{OrderCancelledV1, OrderConfirmedV1, OrderPlacedV1, OrderRefundRequestedV1};
use sqlx::{MySqlConnection, MySqlPool};
use store::consumer::{Consumer, Received, Retryable};

use crate::domain::{PaymentToken, amount_to_charge};
use crate::gateway::PaymentGateway;
use crate::payments::{self, Fact, GatewayAnswer, GatewayPolicy, PaymentError};
use crate::refunds::{self, RefundError, RefundRequest};

/// What every payment function holds: the gateway and how to treat it.
#[derive(Debug)]
pub struct Payments<G> {
    gateway: Arc<G>,
    policy: GatewayPolicy,
}

impl<G> Clone for Payments<G> {
    fn clone(&self) -> Self {
        Self {
            gateway: Arc::clone(&self.gateway),
            policy: self.policy,
        }
    }
}

impl<G: PaymentGateway> Payments<G> {
    pub fn new(gateway: Arc<G>, policy: GatewayPolicy) -> Self {
        Self { gateway, policy }
    }
}

events::one_of! {
    /// The two facts authorization waits for.
    pub enum AuthorizationFact {
        OrderPlaced(OrderPlacedV1),
        StockReserved(StockReservedV1),
    }
}

impl AuthorizationFact {
    pub fn order_id(&self) -> &str {
        match self {
            Self::OrderPlaced(placed) => &placed.order_id,
            Self::StockReserved(reserved) => &reserved.order_id,
        }
    }
}

/// `authorize-payment`.
#[derive(Debug, Clone)]
pub struct AuthorizePayment<G>(pub Payments<G>);

impl<G: PaymentGateway> Consumer for AuthorizePayment<G> {
    const NAME: &'static str = "authorize-payment";
    type Event = AuthorizationFact;
    type Error = PaymentError;
    /// The gateway is asked here, with no connection held (docs/adr/0061).
    type Prepared = GatewayAnswer;

    async fn prepare(
        &self,
        pool: &MySqlPool,
        event: &Received<Self::Event>,
    ) -> Result<GatewayAnswer, Self::Error> {
        let Payments { gateway, policy } = &self.0;
        payments::prepare_authorization(
            pool,
            gateway.as_ref(),
            *policy,
            event.data.order_id(),
            &fact_of(&event.data)?,
        )
        .await
    }

    async fn apply(
        &self,
        transaction: &mut MySqlConnection,
        event: &Received<Self::Event, GatewayAnswer>,
    ) -> Result<(), Self::Error> {
        let Payments { gateway, policy } = &self.0;
        payments::record_authorization(
            transaction,
            gateway.as_ref(),
            *policy,
            &event.origin,
            event.data.order_id(),
            &fact_of(&event.data)?,
            &event.prepared,
        )
        .await?;
        Ok(())
    }

    async fn after_rollback(
        &self,
        pool: &MySqlPool,
        event: &Received<Self::Event, GatewayAnswer>,
        error: &Self::Error,
    ) -> Result<(), Self::Error> {
        if matches!(error, PaymentError::GatewayUnavailable(_)) {
            payments::count_gateway_attempt(pool, event.data.order_id()).await?;
        }
        Ok(())
    }
}

fn fact_of(event: &AuthorizationFact) -> Result<Fact, PaymentError> {
    Ok(match event {
        AuthorizationFact::OrderPlaced(placed) => Fact::OrderPlaced {
            amount: amount_to_charge(placed.total_minor, placed.currency.as_str())?,
            token: PaymentToken::parse(&placed.payment_token)?,
        },
        AuthorizationFact::StockReserved(_) => Fact::StockReserved,
    })
}

/// `capture-payment`.
#[derive(Debug, Clone)]
pub struct CapturePayment<G>(pub Payments<G>);

impl<G: PaymentGateway> Consumer for CapturePayment<G> {
    const NAME: &'static str = "capture-payment";
    type Event = OrderConfirmedV1;
    type Error = PaymentError;
    type Prepared = ();

    async fn apply(
        &self,
        transaction: &mut MySqlConnection,
        confirmed: &Received<Self::Event>,
    ) -> Result<(), Self::Error> {
        let Payments { gateway, policy } = &self.0;
        payments::capture(
            transaction,
            gateway.as_ref(),
            *policy,
            &confirmed.origin,
            &confirmed.data.order_id,
        )
        .await?;
        Ok(())
    }
}

/// `void-payment`.
#[derive(Debug, Clone)]
pub struct VoidPayment<G>(pub Payments<G>);

impl<G: PaymentGateway> Consumer for VoidPayment<G> {
    const NAME: &'static str = "void-payment";
    type Event = OrderCancelledV1;
    type Error = PaymentError;
    type Prepared = ();

    async fn apply(
        &self,
        transaction: &mut MySqlConnection,
        cancelled: &Received<Self::Event>,
    ) -> Result<(), Self::Error> {
        let Payments { gateway, policy } = &self.0;
        payments::void(
            transaction,
            gateway.as_ref(),
            *policy,
            &cancelled.origin,
            &cancelled.data.order_id,
        )
        .await?;
        Ok(())
    }
}

/// `refund-payment`.
#[derive(Debug, Clone)]
pub struct RefundPayment<G>(pub Payments<G>);

impl<G: PaymentGateway> Consumer for RefundPayment<G> {
    const NAME: &'static str = "refund-payment";
    type Event = OrderRefundRequestedV1;
    type Error = RefundError;
    type Prepared = ();

    async fn apply(
        &self,
        transaction: &mut MySqlConnection,
        requested: &Received<Self::Event>,
    ) -> Result<(), Self::Error> {
        let Payments { gateway, policy } = &self.0;
        let request = RefundRequest::of(&requested.data)?;
        refunds::refund(
            transaction,
            gateway.as_ref(),
            *policy,
            &requested.origin,
            &request,
        )
        .await?;
        Ok(())
    }

    async fn after_rollback(
        &self,
        pool: &MySqlPool,
        requested: &Received<Self::Event>,
        error: &Self::Error,
    ) -> Result<(), Self::Error> {
        if matches!(error, RefundError::GatewayUnavailable(_)) {
            let request = RefundRequest::of(&requested.data)?;
            refunds::count_refund_attempt(pool, &request).await?;
        }
        Ok(())
    }
}

impl Retryable for RefundError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Invalid(_) | Self::OtherOrder { .. } => false,
            Self::GatewayUnavailable(_) | Self::Database(_) | Self::Unexpected(_) => true,
        }
    }
}

impl Retryable for PaymentError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Invalid(_) | Self::NotCapturable { .. } => false,
            Self::GatewayUnavailable(_)
            | Self::NotAskedYet { .. }
            | Self::Database(_)
            | Self::Unexpected(_) => true,
        }
    }
}
