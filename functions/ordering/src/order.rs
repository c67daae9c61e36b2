//! Ordering's rules, without I/O: the values an order is made of, how it is priced from the
//! catalog projection, and the state machine every status change goes through.

use std::collections::BTreeMap;

use events::value::{Money, MoneyError};
use sha2::Digest;

/// A value of a place-order request that breaks a rule; the client must change it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidInput {
    #[error("product id {0:?} must be 1 to 64 letters, digits, '-', '_' or '.'")]
    ProductId(String),
    #[error("quantity {0} must be between 1 and {max}", max = Quantity::MAX)]
    Quantity(i64),
    #[error("an order has between 1 and {max} lines", max = OrderLines::MAX)]
    LineCount(usize),
    #[error("product {0} appears on more than one line")]
    RepeatedProduct(String),
    #[error("the Idempotency-Key header must be 1 to 128 printable ASCII characters")]
    IdempotencyKey,
    #[error("the payment token must be 1 to 64 printable ASCII characters")]
    PaymentToken,
}

/// A product a customer orders: its SKU, under the contract's rule.
pub type ProductId = events::value::Sku;

/// Reads a product id from a request, naming the value when it breaks the rule.
pub fn product_id(value: &str) -> Result<ProductId, InvalidInput> {
    ProductId::parse(value).map_err(|_| InvalidInput::ProductId(value.to_owned()))
}

/// Units of one product on an order line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(u32);

impl Quantity {
    pub const MAX: u32 = 1_000;

    pub fn new(units: i64) -> Result<Self, InvalidInput> {
        match u32::try_from(units) {
            Ok(units) if (1..=Self::MAX).contains(&units) => Ok(Self(units)),
            _ => Err(InvalidInput::Quantity(units)),
        }
    }

    pub fn units(self) -> u32 {
        self.0
    }
}

/// The lines of a new order: 1 to [`OrderLines::MAX`], each product once, in the client's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLines(Vec<(ProductId, Quantity)>);

impl OrderLines {
    pub const MAX: usize = 50;

