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
}
