//! The payment-gateway port and the simulated gateway used locally and in tests.
//!
//! Every call carries the order id as its idempotency key: a real gateway answers a repeated
//! call with the first call's result, which is what makes redelivered events safe after a
//! crash between the gateway's answer and our commit.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use crate::domain::{Money, PaymentToken};

/// How a gateway call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The card issuer refused; final.
    #[error("the payment was declined")]
    Declined,
    /// Not enough funds; final.
    #[error("the account has insufficient funds")]
    InsufficientFunds,
    /// No answer in time; the outcome is unknown, so the call must be repeated (with the same
    /// idempotency key).
    #[error("the gateway did not answer in time")]
    Timeout,
    /// The gateway failed; worth trying again.
    #[error("the gateway is unavailable: {0}")]
    Unavailable(String),
}

impl GatewayError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Timeout | Self::Unavailable(_))
    }
}

/// The port through which payment talks to a payment service provider.
///
/// Implementations must be idempotent by `order_id`: a repeated call returns the first call's
/// outcome and never charges twice.
pub trait PaymentGateway: Send + Sync + 'static {
    /// Holds `amount` on the payment method; returns the gateway's authorization id.
    fn authorize(
        &self,
        order_id: &str,
        amount: Money,
        token: &PaymentToken,
    ) -> impl Future<Output = Result<String, GatewayError>> + Send;

    /// Takes the authorized amount.
    fn capture(
        &self,
        order_id: &str,
        authorization_id: &str,
        amount: Money,
    ) -> impl Future<Output = Result<(), GatewayError>> + Send;

    /// Releases the authorization without taking money.
    fn void(
        &self,
        order_id: &str,
        authorization_id: &str,
    ) -> impl Future<Output = Result<(), GatewayError>> + Send;

    /// Gives `amount` of a captured payment back (a partial cancellation of the capture);
    /// returns the gateway's reference of the cancellation. Idempotent by `refund_id`: a
    /// repeated call returns the first call's outcome and never refunds twice. `token` is the
    /// payment method the capture charged. A refusal is [`GatewayError::Declined`].
    fn refund(
        &self,
        refund_id: &str,
        authorization_id: &str,
        amount: Money,
        token: &PaymentToken,
    ) -> impl Future<Output = Result<String, GatewayError>> + Send;
}

/// Tokens the simulated gateway understands; any other token is approved.
pub mod tokens {
    pub const APPROVE: &str = "tok_approve";
    pub const DECLINE: &str = "tok_decline";
    pub const INSUFFICIENT_FUNDS: &str = "tok_insufficient_funds";
    /// Never answers: the caller's timeout decides.
    pub const TIMEOUT: &str = "tok_timeout";
    /// Fails [`super::SimulatedGateway::FLAKY_FAILURES`] times per order, then approves.
    pub const FLAKY: &str = "tok_flaky";
    /// Authorizes and captures, but every refund of it is refused.
    pub const REFUND_DECLINE: &str = "tok_refund_decline";
    /// Authorizes and captures, but a refund of it never answers: the caller's timeout decides.
    pub const REFUND_TIMEOUT: &str = "tok_refund_timeout";
}

/// Where the simulated gateway reads its fault knobs (latency, failure rate) for each call.
pub type FaultSource = fn() -> faults::PaymentFaults;

fn knobs_of_this_process() -> faults::PaymentFaults {
    faults::current().payment.clone()
}

/// A gateway that behaves deterministically by token, after a configurable latency, plus
/// whatever the fault knobs add at the time of the call (`local-stack/faults`).
#[derive(Debug)]
pub struct SimulatedGateway {
    latency: Duration,
    flaky_calls: Mutex<HashMap<String, u32>>,
    faults: FaultSource,
}

impl Default for SimulatedGateway {
    fn default() -> Self {
        Self::new(Duration::ZERO)
    }
}

impl SimulatedGateway {
    /// Transient failures of [`tokens::FLAKY`] before it approves.
    pub const FLAKY_FAILURES: u32 = 2;

    pub fn new(latency: Duration) -> Self {
        Self::with_faults(latency, knobs_of_this_process)
    }

    /// A gateway whose fault knobs come from `faults` instead of the process's knobs.
    pub fn with_faults(latency: Duration, faults: FaultSource) -> Self {
        Self {
            latency,
            flaky_calls: Mutex::new(HashMap::new()),
            faults,
        }
    }

    /// The configured latency, then the knobs: their extra latency, and a failure as an
    /// outage for their share of calls (retried like a real one).
    async fn respond_after_delay(&self) -> Result<(), GatewayError> {
        let knobs = (self.faults)();
        tokio::time::sleep(self.latency + Duration::from_millis(knobs.latency_ms)).await;
        if faults::happens(knobs.failure_rate) {
            return Err(GatewayError::Unavailable(
                "a fault knob failed this call".to_owned(),
            ));
        }
        Ok(())
    }
}