    pub fn new(lines: Vec<(ProductId, Quantity)>) -> Result<Self, InvalidInput> {
        if lines.is_empty() || lines.len() > Self::MAX {
            return Err(InvalidInput::LineCount(lines.len()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (product, _) in &lines {
            if !seen.insert(product) {
                return Err(InvalidInput::RepeatedProduct(product.as_str().to_owned()));
            }
        }
        Ok(Self(lines))
    }

    pub fn iter(&self) -> impl Iterator<Item = &(ProductId, Quantity)> {
        self.0.iter()
    }
}

fn printable(value: &str, max: usize) -> bool {
    !value.is_empty() && value.len() <= max && value.bytes().all(|byte| byte.is_ascii_graphic())
}

/// The client's `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(value: &str) -> Result<Self, InvalidInput> {
        if printable(value, 128) {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidInput::IdempotencyKey)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The opaque payment method token the customer chose; ordering only passes it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentToken(String);

impl PaymentToken {
    pub fn parse(value: &str) -> Result<Self, InvalidInput> {
        if printable(value, 64) {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidInput::PaymentToken)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A validated place-order command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOrder {
    pub user_id: uuid::Uuid,
    pub idempotency_key: IdempotencyKey,
    pub lines: OrderLines,
    pub payment_token: PaymentToken,
}

impl PlaceOrder {
    /// The SHA-256 of what the customer asked for, to tell a replay of the same request from
    /// a different request under the same key.
    pub fn fingerprint(&self) -> String {
        let mut hasher = sha2::Sha256::new();
        for (product, quantity) in self.lines.iter() {
            hasher.update(product.as_str().as_bytes());
            hasher.update(b"\x1f");
            hasher.update(quantity.units().to_be_bytes());
            hasher.update(b"\x1e");
        }
        hasher.update(b"\x1d");
        hasher.update(self.payment_token.as_str().as_bytes());
        hex::encode(hasher.finalize())
    }
}

/// What ordering's catalog projection says about a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogPrice {
    pub name: Option<String>,
    pub unit_price: Money,
    /// The price before promotions, when catalog announced it.
    pub list_price: Option<Money>,
    pub orderable: bool,
}

/// A line priced from the projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    pub product_id: ProductId,
    pub product_name: Option<String>,
    pub quantity: Quantity,
    pub unit_price: Money,
    /// The price before promotions, when known: what the line's discount is measured from.
    pub list_price: Option<Money>,
}

/// An order with its prices, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedOrder {
    pub lines: Vec<PricedLine>,
    pub total: Money,
}

/// Why an order cannot be priced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("product {0} is not in the catalog")]
    UnknownProduct(String),
    #[error("product {0} can no longer be ordered")]
    NotOrderable(String),
    #[error("the products are priced in different currencies")]
    MixedCurrencies,
    #[error("the order total must be positive and fit the amount range")]
    TotalOutOfRange,
}

impl From<MoneyError> for PricingError {
    fn from(error: MoneyError) -> Self {
        match error {
            MoneyError::MixedCurrencies(..) => Self::MixedCurrencies,
            MoneyError::Negative(_) | MoneyError::Currency(_) | MoneyError::Overflow => Self::TotalOutOfRange,
        }
    }
}

/// Prices every line from the catalog projection: the client never sends prices. The total
/// is the sum of the lines in the one currency they share, and must be positive.
pub fn price_order(
    lines: &OrderLines,
    catalog: &BTreeMap<ProductId, CatalogPrice>,
) -> Result<PricedOrder, PricingError> {
    let mut priced = Vec::new();
    let mut total: Option<Money> = None;
    for (product_id, quantity) in lines.iter() {
        let price = catalog
            .get(product_id)
            .ok_or_else(|| PricingError::UnknownProduct(product_id.as_str().to_owned()))?;
        if !price.orderable {
            return Err(PricingError::NotOrderable(product_id.as_str().to_owned()));
        }
        if total.is_some_and(|total| total.currency() != price.unit_price.currency()) {
            return Err(PricingError::MixedCurrencies);
        }
        let line_total = price.unit_price.checked_mul(quantity.units())?;
        total = Some(match total {
            Some(total) => total.checked_add(line_total)?,
            None => line_total,
        });
        priced.push(PricedLine {
            product_id: product_id.clone(),
            product_name: price.name.clone(),
            quantity: *quantity,
            unit_price: price.unit_price,
            list_price: price.list_price,
        });
    }
    // `OrderLines` is never empty, so a missing total cannot happen; it would be refused too.
    let total = total
        .filter(|total| !total.is_zero())
        .ok_or(PricingError::TotalOutOfRange)?;
    Ok(PricedOrder { lines: priced, total })
}

/// Where an order is. `Placed` waits for stock and payment; `Cancelled` is final; a
/// `Confirmed` order may have lines refunded (`PartiallyRefunded`) until all are (`Refunded`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Placed,
    Confirmed,
    Cancelled,
    PartiallyRefunded,
    Refunded,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Placed => "PLACED",
            Self::Confirmed => "CONFIRMED",
            Self::Cancelled => "CANCELLED",
            Self::PartiallyRefunded => "PARTIALLY_REFUNDED",
            Self::Refunded => "REFUNDED",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "PLACED" => Self::Placed,
            "CONFIRMED" => Self::Confirmed,
            "CANCELLED" => Self::Cancelled,
            "PARTIALLY_REFUNDED" => Self::PartiallyRefunded,
            "REFUNDED" => Self::Refunded,
            _ => return None,
        })
    }
}

/// What happened to an order, from the saga, the customer or the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderTrigger {
    PaymentAuthorized,
    StockReservationFailed,
    PaymentDeclined,
    CustomerCancelled,
    PaymentExpired,
    /// Inventory gave the order's stock back because the reservation lapsed.
    ReservationExpired,
    /// Payment refunded some lines; others are left.
    LinesRefunded,
    /// Payment refunded the last lines that were not refunded.
    LastLinesRefunded,
}

/// The result of the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Move to `to`; `reason` is set for cancellations (one of the wire's cancel reasons).
    Move {
        from: OrderStatus,
        to: OrderStatus,
        reason: Option<&'static str>,
    },
    /// The order is already where this trigger would take it, or already ended in a way the
    /// trigger cannot change (a late authorization of a cancelled order is voided by payment).
    Unchanged,
}

/// A trigger the order's status does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {status:?} order cannot take {trigger:?}")]
pub struct TransitionRefused {
    pub status: OrderStatus,
    pub trigger: OrderTrigger,
}

