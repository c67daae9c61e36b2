//! Events of the payment context, on `commerce.payment.payment`, keyed by order id.
//!
//! A payment exists once per order, so it is keyed (and made idempotent) by the order id.

use serde::{Deserialize, Serialize};

/// `commerce.payment.payment.authorized.v1`: the gateway holds the order's amount on the customer's card.
pub const PAYMENT_AUTHORIZED_V1: &str = "commerce.payment.payment.authorized.v1";
/// `commerce.payment.payment.declined.v1`: the gateway refused (or never answered) the authorization.
pub const PAYMENT_DECLINED_V1: &str = "commerce.payment.payment.declined.v1";
/// `commerce.payment.payment.captured.v1`: the authorized amount was taken.
pub const PAYMENT_CAPTURED_V1: &str = "commerce.payment.payment.captured.v1";
/// `commerce.payment.payment.voided.v1`: the authorization was released without taking money.
pub const PAYMENT_VOIDED_V1: &str = "commerce.payment.payment.voided.v1";

/// The aggregate type of payment's events in the outbox.
pub const AGGREGATE: &str = "payment";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentAuthorizedV1 {
    pub order_id: String,
    pub payment_id: String,
    pub amount_minor: i64,
    pub currency: String,
    /// The gateway's reference of the authorization.
    pub authorization_id: String,
}

/// Why a payment was declined: stable strings.
pub mod decline_reason {
    pub const DECLINED: &str = "declined";
    pub const INSUFFICIENT_FUNDS: &str = "insufficient-funds";
    pub const GATEWAY_UNAVAILABLE: &str = "gateway-unavailable";
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentDeclinedV1 {
    pub order_id: String,
    pub payment_id: String,
    /// One of [`decline_reason`].
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentCapturedV1 {
    pub order_id: String,
    pub payment_id: String,
    pub amount_minor: i64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentVoidedV1 {
    pub order_id: String,
    pub payment_id: String,
}
