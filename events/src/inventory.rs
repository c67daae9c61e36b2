//! Events of the inventory context, on `commerce.inventory.stock`.
//!
//! Reservations belong to an order, so their events are keyed by the order id: everything
//! inventory says about one order arrives in order. Whether a SKU can be bought at all
//! (`stock.depleted`, `stock.restored`) is about the SKU, so those are keyed by SKU.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::value::Sku;

/// The aggregate type of inventory's reservation events in the outbox.
pub const AGGREGATE: &str = "reservation";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReservedLineV1 {
    pub sku: Sku,
    pub quantity: u32,
}

/// `commerce.inventory.stock.reserved.v1`: every line of an order is reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StockReservedV1 {
    pub order_id: String,
    pub lines: Vec<ReservedLineV1>,
    /// When the reservation lapses unless the order is confirmed, RFC 3339.
    pub expires_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShortLineV1 {
    pub sku: Sku,
    pub requested: u32,
    pub available: i64,
}

/// `commerce.inventory.stock.reservation-failed.v1`: at least one line could not be reserved,
/// so none was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StockReservationFailedV1 {
    pub order_id: String,
    /// The lines that were short (unknown SKUs have `available` 0).
    pub short_lines: Vec<ShortLineV1>,
}

/// Why a reservation was released: stable strings.
pub mod release_reason {
    pub const ORDER_CANCELLED: &str = "order-cancelled";
    pub const EXPIRED: &str = "expired";
}

/// `commerce.inventory.stock.released.v1`: a reservation was given back (order cancelled or
/// expired).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StockReleasedV1 {
    pub order_id: String,
    pub lines: Vec<ReservedLineV1>,
    /// One of [`release_reason`].
    pub reason: String,
}

/// `commerce.inventory.stock.committed.v1`: a reservation was turned into a sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StockCommittedV1 {
    pub order_id: String,
    pub lines: Vec<ReservedLineV1>,
}

crate::event_type!(StockReservedV1 = "commerce.inventory.stock.reserved.v1", version 1, on INVENTORY_STOCK, keyed by order_id);
crate::event_type!(StockReservationFailedV1 = "commerce.inventory.stock.reservation-failed.v1", version 1, on INVENTORY_STOCK, keyed by order_id);
crate::event_type!(StockReleasedV1 = "commerce.inventory.stock.released.v1", version 1, on INVENTORY_STOCK, keyed by order_id);
crate::event_type!(StockCommittedV1 = "commerce.inventory.stock.committed.v1", version 1, on INVENTORY_STOCK, keyed by order_id);

pub use stock_level::{StockDepletedV1, StockRestoredV1};

/// Whether a SKU can be bought at all. These facts are about a SKU, not an order, so they are
/// keyed by SKU and carry the aggregate type `stock`: everything said about one SKU's
/// availability stays in order, whatever orders interleave.
mod stock_level {
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    use crate::value::Sku;

    /// The aggregate type of inventory's availability events in the outbox.
    pub const AGGREGATE: &str = "stock";

    /// `commerce.inventory.stock.depleted.v1`: nothing of the SKU is available any more
    /// (on hand minus reserved went from above zero to zero).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct StockDepletedV1 {
        pub sku: Sku,
    }

    /// `commerce.inventory.stock.restored.v1`: units of a SKU that had none available can be
    /// bought again.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct StockRestoredV1 {
        pub sku: Sku,
    }

    crate::event_type!(StockDepletedV1 = "commerce.inventory.stock.depleted.v1", version 1, on INVENTORY_STOCK, keyed by sku);
    crate::event_type!(StockRestoredV1 = "commerce.inventory.stock.restored.v1", version 1, on INVENTORY_STOCK, keyed by sku);
}
