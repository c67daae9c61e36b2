//! Events of the inventory context, on `commerce.inventory.stock`, keyed by order id.
//!
//! Reservations belong to an order, so their events are keyed by the order id: everything
//! inventory says about one order arrives in order.

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
