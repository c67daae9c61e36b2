//! Catalog's part of the HTTP API's OpenAPI document (docs/adr/0052).

use utoipa::OpenApi;

#[derive(Debug, OpenApi)]
#[openapi(
    paths(
        crate::http::create_product,
        crate::http::update_product,
        crate::http::change_price,
        crate::http::discontinue,
        crate::http::activate,
        crate::http::set_status,
        crate::http::delete_product,
        crate::http::browse,
        crate::http::get_product,
        crate::http::find_sku,
        crate::http::get_product_attributes,
        crate::http::add_options,
        crate::http::remove_option,
        crate::http::create_brand,
        crate::http::rename_brand,
        crate::http::delete_brand,
        crate::http::list_brands,
        crate::http::get_brand,
        crate::http::write_review,
        crate::http::edit_review,
        crate::http::delete_review,
        crate::http::list_reviews,
        crate::http::like_product,
        crate::http::unlike_product,
        crate::http::like_review,
        crate::http::unlike_review,
        crate::http::create_promotion,
        crate::http::end_promotion,
        crate::http::list_promotions,
        crate::http::create_category,
        crate::http::list_categories,
        crate::http::create_category_attribute,
        crate::http::update_category_attribute,
        crate::http::delete_category_attribute,
        crate::http::list_category_attributes,
        crate::http::set_product_attributes,
    ),
    tags((name = "catalog", description = "Products, options and SKUs, categories and their attributes, brands, promotions, reviews and likes."))
)]
struct CatalogDocument;

/// The document of catalog's HTTP functions.
pub fn openapi() -> utoipa::openapi::OpenApi {
    CatalogDocument::openapi()
}
