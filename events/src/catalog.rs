//! Events of the catalog context, on `commerce.catalog.product`, keyed by product id.
//!
//! Payloads are the JSON `data` of the CloudEvent; names are camelCase on the wire, money is
//! integer minor units with an ISO 4217 currency, never a float. These first catalog events
//! keep their older names, `commerce.product.<fact>.v1`, rather than the topic-prefixed form
//! the other contexts use: renaming them would be a new version, for no reader's benefit.
//! The SKU events that came later use the topic-prefixed form.
//!
//! A product is sold as SKUs. A product without options has exactly one, whose id is the
//! product id; a product with option groups has one per combination of options, and its own
//! id is not a SKU (`hasOptions`). Every SKU is announced by `sku-created`, and every change
//! of its price by `sku-price-changed`; the product events keep meaning what they meant.

use std::collections::BTreeMap;

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
    /// The product is sold as the SKUs of its options, and its own id is not one of them.
    /// Absent (false) for a product sold as one SKU under its own id.
    #[serde(default, skip_serializing_if = "is_false")]
    pub has_options: bool,
}

/// `commerce.product.price-changed.v1`: a product's price changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductPriceChangedV1 {
    pub product_id: Sku,
    /// The base price: a SKU of a product with options adds its options' surcharges.
    pub price_minor: i64,
    pub currency: Currency,
    /// As in `product.created`: the price is a base, not the price of a SKU with this id.
    #[serde(default, skip_serializing_if = "is_false")]
    pub has_options: bool,
}

/// `commerce.catalog.product.sku-created.v1`: a SKU of a product can be stocked and sold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkuCreatedV1 {
    pub product_id: Sku,
    pub sku: Sku,
    /// The product's name with the SKU's options, e.g. `T-shirt (Red, L)`.
    pub name: String,
    /// What an order pays: the base price plus the options' surcharges, after the winning
    /// promotion (the selling price).
    pub price_minor: i64,
    pub currency: Currency,
    /// Option group name to option name; empty for the one SKU of a product without options.
    pub options: BTreeMap<String, String>,
    /// The list price before promotions (base plus surcharges), when the producer says it;
    /// `priceMinor` below it is a discount. Absent in older events: no discount is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_price_minor: Option<i64>,
}

/// `commerce.catalog.product.sku-price-changed.v1`: a SKU's price changed (its product's base
/// price or one of its options' surcharges did).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkuPriceChangedV1 {
    pub product_id: Sku,
    pub sku: Sku,
    /// The selling price, as in `sku-created`.
    pub price_minor: i64,
    pub currency: Currency,
    /// The list price before promotions, as in `sku-created`; absent in older events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_price_minor: Option<i64>,
}

/// `commerce.catalog.product.sku-deactivated.v1`: one of the SKU's options was removed, so it
/// is no longer sold. Final: a SKU is never reactivated (a new option makes new SKUs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkuDeactivatedV1 {
    pub product_id: Sku,
    pub sku: Sku,
}

fn is_false(value: &bool) -> bool {
    !*value
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

impl SkuCreatedV1 {
    pub fn price(&self) -> Result<Money, MoneyError> {
        Money::new(self.price_minor, self.currency)
    }
}

impl SkuPriceChangedV1 {
    pub fn price(&self) -> Result<Money, MoneyError> {
        Money::new(self.price_minor, self.currency)
    }
}

crate::event_type!(ProductCreatedV1 = "commerce.product.created.v1", version 1, on CATALOG_PRODUCT, keyed by product_id);
crate::event_type!(ProductPriceChangedV1 = "commerce.product.price-changed.v1", version 1, on CATALOG_PRODUCT, keyed by product_id);
crate::event_type!(ProductDiscontinuedV1 = "commerce.product.discontinued.v1", version 1, on CATALOG_PRODUCT, keyed by product_id);
crate::event_type!(ProductReactivatedV1 = "commerce.product.reactivated.v1", version 1, on CATALOG_PRODUCT, keyed by product_id);
crate::event_type!(SkuCreatedV1 = "commerce.catalog.product.sku-created.v1", version 1, on CATALOG_PRODUCT, keyed by product_id);
crate::event_type!(SkuPriceChangedV1 = "commerce.catalog.product.sku-price-changed.v1", version 1, on CATALOG_PRODUCT, keyed by product_id);
crate::event_type!(SkuDeactivatedV1 = "commerce.catalog.product.sku-deactivated.v1", version 1, on CATALOG_PRODUCT, keyed by product_id);

crate::one_of! {
    /// Every event on the product topic: what a projection of the catalog reads.
    pub enum ProductEvent {
        Created(ProductCreatedV1),
        PriceChanged(ProductPriceChangedV1),
        Discontinued(ProductDiscontinuedV1),
        Reactivated(ProductReactivatedV1),
        SkuCreated(SkuCreatedV1),
        SkuPriceChanged(SkuPriceChangedV1),
        SkuDeactivated(SkuDeactivatedV1),
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
            Self::SkuCreated(event) => &event.product_id,
            Self::SkuPriceChanged(event) => &event.product_id,
            Self::SkuDeactivated(event) => &event.product_id,
        }
    }
}
