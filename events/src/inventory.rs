//! Events of the inventory context, on `commerce.inventory.stock`, keyed by order id.
//!
//! Reservations belong to an order, so their events are keyed by the order id: everything
//! inventory says about one order arrives in order.

use serde::{Deserialize, Serialize};

/// `commerce.inventory.stock.reserved.v1`: every line of an order is reserved.
pub const STOCK_RESERVED_V1: &str = "commerce.inventory.stock.reserved.v1";
/// `commerce.inventory.stock.reservation-failed.v1`: at least one line could not be reserved, so none was.
pub const STOCK_RESERVATION_FAILED_V1: &str = "commerce.inventory.stock.reservation-failed.v1";
/// `commerce.inventory.stock.released.v1`: a reservation was given back (order cancelled or expired).
pub const STOCK_RELEASED_V1: &str = "commerce.inventory.stock.released.v1";
/// `commerce.inventory.stock.committed.v1`: a reservation was turned into a sale.
pub const STOCK_COMMITTED_V1: &str = "commerce.inventory.stock.committed.v1";

/// The aggregate type of inventory's reservation events in the outbox.
pub const AGGREGATE: &str = "reservation";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservedLineV1 {
    pub sku: String,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockReservedV1 {
    pub order_id: String,
    pub lines: Vec<ReservedLineV1>,
    /// When the reservation lapses unless the order is confirmed, RFC 3339.
    pub expires_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShortLineV1 {
    pub sku: String,
    pub requested: u32,
    pub available: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockReleasedV1 {
    pub order_id: String,
    pub lines: Vec<ReservedLineV1>,
    /// One of [`release_reason`].
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockCommittedV1 {
    pub order_id: String,
    pub lines: Vec<ReservedLineV1>,
}
