//! Ordering's part of the HTTP API's OpenAPI document (docs/adr/0052).

use utoipa::OpenApi;

#[derive(Debug, OpenApi)]
#[openapi(
    paths(
        crate::http::place_order,
        crate::http::get_order,
        crate::http::list_orders,
        crate::http::cancel_order,
        crate::refund_http::request_refund,
        crate::shop_http::get_cart,
        crate::shop_http::clear_cart,
        crate::shop_http::add_item,
        crate::shop_http::set_quantity,
        crate::shop_http::remove_item,
        crate::shop_http::checkout_cart,
        crate::shop_http::list_addresses,
        crate::shop_http::add_address,
        crate::shop_http::delete_address,
        crate::shop_http::set_default_address,
    ),
    tags(
        (name = "ordering", description = "Orders: placing, following the saga, cancelling, refunds."),
        (name = "cart", description = "The caller's cart and checkout."),
        (name = "addresses", description = "The caller's shipping addresses."),
    )
)]
struct OrderingDocument;

/// The document of ordering's HTTP functions.
pub fn openapi() -> utoipa::openapi::OpenApi {
    OrderingDocument::openapi()
}