/// The order state machine: the only place that says which status may follow which.
pub fn transition(status: OrderStatus, trigger: OrderTrigger) -> Result<Transition, TransitionRefused> {
    use events::ordering::cancel_reason;
    use {OrderStatus as S, OrderTrigger as T};
    let cancel = |reason| Transition::Move {
        from: S::Placed,
        to: S::Cancelled,
        reason: Some(reason),
    };
    match (status, trigger) {
        (S::Placed, T::PaymentAuthorized) => Ok(Transition::Move {
            from: S::Placed,
            to: S::Confirmed,
            reason: None,
        }),
        (S::Placed, T::StockReservationFailed) => Ok(cancel(cancel_reason::OUT_OF_STOCK)),
        (S::Placed, T::PaymentDeclined) => Ok(cancel(cancel_reason::PAYMENT_DECLINED)),
        (S::Placed, T::CustomerCancelled) => Ok(cancel(cancel_reason::CUSTOMER_CANCELLED)),
        (S::Placed, T::PaymentExpired) => Ok(cancel(cancel_reason::PAYMENT_EXPIRED)),
        (S::Placed, T::ReservationExpired) => Ok(cancel(cancel_reason::RESERVATION_EXPIRED)),
        (S::Confirmed | S::PartiallyRefunded, T::LinesRefunded) => Ok(Transition::Move {
            from: status,
            to: S::PartiallyRefunded,
            reason: None,
        }),
        (S::Confirmed | S::PartiallyRefunded, T::LastLinesRefunded) => Ok(Transition::Move {
            from: status,
            to: S::Refunded,
            reason: None,
        }),
        (S::Placed, T::LinesRefunded | T::LastLinesRefunded) => Err(TransitionRefused { status, trigger }),
        (S::Confirmed | S::PartiallyRefunded | S::Refunded, T::PaymentAuthorized) | (S::Cancelled, _) => {
            Ok(Transition::Unchanged)
        }
        (S::Confirmed | S::PartiallyRefunded | S::Refunded, _) => Err(TransitionRefused { status, trigger }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::ordering::cancel_reason;

    fn product(id: &str) -> ProductId {
        product_id(id).expect("product id")
    }

    fn lines(items: &[(&str, i64)]) -> OrderLines {
        OrderLines::new(
            items
                .iter()
                .map(|(id, units)| (product(id), Quantity::new(*units).expect("quantity")))
                .collect(),
        )
        .expect("lines")
    }

    fn price(minor: i64, currency: &str, orderable: bool) -> CatalogPrice {
        CatalogPrice {
            name: Some("Cup".to_owned()),
            unit_price: Money::parse(minor, currency).expect("a price"),
            list_price: None,
            orderable,
        }
    }

    #[test]
    fn given_catalog_prices_when_pricing_then_the_total_is_the_sum_of_lines_in_minor_units() {
        let catalog = BTreeMap::from([
            (product("cup"), price(1290, "EUR", true)),
            (product("mug"), price(5, "EUR", true)),
        ]);
        let priced = price_order(&lines(&[("cup", 2), ("mug", 3)]), &catalog).expect("priced");
        assert_eq!(priced.total.minor(), 2 * 1290 + 3 * 5);
        assert_eq!(priced.total.currency().as_str(), "EUR");
        assert_eq!(priced.lines[0].unit_price.minor(), 1290);
    }

    #[test]
    fn unknown_discontinued_and_mixed_currency_products_cannot_be_ordered() {
        let catalog = BTreeMap::from([
            (product("cup"), price(1290, "EUR", true)),
            (product("old"), price(100, "EUR", false)),
            (product("usd"), price(100, "USD", true)),
        ]);
        assert_eq!(
            price_order(&lines(&[("ghost", 1)]), &catalog),
            Err(PricingError::UnknownProduct("ghost".to_owned()))
        );
        assert_eq!(
            price_order(&lines(&[("old", 1)]), &catalog),
            Err(PricingError::NotOrderable("old".to_owned()))
        );
        assert_eq!(
            price_order(&lines(&[("cup", 1), ("usd", 1)]), &catalog),
            Err(PricingError::MixedCurrencies)
        );
    }

    #[test]
    fn totals_that_overflow_or_are_free_are_refused() {
        let catalog = BTreeMap::from([
            (product("gold"), price(i64::MAX / 2, "EUR", true)),
            (product("free"), price(0, "EUR", true)),
        ]);
        assert_eq!(
            price_order(&lines(&[("gold", 3)]), &catalog),
            Err(PricingError::TotalOutOfRange)
        );
        assert_eq!(
            price_order(&lines(&[("free", 1)]), &catalog),
            Err(PricingError::TotalOutOfRange)
        );
    }

    #[test]
    fn an_order_needs_lines_each_product_once_and_sane_quantities() {
        assert_eq!(OrderLines::new(vec![]), Err(InvalidInput::LineCount(0)));
        assert!(matches!(
            OrderLines::new(vec![
                (product("a"), Quantity::new(1).expect("q")),
                (product("a"), Quantity::new(2).expect("q"))
            ]),
            Err(InvalidInput::RepeatedProduct(_))
        ));
        assert!(Quantity::new(0).is_err());
        assert!(Quantity::new(1_001).is_err());
        assert_eq!(product_id("a b"), Err(InvalidInput::ProductId("a b".to_owned())));
    }

    #[test]
    fn the_same_request_has_the_same_fingerprint_and_a_different_one_does_not() {
        let order = |units: i64, token: &str| PlaceOrder {
            user_id: uuid::Uuid::nil(),
            idempotency_key: IdempotencyKey::parse("k-1").expect("key"),
            lines: lines(&[("cup", units)]),
            payment_token: PaymentToken::parse(token).expect("token"),
        };
        assert_eq!(
            order(1, "tok_approve").fingerprint(),
            order(1, "tok_approve").fingerprint()
        );
        assert_ne!(
            order(1, "tok_approve").fingerprint(),
            order(2, "tok_approve").fingerprint()
        );
        assert_ne!(
            order(1, "tok_approve").fingerprint(),
            order(1, "tok_decline").fingerprint()
        );
    }

    #[test]
    fn given_a_placed_order_when_payment_is_authorized_then_it_is_confirmed() {
        assert_eq!(
            transition(OrderStatus::Placed, OrderTrigger::PaymentAuthorized),
            Ok(Transition::Move {
                from: OrderStatus::Placed,
                to: OrderStatus::Confirmed,
                reason: None
            })
        );
    }

    #[test]
    fn given_a_placed_order_when_the_saga_fails_then_it_is_cancelled_with_the_reason() {
        for (trigger, reason) in [
            (OrderTrigger::StockReservationFailed, cancel_reason::OUT_OF_STOCK),
            (OrderTrigger::PaymentDeclined, cancel_reason::PAYMENT_DECLINED),
            (OrderTrigger::CustomerCancelled, cancel_reason::CUSTOMER_CANCELLED),
            (OrderTrigger::PaymentExpired, cancel_reason::PAYMENT_EXPIRED),
            (
                OrderTrigger::ReservationExpired,
                cancel_reason::RESERVATION_EXPIRED,
            ),
        ] {
            assert_eq!(
                transition(OrderStatus::Placed, trigger),
                Ok(Transition::Move {
                    from: OrderStatus::Placed,
                    to: OrderStatus::Cancelled,
                    reason: Some(reason)
                })
            );
        }
    }

    #[test]
    fn given_a_confirmed_order_when_the_customer_cancels_then_the_transition_is_refused() {
        assert_eq!(
            transition(OrderStatus::Confirmed, OrderTrigger::CustomerCancelled),
            Err(TransitionRefused {
                status: OrderStatus::Confirmed,
                trigger: OrderTrigger::CustomerCancelled
            })
        );
    }

    #[test]
    fn given_a_confirmed_order_when_lines_are_refunded_then_it_is_partially_refunded_until_the_last() {
        use {OrderStatus as S, OrderTrigger as T};
        for from in [S::Confirmed, S::PartiallyRefunded] {
            assert_eq!(
                transition(from, T::LinesRefunded),
                Ok(Transition::Move {
                    from,
                    to: S::PartiallyRefunded,
                    reason: None
                })
            );
            assert_eq!(
                transition(from, T::LastLinesRefunded),
                Ok(Transition::Move {
                    from,
                    to: S::Refunded,
                    reason: None
                })
            );
        }
        assert!(transition(S::Placed, T::LinesRefunded).is_err());
        assert!(transition(S::Refunded, T::LinesRefunded).is_err());
        assert!(transition(S::PartiallyRefunded, T::CustomerCancelled).is_err());
    }

    #[test]
    fn given_an_ended_order_when_a_late_or_repeated_trigger_arrives_then_nothing_changes() {
        assert_eq!(
            transition(OrderStatus::Confirmed, OrderTrigger::PaymentAuthorized),
            Ok(Transition::Unchanged)
        );
        for trigger in [
            OrderTrigger::PaymentAuthorized,
            OrderTrigger::StockReservationFailed,
            OrderTrigger::PaymentDeclined,
            OrderTrigger::CustomerCancelled,
            OrderTrigger::PaymentExpired,
        ] {
            assert_eq!(
                transition(OrderStatus::Cancelled, trigger),
                Ok(Transition::Unchanged)
            );
        }
    }
}
