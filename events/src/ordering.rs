//! Events of the ordering context, on `commerce.ordering.order`, keyed by order id.
//!
//! `order.placed` starts an order's saga; `order.confirmed` and `order.cancelled` end it, and
//! are what inventory and payment settle their side on (commit or release the stock, capture
//! or void the payment). The saga's correlation id is the order id.
//!
//! The refund saga starts with `order.refund-requested` (payment refunds part of the captured
//! amount) and ends with `order.refunded` (inventory puts the units back on hand).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::value::{Currency, Money, MoneyError, Sku};

/// The aggregate type of ordering's events in the outbox.
pub const AGGREGATE: &str = "order";

/// One line of an order, priced when it was placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderLineV1 {
    /// The SKU ordered; inventory keeps its stock under the same id.
    pub product_id: Sku,
    pub quantity: u32,
    pub unit_price_minor: i64,
}

/// `commerce.ordering.order.placed.v1`: a customer placed an order, priced from ordering's own
/// copy of the catalog. Inventory reserves its lines; payment learns what to authorize.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderPlacedV1 {
    pub order_id: String,
    pub user_id: String,
    pub lines: Vec<OrderLineV1>,
    pub total_minor: i64,
    pub currency: Currency,
    /// The opaque payment method token the customer chose; only payment reads it.
    pub payment_token: String,
}

impl OrderPlacedV1 {
    pub fn total(&self) -> Result<Money, MoneyError> {
        Money::new(self.total_minor, self.currency)
    }
}

/// `commerce.ordering.order.confirmed.v1`: stock is reserved and payment authorized; the
/// order stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderConfirmedV1 {
    pub order_id: String,
    pub user_id: String,
    pub total_minor: i64,
    pub currency: Currency,
    /// The lines sold, as placed (catalog counts sales and lets buyers review from them).
    /// Empty in events written before the field existed.
    #[serde(default)]
    pub lines: Vec<OrderLineV1>,
}

/// Why an order was cancelled: stable strings consumers may branch on.
pub mod cancel_reason {
    pub const OUT_OF_STOCK: &str = "out-of-stock";
    pub const PAYMENT_DECLINED: &str = "payment-declined";
    pub const CUSTOMER_CANCELLED: &str = "customer-cancelled";
    pub const PAYMENT_EXPIRED: &str = "payment-expired";
    /// Inventory released the order's stock because the reservation lapsed first.
    pub const RESERVATION_EXPIRED: &str = "reservation-expired";
}

/// `commerce.ordering.order.cancelled.v1`: the order ended without a sale; `reason` says why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderCancelledV1 {
    pub order_id: String,
    pub user_id: String,
    /// One of [`cancel_reason`].
    pub reason: String,
}

/// One line of a refund: which line of the order, what it sold and for how much.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefundLineV1 {
    /// The line's number on the order, as `GET /orders/{id}` shows it.
    pub line_no: u32,
    /// The SKU of the line; inventory returns its units under the same id.
    pub product_id: Sku,
    pub quantity: u32,
    pub unit_price_minor: i64,
}

/// `commerce.ordering.order.refund-requested.v1`: the owner of a confirmed order asked to
/// refund some of its lines; they are `REFUND_REQUESTED` until payment answers. Payment
/// refunds `amount_minor` (the lines' prices times their quantities) of the captured amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderRefundRequestedV1 {
    pub order_id: String,
    /// The refund's id (UUIDv7): payment's idempotency key at the gateway.
    pub refund_id: String,
    pub user_id: String,
    pub lines: Vec<RefundLineV1>,
    pub amount_minor: i64,
    pub currency: Currency,
}

/// One refunded line as inventory needs it: the units to put back on hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefundedLineV1 {
    pub sku: Sku,
    pub quantity: u32,
}

/// `commerce.ordering.order.refunded.v1`: payment gave the money of some lines back; those
/// lines are `REFUNDED` and their units come back to stock. `status` is the order's status
/// after the refund, `PARTIALLY_REFUNDED` or `REFUNDED`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderRefundedV1 {
    pub order_id: String,
    pub refund_id: String,
    pub user_id: String,
    pub lines: Vec<RefundedLineV1>,
    pub amount_minor: i64,
    pub currency: Currency,
    pub status: String,
}

crate::event_type!(OrderPlacedV1 = "commerce.ordering.order.placed.v1", version 1, on ORDERING_ORDER, keyed by order_id);
crate::event_type!(OrderConfirmedV1 = "commerce.ordering.order.confirmed.v1", version 1, on ORDERING_ORDER, keyed by order_id);
crate::event_type!(OrderCancelledV1 = "commerce.ordering.order.cancelled.v1", version 1, on ORDERING_ORDER, keyed by order_id);
crate::event_type!(OrderRefundRequestedV1 = "commerce.ordering.order.refund-requested.v1", version 1, on ORDERING_ORDER, keyed by order_id);
crate::event_type!(OrderRefundedV1 = "commerce.ordering.order.refunded.v1", version 1, on ORDERING_ORDER, keyed by order_id);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_placed_is_camel_case_json_with_minor_units() {
        let placed = OrderPlacedV1 {
            order_id: "o-1".to_owned(),
            user_id: "u-1".to_owned(),
            lines: vec![OrderLineV1 {
                product_id: Sku::parse("p-1").expect("sku"),
                quantity: 2,
                unit_price_minor: 1290,
            }],
            total_minor: 2580,
            currency: Currency::parse("EUR").expect("currency"),
            payment_token: "tok_approve".to_owned(),
        };
        let json = serde_json::to_value(&placed).expect("serialize");
        assert_eq!(
            json,
            serde_json::json!({
                "orderId": "o-1", "userId": "u-1",
                "lines": [{"productId": "p-1", "quantity": 2, "unitPriceMinor": 1290}],
                "totalMinor": 2580, "currency": "EUR", "paymentToken": "tok_approve"
            })
        );
        assert_eq!(
            serde_json::from_value::<OrderPlacedV1>(json).expect("read"),
            placed
        );
    }
}
