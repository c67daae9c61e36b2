//! Events of the catalog context, on `commerce.catalog.product`, keyed by product id.
//!
//! Payloads are the JSON `data` of the CloudEvent; names are camelCase on the wire, money is
//! integer minor units with an ISO 4217 currency, never a float. These first catalog events
//! keep their older names, `commerce.product.<fact>.v1`, rather than the topic-prefixed form
//! the other contexts use: renaming them would be a new version, for no reader's benefit.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::value::{Currency, Money, MoneyError, Sku};

/// The aggregate type of catalog's product events in the outbox.
pub const AGGREGATE: &str = "product";

/// `commerce.product.created.v1`: a product was created with its first price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductCreatedV1 {
    pub product_id: Sku,
    pub name: String,
    pub price_minor: i64,
    pub currency: Currency,
}

/// `commerce.product.price-changed.v1`: a product's price changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductPriceChangedV1 {
    pub product_id: Sku,
    pub price_minor: i64,
    pub currency: Currency,
}

/// `commerce.product.discontinued.v1`: a product can no longer be ordered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductDiscontinuedV1 {
    pub product_id: Sku,
}

/// `commerce.product.reactivated.v1`: a discontinued product can be ordered again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductReactivatedV1 {
    pub product_id: Sku,
}

impl ProductCreatedV1 {
    pub fn price(&self) -> Result<Money, MoneyError> {
        Money::new(self.price_minor, self.currency)
    }
}

impl ProductPriceChangedV1 {
    pub fn price(&self) -> Result<Money, MoneyError> {
        Money::new(self.price_minor, self.currency)
    }
}

crate::event_type!(ProductCreatedV1 = "commerce.product.created.v1", version 1, on CATALOG_PRODUCT, keyed by product_id);
crate::event_type!(ProductPriceChangedV1 = "commerce.product.price-changed.v1", version 1, on CATALOG_PRODUCT, keyed by product_id);
crate::event_type!(ProductDiscontinuedV1 = "commerce.product.discontinued.v1", version 1, on CATALOG_PRODUCT, keyed by product_id);
crate::event_type!(ProductReactivatedV1 = "commerce.product.reactivated.v1", version 1, on CATALOG_PRODUCT, keyed by product_id);

crate::one_of! {
    /// Every event on the product topic: what a projection of the catalog reads.
    pub enum ProductEvent {
        Created(ProductCreatedV1),
        PriceChanged(ProductPriceChangedV1),
        Discontinued(ProductDiscontinuedV1),
        Reactivated(ProductReactivatedV1),
    }
}

impl ProductEvent {
    /// The product the event is about.
    pub fn product_id(&self) -> &Sku {
        match self {
            Self::Created(event) => &event.product_id,
            Self::PriceChanged(event) => &event.product_id,
            Self::Discontinued(event) => &event.product_id,
            Self::Reactivated(event) => &event.product_id,
        }
    }
}
