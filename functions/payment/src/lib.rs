//! The payment context: one payment per order, authorized through a payment-gateway port.
//!
//! Payment takes part in the order saga without ever being called: it authorizes once the
//! order is known and its stock reserved, captures when the order is confirmed and voids when
//! it is cancelled. Every step is idempotent by order id, at our end (the payment row) and at
//! the gateway's (the order id is the idempotency key).
//!
//! - [`domain`]: the rules without I/O — money, payment states, when to authorize.
//! - [`gateway`]: the gateway port and the deterministic simulated gateway.
//! - [`payments`]: the use cases on MariaDB, each on its caller's transaction with its outbox
//!   event.
//! - [`refunds`]: refunds as partial cancellations of a capture, idempotent by refund id, never
//!   more than was captured (docs/adr/0046, 0047).
//! - [`transactions`]: the ledger of gateway transactions (authorize, capture, void, partial
//!   and full cancellations).
//! - [`handlers`]: the event functions `authorize-payment`, `capture-payment`, `void-payment`
//!   and `refund-payment` (consumers for `store::consumer::Runner`).

pub mod domain;
pub mod gateway;
pub mod handlers;
pub mod payments;
pub mod refunds;
pub mod transactions;

use std::sync::Arc;
use std::time::Duration;

/// What every payment binary builds from its environment: the simulated gateway
/// (`SIMULATED_GATEWAY_LATENCY_MS`, default 20) and the gateway policy
/// (`PAYMENT_GATEWAY_TIMEOUT_MS`, default 3000; `PAYMENT_GATEWAY_MAX_ATTEMPTS`, default 5).
pub fn from_env() -> anyhow::Result<handlers::Payments<gateway::SimulatedGateway>> {
    let latency = Duration::from_millis(runtime::config::parsed_or("SIMULATED_GATEWAY_LATENCY_MS", 20)?);
    let policy = payments::GatewayPolicy {
        call_timeout: Duration::from_millis(runtime::config::parsed_or("PAYMENT_GATEWAY_TIMEOUT_MS", 3_000)?),
        max_attempts: runtime::config::parsed_or("PAYMENT_GATEWAY_MAX_ATTEMPTS", 5)?,
    };
    Ok(handlers::Payments::new(
        Arc::new(gateway::SimulatedGateway::new(latency)),
        policy,
    ))
}
