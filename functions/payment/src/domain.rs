//! Payment's rules, without I/O: money, the states of a payment, and when to authorize.

/// Money as the contract defines it: integer minor units of an ISO 4217 currency.
pub use events::value::Money;

/// A value that breaks one of payment's rules; retrying cannot fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidInput {
    #[error("amount {0} must be positive minor units")]
    Amount(i64),
    #[error("currency {0:?} is not an ISO 4217 code")]
    Currency(String),
    #[error("payment token {0:?} must be 1 to 64 printable ASCII characters")]
    Token(String),
    #[error("refund id {0:?} must be 1 to 36 printable ASCII characters")]
    RefundId(String),
}

/// Checks a refund id (ordering's UUIDv7) before it is stored or handed to the gateway.
pub fn refund_id(value: &str) -> Result<&str, InvalidInput> {
    if !value.is_empty() && value.len() <= 36 && value.bytes().all(|byte| byte.is_ascii_graphic()) {
        Ok(value)
    } else {
        Err(InvalidInput::RefundId(value.to_owned()))
    }
}

/// An amount to charge: payment's rule on top of the contract's money is that it is positive.
pub fn amount_to_charge(minor: i64, currency: &str) -> Result<Money, InvalidInput> {
    if minor <= 0 {
        return Err(InvalidInput::Amount(minor));
    }
    Money::parse(minor, currency).map_err(|_| InvalidInput::Currency(currency.to_owned()))
}

/// The customer's opaque payment method token, handed to the gateway as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentToken(String);

impl PaymentToken {
    pub fn parse(value: &str) -> Result<Self, InvalidInput> {
        if !value.is_empty() && value.len() <= 64 && value.bytes().all(|byte| byte.is_ascii_graphic()) {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidInput::Token(value.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a payment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Waiting for the order and its reserved stock.
    Pending,
    Authorized,
    Declined,
    Captured,
    Voided,
    /// The order was cancelled before anything was authorized.
    Cancelled,
    /// Captured, and part of the capture was given back (refunds of some lines).
    PartiallyCanceled,
    /// Captured, and all of it was given back.
    FullyCanceled,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Authorized => "AUTHORIZED",
            Self::Declined => "DECLINED",
            Self::Captured => "CAPTURED",
            Self::Voided => "VOIDED",
            Self::Cancelled => "CANCELLED",
            Self::PartiallyCanceled => "PARTIALLY_CANCELED",
            Self::FullyCanceled => "FULLY_CANCELED",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "PENDING" => Self::Pending,
            "AUTHORIZED" => Self::Authorized,
            "DECLINED" => Self::Declined,
            "CAPTURED" => Self::Captured,
            "VOIDED" => Self::Voided,
            "CANCELLED" => Self::Cancelled,
            "PARTIALLY_CANCELED" => Self::PartiallyCanceled,
            "FULLY_CANCELED" => Self::FullyCanceled,
            _ => return None,
        })
    }
}

/// What payment knows about an order so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentFacts {
    pub status: PaymentStatus,
    /// Amount and token, once `order.placed` was seen.
    pub order: Option<(Money, PaymentToken)>,
    pub stock_reserved: bool,
    /// How many authorizations failed transiently so far.
    pub gateway_attempts: u32,
}

/// What to do about an order's authorization now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizationDecision {
    /// Not both facts yet, or already decided, or cancelled: do nothing.
    Wait,
    /// Ask the gateway.
    Authorize { amount: Money, token: PaymentToken },
    /// The gateway failed transiently too often: give up and decline.
    GiveUp,
}

