//! Events of the catalog context, on `commerce.catalog.product`, keyed by product id.
//!
//! Payloads are the JSON `data` of the CloudEvent; names are camelCase on the wire, money is
//! integer minor units with an ISO 4217 currency, never a float.

use serde::{Deserialize, Serialize};

/// `commerce.product.created.v1`: a product was created with its first price.
pub const PRODUCT_CREATED_V1: &str = "commerce.product.created.v1";
/// `commerce.product.price-changed.v1`: a product's price changed.
pub const PRODUCT_PRICE_CHANGED_V1: &str = "commerce.product.price-changed.v1";
/// `commerce.product.discontinued.v1`: a product can no longer be ordered.
pub const PRODUCT_DISCONTINUED_V1: &str = "commerce.product.discontinued.v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductCreatedV1 {
    pub product_id: String,
    pub name: String,
    pub price_minor: i64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductPriceChangedV1 {
    pub product_id: String,
    pub price_minor: i64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductDiscontinuedV1 {
    pub product_id: String,
}

/// `commerce.product.reactivated.v1`: a discontinued product can be ordered again.
pub const PRODUCT_REACTIVATED_V1: &str = "commerce.product.reactivated.v1";

/// The aggregate type of catalog's product events in the outbox.
pub const AGGREGATE: &str = "product";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductReactivatedV1 {
    pub product_id: String,
}
