//! Inventory's part of the HTTP API's OpenAPI document (docs/adr/0052).

use utoipa::OpenApi;

#[derive(Debug, OpenApi)]
#[openapi(
    paths(
        crate::http::set_stock,
        crate::http::adjust_stock,
        crate::http::list_stock_changes,
        crate::http::get_availability,
        crate::http::get_bulk_availability,
    ),
    tags((name = "inventory", description = "Stock per SKU: what is on hand, reserved and available."))
)]
struct InventoryDocument;

/// The document of inventory's HTTP functions.
pub fn openapi() -> utoipa::openapi::OpenApi {
    InventoryDocument::openapi()
}