/// Authorization happens once, when the order is known, its stock is reserved and nothing was
/// decided yet. After `max_attempts` transient gateway failures the payment is declined, so
/// the order is cancelled instead of waiting forever.
pub fn decide_authorization(facts: &PaymentFacts, max_attempts: u32) -> AuthorizationDecision {
    match (&facts.status, &facts.order, facts.stock_reserved) {
        (PaymentStatus::Pending, Some(_), true) if facts.gateway_attempts >= max_attempts => {
            AuthorizationDecision::GiveUp
        }
        (PaymentStatus::Pending, Some((amount, token)), true) => AuthorizationDecision::Authorize {
            amount: *amount,
            token: token.clone(),
        },
        _ => AuthorizationDecision::Wait,
    }
}

/// What payment knows when a refund is asked for: the payment's status, what was captured and
/// refunded so far, and how often the gateway failed this refund transiently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundFacts {
    pub status: PaymentStatus,
    /// The captured amount (the authorized one, taken whole).
    pub captured: Option<Money>,
    /// Refunded of the capture so far, in the capture's currency.
    pub refunded_minor: i64,
    pub gateway_attempts: u32,
}

/// What to do about a refund now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundDecision {
    /// Ask the gateway; `fully` when nothing captured is left afterwards (a CANCEL rather than
    /// a PARTIAL_CANCEL), `refunded_after` the refunded total then.
    Refund { fully: bool, refunded_after: i64 },
    /// Refuse without asking the gateway, with one of the wire's refund failure reasons.
    Fail(&'static str),
}

