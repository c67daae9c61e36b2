//! Events of the payment context, on `commerce.payment.payment`, keyed by order id.
//!
//! A payment exists once per order, so it is keyed (and made idempotent) by the order id.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::value::Currency;

/// The aggregate type of payment's events in the outbox.
pub const AGGREGATE: &str = "payment";

/// `commerce.payment.payment.authorized.v1`: the gateway holds the order's amount on the
/// customer's card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentAuthorizedV1 {
    pub order_id: String,
    pub payment_id: String,
    pub amount_minor: i64,
    pub currency: Currency,
    /// The gateway's reference of the authorization.
    pub authorization_id: String,
}

/// Why a payment was declined: stable strings.
pub mod decline_reason {
    pub const DECLINED: &str = "declined";
    pub const INSUFFICIENT_FUNDS: &str = "insufficient-funds";
    pub const GATEWAY_UNAVAILABLE: &str = "gateway-unavailable";
}

/// `commerce.payment.payment.declined.v1`: the gateway refused (or never answered) the
/// authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentDeclinedV1 {
    pub order_id: String,
    pub payment_id: String,
    /// One of [`decline_reason`].
    pub reason: String,
}

/// `commerce.payment.payment.captured.v1`: the authorized amount was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentCapturedV1 {
    pub order_id: String,
    pub payment_id: String,
    pub amount_minor: i64,
    pub currency: Currency,
}

/// `commerce.payment.payment.voided.v1`: the authorization was released without taking money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentVoidedV1 {
    pub order_id: String,
    pub payment_id: String,
}

/// `commerce.payment.payment.refunded.v1`: the gateway gave `amount_minor` of the captured
/// amount back for one refund of the order (a partial cancellation of the capture).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRefundedV1 {
    pub order_id: String,
    pub payment_id: String,
    /// The refund ordering asked for in `order.refund-requested`.
    pub refund_id: String,
    pub amount_minor: i64,
    pub currency: Currency,
    /// Everything refunded of this payment so far, this refund included.
    pub refunded_total_minor: i64,
    /// The gateway's reference of the cancellation.
    pub reference: String,
}

/// Why a refund failed: stable strings.
pub mod refund_failure_reason {
    /// The gateway refused the refund.
    pub const REFUND_DECLINED: &str = "refund-declined";
    /// The gateway did not answer after every attempt.
    pub const GATEWAY_UNAVAILABLE: &str = "gateway-unavailable";
    /// The refund would take the refunded total above the captured amount.
    pub const EXCEEDS_CAPTURED: &str = "exceeds-captured";
    /// The order's payment is not captured (or not known to payment).
    pub const NOT_CAPTURED: &str = "not-captured";
}

/// `commerce.payment.payment.refund-failed.v1`: nothing was refunded for this refund; `reason`
/// says why, and the lines may be asked for again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRefundFailedV1 {
    pub order_id: String,
    pub refund_id: String,
    /// One of [`refund_failure_reason`].
    pub reason: String,
}

crate::event_type!(PaymentAuthorizedV1 = "commerce.payment.payment.authorized.v1", version 1, on PAYMENT_PAYMENT, keyed by order_id);
crate::event_type!(PaymentDeclinedV1 = "commerce.payment.payment.declined.v1", version 1, on PAYMENT_PAYMENT, keyed by order_id);
crate::event_type!(PaymentCapturedV1 = "commerce.payment.payment.captured.v1", version 1, on PAYMENT_PAYMENT, keyed by order_id);
crate::event_type!(PaymentVoidedV1 = "commerce.payment.payment.voided.v1", version 1, on PAYMENT_PAYMENT, keyed by order_id);
crate::event_type!(PaymentRefundedV1 = "commerce.payment.payment.refunded.v1", version 1, on PAYMENT_PAYMENT, keyed by order_id);
crate::event_type!(PaymentRefundFailedV1 = "commerce.payment.payment.refund-failed.v1", version 1, on PAYMENT_PAYMENT, keyed by order_id);