impl PaymentGateway for SimulatedGateway {
    async fn authorize(
        &self,
        order_id: &str,
        _amount: Money,
        token: &PaymentToken,
    ) -> Result<String, GatewayError> {
        self.respond_after_delay().await?;
        match token.as_str() {
            tokens::DECLINE => Err(GatewayError::Declined),
            tokens::INSUFFICIENT_FUNDS => Err(GatewayError::InsufficientFunds),
            tokens::TIMEOUT => std::future::pending().await,
            tokens::FLAKY => {
                let calls = {
                    let mut flaky = self
                        .flaky_calls
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let calls = flaky.entry(order_id.to_owned()).or_insert(0);
                    *calls += 1;
                    *calls
                };
                if calls <= Self::FLAKY_FAILURES {
                    Err(GatewayError::Unavailable(format!("simulated failure {calls}")))
                } else {
                    Ok(format!("sim-auth-{order_id}"))
                }
            }
            _ => Ok(format!("sim-auth-{order_id}")),
        }
    }

    async fn capture(
        &self,
        _order_id: &str,
        _authorization_id: &str,
        _amount: Money,
    ) -> Result<(), GatewayError> {
        self.respond_after_delay().await?;
        Ok(())
    }

    async fn void(&self, _order_id: &str, _authorization_id: &str) -> Result<(), GatewayError> {
        self.respond_after_delay().await?;
        Ok(())
    }

    async fn refund(
        &self,
        refund_id: &str,
        _authorization_id: &str,
        _amount: Money,
        token: &PaymentToken,
    ) -> Result<String, GatewayError> {
        self.respond_after_delay().await?;
        match token.as_str() {
            tokens::REFUND_DECLINE => Err(GatewayError::Declined),
            tokens::REFUND_TIMEOUT => std::future::pending().await,
            _ => Ok(format!("sim-refund-{refund_id}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(value: &str) -> PaymentToken {
        PaymentToken::parse(value).expect("token")
    }

    fn amount() -> Money {
        crate::domain::amount_to_charge(100, "EUR").expect("money")
    }

    #[tokio::test]
    async fn the_fault_knobs_add_latency_and_fail_their_share_of_calls_as_outages() {
        let failing = SimulatedGateway::with_faults(Duration::ZERO, || faults::PaymentFaults {
            latency_ms: 0,
            failure_rate: 1.0,
        });
        let outcome = failing.authorize("o-1", amount(), &token(tokens::APPROVE)).await;
        assert!(
            matches!(&outcome, Err(error @ GatewayError::Unavailable(_)) if error.is_transient()),
            "{outcome:?}"
        );
        assert!(failing.capture("o-1", "a-1", amount()).await.is_err());

        let slow = SimulatedGateway::with_faults(Duration::ZERO, || faults::PaymentFaults {
            latency_ms: 120,
            failure_rate: 0.0,
        });
        let started = std::time::Instant::now();
        assert!(slow.void("o-1", "a-1").await.is_ok());
        assert!(
            started.elapsed() >= Duration::from_millis(120),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn the_simulated_gateway_answers_by_token() {
        let gateway = SimulatedGateway::default();
        assert_eq!(
            gateway.authorize("o-1", amount(), &token(tokens::APPROVE)).await,
            Ok("sim-auth-o-1".to_owned())
        );
        assert_eq!(
            gateway.authorize("o-1", amount(), &token(tokens::DECLINE)).await,
            Err(GatewayError::Declined)
        );
        assert_eq!(
            gateway
                .authorize("o-1", amount(), &token(tokens::INSUFFICIENT_FUNDS))
                .await,
            Err(GatewayError::InsufficientFunds)
        );
        let never = tokio::time::timeout(
            Duration::from_millis(20),
            gateway.authorize("o-1", amount(), &token(tokens::TIMEOUT)),
        )
        .await;
        assert!(never.is_err(), "the timeout token never answers");
    }

    #[tokio::test]
    async fn refund_tokens_authorize_like_any_other_but_their_refunds_fail_or_never_answer() {
        let gateway = SimulatedGateway::default();
        for refund_token in [tokens::REFUND_DECLINE, tokens::REFUND_TIMEOUT] {
            assert!(
                gateway
                    .authorize("o-1", amount(), &token(refund_token))
                    .await
                    .is_ok()
            );
        }
        assert_eq!(
            gateway
                .refund("r-1", "a-1", amount(), &token(tokens::APPROVE))
                .await,
            Ok("sim-refund-r-1".to_owned())
        );
        assert_eq!(
            gateway
                .refund("r-1", "a-1", amount(), &token(tokens::REFUND_DECLINE))
                .await,
            Err(GatewayError::Declined)
        );
        let never = tokio::time::timeout(
            Duration::from_millis(20),
            gateway.refund("r-1", "a-1", amount(), &token(tokens::REFUND_TIMEOUT)),
        )
        .await;
        assert!(never.is_err(), "the refund timeout token never answers a refund");
    }

    #[tokio::test]
    async fn the_flaky_token_fails_twice_per_order_then_approves() {
        let gateway = SimulatedGateway::default();
        for _ in 0..SimulatedGateway::FLAKY_FAILURES {
            let failed = gateway.authorize("o-1", amount(), &token(tokens::FLAKY)).await;
            assert!(failed.is_err_and(|error| error.is_transient()));
        }
        assert!(
            gateway
                .authorize("o-1", amount(), &token(tokens::FLAKY))
                .await
                .is_ok()
        );
        assert!(
            gateway
                .authorize("o-2", amount(), &token(tokens::FLAKY))
                .await
                .is_err(),
            "counted per order"
        );
    }
}