/// A refund takes part of a captured payment back, never more than is left of the capture: the
/// refunded total stays at most the captured amount, in its currency. After `max_attempts`
/// transient gateway failures the refund fails (`gateway-unavailable`), so the lines become
/// refundable again instead of waiting forever.
pub fn decide_refund(facts: &RefundFacts, amount: Money, max_attempts: u32) -> RefundDecision {
    use events::payment::refund_failure_reason as reason;
    let captured = match (facts.status, facts.captured) {
        (
            PaymentStatus::Captured | PaymentStatus::PartiallyCanceled | PaymentStatus::FullyCanceled,
            Some(captured),
        ) => captured,
        _ => return RefundDecision::Fail(reason::NOT_CAPTURED),
    };
    if captured.currency() != amount.currency() || amount.minor() <= 0 {
        return RefundDecision::Fail(reason::EXCEEDS_CAPTURED);
    }
    let Some(refunded_after) = facts.refunded_minor.checked_add(amount.minor()) else {
        return RefundDecision::Fail(reason::EXCEEDS_CAPTURED);
    };
    if refunded_after > captured.minor() {
        return RefundDecision::Fail(reason::EXCEEDS_CAPTURED);
    }
    if facts.gateway_attempts >= max_attempts {
        return RefundDecision::Fail(reason::GATEWAY_UNAVAILABLE);
    }
    RefundDecision::Refund {
        fully: refunded_after == captured.minor(),
        refunded_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(status: PaymentStatus, order: bool, stock_reserved: bool, attempts: u32) -> PaymentFacts {
        PaymentFacts {
            status,
            order: order.then(|| {
                (
                    amount_to_charge(2_580, "EUR").expect("money"),
                    PaymentToken::parse("tok_approve").expect("token"),
                )
            }),
            stock_reserved,
            gateway_attempts: attempts,
        }
    }

    #[test]
    fn money_is_positive_minor_units_of_an_iso_currency() {
        assert!(amount_to_charge(1, "EUR").is_ok());
        assert_eq!(amount_to_charge(0, "EUR"), Err(InvalidInput::Amount(0)));
        assert_eq!(amount_to_charge(-5, "EUR"), Err(InvalidInput::Amount(-5)));
        assert!(amount_to_charge(1, "eur").is_err());
        assert!(amount_to_charge(1, "EURO").is_err());
    }

    #[test]
    fn given_the_order_and_its_reserved_stock_when_deciding_then_the_payment_is_authorized() {
        assert!(matches!(
            decide_authorization(&facts(PaymentStatus::Pending, true, true, 0), 5),
            AuthorizationDecision::Authorize { amount, .. } if amount.minor() == 2_580
        ));
    }

    #[test]
    fn given_only_one_of_the_two_facts_when_deciding_then_payment_waits_for_the_other() {
        for facts in [
            facts(PaymentStatus::Pending, true, false, 0),
            facts(PaymentStatus::Pending, false, true, 0),
        ] {
            assert_eq!(decide_authorization(&facts, 5), AuthorizationDecision::Wait);
        }
    }

    #[test]
    fn given_a_decided_or_cancelled_payment_when_deciding_then_nothing_is_authorized_again() {
        for status in [
            PaymentStatus::Authorized,
            PaymentStatus::Declined,
            PaymentStatus::Captured,
            PaymentStatus::Voided,
            PaymentStatus::Cancelled,
        ] {
            assert_eq!(
                decide_authorization(&facts(status, true, true, 0), 5),
                AuthorizationDecision::Wait
            );
        }
    }

    #[test]
    fn given_too_many_transient_gateway_failures_when_deciding_then_payment_gives_up() {
        assert_eq!(
            decide_authorization(&facts(PaymentStatus::Pending, true, true, 5), 5),
            AuthorizationDecision::GiveUp
        );
    }

    fn refund_facts(status: PaymentStatus, refunded_minor: i64, attempts: u32) -> RefundFacts {
        RefundFacts {
            status,
            captured: Some(amount_to_charge(2_580, "EUR").expect("money")),
            refunded_minor,
            gateway_attempts: attempts,
        }
    }

    fn eur(minor: i64) -> Money {
        amount_to_charge(minor, "EUR").expect("money")
    }

    #[test]
    fn given_a_captured_payment_when_part_is_refunded_then_the_gateway_is_asked_and_the_rest_stays() {
        assert_eq!(
            decide_refund(&refund_facts(PaymentStatus::Captured, 0, 0), eur(990), 5),
            RefundDecision::Refund {
                fully: false,
                refunded_after: 990
            }
        );
        assert_eq!(
            decide_refund(
                &refund_facts(PaymentStatus::PartiallyCanceled, 990, 0),
                eur(1_590),
                5
            ),
            RefundDecision::Refund {
                fully: true,
                refunded_after: 2_580
            }
        );
    }

    #[test]
    fn the_refunded_total_never_exceeds_the_captured_amount() {
        use events::payment::refund_failure_reason::EXCEEDS_CAPTURED;
        assert_eq!(
            decide_refund(
                &refund_facts(PaymentStatus::PartiallyCanceled, 2_000, 0),
                eur(581),
                5
            ),
            RefundDecision::Fail(EXCEEDS_CAPTURED)
        );
        assert_eq!(
            decide_refund(&refund_facts(PaymentStatus::FullyCanceled, 2_580, 0), eur(1), 5),
            RefundDecision::Fail(EXCEEDS_CAPTURED)
        );
        let dollars = Money::parse(100, "USD").expect("money");
        assert_eq!(
            decide_refund(&refund_facts(PaymentStatus::Captured, 0, 0), dollars, 5),
            RefundDecision::Fail(EXCEEDS_CAPTURED)
        );
    }

    #[test]
    fn only_captured_payments_are_refunded_and_a_gateway_that_keeps_failing_fails_the_refund() {
        use events::payment::refund_failure_reason::{GATEWAY_UNAVAILABLE, NOT_CAPTURED};
        for status in [
            PaymentStatus::Pending,
            PaymentStatus::Authorized,
            PaymentStatus::Voided,
        ] {
            assert_eq!(
                decide_refund(&refund_facts(status, 0, 0), eur(1), 5),
                RefundDecision::Fail(NOT_CAPTURED)
            );
        }
        assert_eq!(
            decide_refund(&refund_facts(PaymentStatus::Captured, 0, 5), eur(1), 5),
            RefundDecision::Fail(GATEWAY_UNAVAILABLE)
        );
    }
}
