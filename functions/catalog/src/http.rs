//! The HTTP functions of catalog. Writes are for admins (`security::Admin`); browsing, one
//! product and the category tree are public.
//!
//! | function | route |
//! |---|---|
//! | `create-product` | `POST /admin/products` |
//! | `update-product` | `PUT /admin/products/{id}` |
//! | `change-product-price` | `PUT /admin/products/{id}/price` |
//! | `discontinue-product` | `POST /admin/products/{id}/discontinue` |
//! | `activate-product` | `POST /admin/products/{id}/activate` |
//! | `browse-products` | `GET /products?q=&category=&brand=&minPrice=&maxPrice=&sort=&page=&size=` |
//! | `get-product` | `GET /products/{id}`, `GET /products/{id}/skus?<group>=<option>…`, `GET /products/{id}/attributes` |
//! | `change-product-status` | `PATCH /admin/products/{id}/status`, `DELETE /admin/products/{id}` |
//! | `change-product-options` | `POST /admin/products/{id}/options`, `DELETE /admin/products/{id}/options/{optionId}` |
//! | `create-category` | `POST /admin/categories` |
//! | `list-categories` | `GET /categories` |
//! | `manage-brands` | `POST /admin/brands`, `PUT /admin/brands/{id}`, `DELETE /admin/brands/{id}` |
//! | `list-brands` | `GET /brands`, `GET /brands/{id}` |
//! | `review-product` | `POST /products/{id}/reviews`, `PUT /reviews/{id}`, `DELETE /reviews/{id}` (signed in) |
//! | `list-reviews` | `GET /products/{id}/reviews?page=&size=` |
//! | `manage-promotions` | `POST /admin/products/{id}/promotions`, `DELETE /admin/products/{id}/promotions/{promotionId}` |
//! | `list-promotions` | `GET /products/{id}/promotions` |
//! | `manage-likes` | `PUT` and `DELETE` `/products/{id}/like` and `/reviews/{id}/like` (signed in) |
//! | `manage-category-attributes` | `POST /admin/categories/{id}/attributes`, `PUT` and `DELETE /admin/categories/{id}/attributes/{attributeId}` |
//! | `list-category-attributes` | `GET /categories/{id}/attributes?includeInherited=` |
//! | `set-product-attributes` | `PUT /admin/products/{id}/attributes` |

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post, put};
use axum::{Extension, Router};
use cache::Lookup;
use runtime::envelope::{self, ApiError, FieldError, Json};
use runtime::openapi::Success;
use security::{AccessTokenVerifier, Admin, AuthenticatedUser};
use serde::Deserialize;
use sqlx::MySqlPool;
use store::outbox::EventContext;
use telemetry::RequestContext;

use crate::attributes::rules::{self, AttributeType, InvalidAttribute, ValuesRejected};
use crate::attributes::{
    self, AttributeChange, AttributeError, AttributeFilter, AttributeView, FilterError, NewAttribute,
    ProductAttributeView, SetValuesError,
};
use crate::brands::{self, BrandError, BrandView};
use crate::cache::CatalogCache;
use crate::domain::{
    BrandId, CategoryId, InvalidInput, OptionGroupSpec, OptionSpec, Page, Price, ProductStatus, Rating, Sort,
    Text, product_id,
};
use crate::products::{
    self, BrowseFilter, CategoryNode, ChangePriceError, ChangeStatusError, CreateCategoryError,
    CreateProductError, NewProduct, ProductDetail, ProductDetails, ProductPage, ProductView,
    UpdateProductError,
};
use crate::promotions::{self, NewPromotion, PromotionError, PromotionView};
use crate::reviews::{self, LikeError, Likeable, Liked, ReviewError, ReviewPage, ReviewText, ReviewView};
use crate::search::Keywords;
use crate::skus::{self, ChangeOptionsError, FindSkuError, ProductOptions, SkuView};

/// What the catalog HTTP functions share.
#[derive(Debug, Clone)]
pub struct CatalogApi {
    pub pool: MySqlPool,
    /// Product and browse pages; reads fill it, writes retire what they changed.
    pub cache: CatalogCache,
}

impl CatalogApi {
    /// On `pool`, without a cache.
    pub fn new(pool: MySqlPool) -> Self {
        Self {
            pool,
            cache: CatalogCache::off(),
        }
    }

    /// The same, with `cache`.
    pub fn with_cache(self, cache: CatalogCache) -> Self {
        Self { cache, ..self }
    }

    /// A lazy pool on `DATABASE_URL`, and the cache on `REDIS_URL` when it is set.
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            pool: store::mariadb::pool_from_env()?,
            cache: CatalogCache::from_env()?,
        })
    }
}

/// A value as the JSON it is cached as, so a cached and a fresh answer are the same bytes.
fn json_of<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(value).map_err(|error| ApiError::internal(&anyhow::Error::from(error)))
}

/// A router whose handlers check access tokens (each says in its signature who may call).
fn authenticated(router: Router<CatalogApi>, api: CatalogApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    router.with_state(api).layer(Extension(verifier))
}

pub fn create_product_routes(api: CatalogApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    authenticated(
        Router::new().route("/admin/products", post(create_product)),
        api,
        verifier,
    )
}

pub fn update_product_routes(api: CatalogApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    authenticated(
        Router::new().route("/admin/products/{id}", put(update_product)),
        api,
        verifier,
    )
}

pub fn change_price_routes(api: CatalogApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    authenticated(
        Router::new().route("/admin/products/{id}/price", put(change_price)),
        api,
        verifier,
    )
}

pub fn discontinue_product_routes(api: CatalogApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    authenticated(
        Router::new().route("/admin/products/{id}/discontinue", post(discontinue)),
        api,
        verifier,
    )
}

pub fn activate_product_routes(api: CatalogApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    authenticated(
        Router::new().route("/admin/products/{id}/activate", post(activate)),
        api,
        verifier,
    )
}

pub fn change_product_status_routes(api: CatalogApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    authenticated(
        Router::new()
            .route("/admin/products/{id}/status", axum::routing::patch(set_status))
            .route("/admin/products/{id}", delete(delete_product)),
        api,
        verifier,
    )
}

pub fn create_category_routes(api: CatalogApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    authenticated(
        Router::new().route("/admin/categories", post(create_category)),
        api,
        verifier,
    )
}

pub fn browse_products_routes(api: CatalogApi) -> Router {
    Router::new().route("/products", get(browse)).with_state(api)
}

pub fn get_product_routes(api: CatalogApi) -> Router {
    Router::new()
        .route("/products/{id}", get(get_product))
        .route("/products/{id}/skus", get(find_sku))
        .route("/products/{id}/attributes", get(get_product_attributes))
        .with_state(api)
}

pub fn change_product_options_routes(api: CatalogApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    authenticated(
        Router::new()
            .route("/admin/products/{id}/options", post(add_options))
            .route("/admin/products/{id}/options/{option_id}", delete(remove_option)),
        api,
        verifier,
    )
}

pub fn manage_brands_routes(api: CatalogApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    authenticated(
        Router::new()
            .route("/admin/brands", post(create_brand))
            .route("/admin/brands/{id}", put(rename_brand).delete(delete_brand)),
        api,
        verifier,
    )
}

pub fn review_product_routes(api: CatalogApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    authenticated(
        Router::new()
            .route("/products/{id}/reviews", post(write_review))
            .route("/reviews/{id}", put(edit_review).delete(delete_review)),
        api,
        verifier,
    )
}

pub fn list_reviews_routes(api: CatalogApi) -> Router {
    Router::new()
        .route("/products/{id}/reviews", get(list_reviews))
        .with_state(api)
}

pub fn manage_likes_routes(api: CatalogApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    authenticated(
        Router::new()
            .route("/products/{id}/like", put(like_product).delete(unlike_product))
            .route("/reviews/{id}/like", put(like_review).delete(unlike_review)),
        api,
        verifier,
    )
}

pub fn manage_promotions_routes(api: CatalogApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    authenticated(
        Router::new()
            .route("/admin/products/{id}/promotions", post(create_promotion))
            .route(
                "/admin/products/{id}/promotions/{promotion_id}",
                delete(end_promotion),
            ),
        api,
        verifier,
    )
}

pub fn list_promotions_routes(api: CatalogApi) -> Router {
    Router::new()
        .route("/products/{id}/promotions", get(list_promotions))
        .with_state(api)
}

pub fn list_brands_routes(api: CatalogApi) -> Router {
    Router::new()
        .route("/brands", get(list_brands))
        .route("/brands/{id}", get(get_brand))
        .with_state(api)
}

pub fn list_categories_routes(api: CatalogApi) -> Router {
    Router::new()
        .route("/categories", get(list_categories))
        .with_state(api)
}

/// Collects every invalid field of a request before answering.
#[derive(Default)]
struct Fields(Vec<FieldError>);

impl Fields {
    fn check<T>(&mut self, field: &str, parsed: Result<T, InvalidInput>) -> Option<T> {
        parsed
            .map_err(|error| {
                self.0.push(FieldError {
                    field: field.to_owned(),
                    reason: error.to_string(),
                })
            })
            .ok()
    }

    fn into_result<T>(self, value: Option<T>) -> Result<T, ApiError> {
        match value {
            Some(value) if self.0.is_empty() => Ok(value),
            _ => Err(ApiError::validation(self.0)),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"productId": "mug-blue", "name": "Blue mug", "description": "350 ml, stoneware", "categoryId": "kitchen", "priceMinor": 12000, "currency": "KRW", "optionGroups": [{"name": "size", "options": [{"name": "S"}, {"name": "L", "surchargeMinor": 2000}]}]}))]
pub struct CreateProductRequest {
    pub product_id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub category_id: Option<String>,
    pub brand_id: Option<String>,
    pub price_minor: i64,
    pub currency: String,
    /// Omitted or empty: the product is sold as one SKU under its own id.
    #[serde(default)]
    pub option_groups: Vec<OptionGroupRequest>,
    /// `DRAFT` or `ACTIVE` (the default).
    pub status: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OptionGroupRequest {
    pub name: String,
    pub options: Vec<OptionRequest>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OptionRequest {
    pub name: String,
    #[serde(default)]
    pub surcharge_minor: i64,
}

fn options(requests: &[OptionRequest]) -> Result<Vec<OptionSpec>, InvalidInput> {
    requests
        .iter()
        .map(|option| OptionSpec::new(&option.name, option.surcharge_minor))
        .collect()
}

fn option_groups(requests: &[OptionGroupRequest]) -> Result<Vec<OptionGroupSpec>, InvalidInput> {
    let groups = requests
        .iter()
        .map(|group| {
            Ok(OptionGroupSpec {
                name: Text::parse(&group.name, 1, 60)?,
                options: options(&group.options)?,
            })
        })
        .collect::<Result<Vec<_>, InvalidInput>>()?;
    crate::domain::check_option_groups(&groups)?;
    Ok(groups)
}

fn optional<T>(
    fields: &mut Fields,
    field: &str,
    value: Option<&str>,
    parse: fn(&str) -> Result<T, InvalidInput>,
) -> Option<Option<T>> {
    match value {
        Some(value) => fields.check(field, parse(value)).map(Some),
        None => Some(None),
    }
}

#[utoipa::path(post, path = "/admin/products", tag = "catalog", operation_id = "createProduct",
    summary = "Create a product (with its option groups, the SKUs are their combinations)",
    request_body = CreateProductRequest,
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 201, description = "The product.", body = Success<ProductView>),
        (status = 400, description = "`VALIDATION_FAILED`: naming each bad field."),
        (status = 409, description = "`PRODUCT_EXISTS`: a product with this id exists.\n`SKU_EXISTS`: a SKU id of its options belongs to another product."),
        (status = 422, description = "`UNKNOWN_CATEGORY`: the category does not exist.\n`UNKNOWN_BRAND`: the brand does not exist.\n`INVALID_OPTIONS`: the option groups break a rule.\n`TOO_MANY_SKUS`: the options make too many SKUs.\n`SKU_PRICE_TOO_HIGH`: a SKU would cost more than the maximum."),
    ))]
async fn create_product(
    State(api): State<CatalogApi>,
    _admin: Admin,
    request: RequestContext,
    Json(body): Json<CreateProductRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let mut fields = Fields::default();
    let product_id = fields.check("productId", product_id(&body.product_id));
    let name = fields.check("name", Text::parse(&body.name, 1, 200));
    let description = fields.check("description", Text::parse(&body.description, 0, 4000));
    let category_id = optional(
        &mut fields,
        "categoryId",
        body.category_id.as_deref(),
        CategoryId::parse,
    );
    let brand_id = optional(&mut fields, "brandId", body.brand_id.as_deref(), BrandId::parse);
    let price = fields.check("priceMinor", Price::new(body.price_minor, &body.currency));
    let groups = fields.check("optionGroups", option_groups(&body.option_groups));
    let draft = match body.status.as_deref() {
        None | Some("ACTIVE") => Some(false),
        Some("DRAFT") => Some(true),
        Some(_) => fields.check("status", Err::<bool, _>(InvalidInput::InitialStatus)),
    };
    let product = fields.into_result(
        match (
            product_id,
            name,
            description,
            category_id,
            brand_id,
            price,
            groups,
            draft,
        ) {
            (
                Some(product_id),
                Some(name),
                Some(description),
                Some(category_id),
                Some(brand_id),
                Some(price),
                Some(option_groups),
                Some(draft),
            ) => Some(NewProduct {
                product_id,
                name,
                description,
                category_id,
                brand_id,
                price,
                option_groups,
                draft,
            }),
            _ => None,
        },
    )?;
    match products::create_product(&api.pool, &product, &EventContext::of_request(&request)).await {
        Ok(view) => {
            api.cache.forget_products([&view.product_id]).await;
            Ok(envelope::created(view))
        }
        Err(CreateProductError::AlreadyExists) => Err(ApiError::conflict(
            "PRODUCT_EXISTS",
            "A product with this id exists.",
        )),
        Err(CreateProductError::SkuTaken(sku)) => Err(ApiError::conflict(
            "SKU_EXISTS",
            format!("The SKU {sku} belongs to another product; choose another product id."),
        )),
        Err(CreateProductError::UnknownCategory) => Err(unknown_category()),
        Err(CreateProductError::UnknownBrand) => Err(unknown_brand()),
        Err(CreateProductError::Invalid(invalid)) => Err(invalid_options(invalid)),
        Err(CreateProductError::Unexpected(cause)) => Err(ApiError::internal(&cause)),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateProductRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub category_id: Option<String>,
    pub brand_id: Option<String>,
}

#[utoipa::path(put, path = "/admin/products/{id}", tag = "catalog", operation_id = "updateProduct",
    summary = "Change a product's name, description, category and brand",
    params(("id" = String, Path, description = "The product id", example = "mug-blue")),
    request_body = UpdateProductRequest,
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 200, description = "The product.", body = Success<ProductView>),
        (status = 400, description = "`VALIDATION_FAILED`: naming each bad field."),
        (status = 404, description = "`PRODUCT_NOT_FOUND`: no such product."),
        (status = 422, description = "`UNKNOWN_CATEGORY`: the category does not exist.\n`UNKNOWN_BRAND`: the brand does not exist."),
    ))]
async fn update_product(
    State(api): State<CatalogApi>,
    _admin: Admin,
    Path(id): Path<String>,
    Json(body): Json<UpdateProductRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let product_id = product_id(&id).map_err(|_| product_not_found())?;
    let mut fields = Fields::default();
    let name = fields.check("name", Text::parse(&body.name, 1, 200));
    let description = fields.check("description", Text::parse(&body.description, 0, 4000));
    let category_id = optional(
        &mut fields,
        "categoryId",
        body.category_id.as_deref(),
        CategoryId::parse,
    );
    let brand_id = optional(&mut fields, "brandId", body.brand_id.as_deref(), BrandId::parse);
    let details = fields.into_result(match (name, description, category_id, brand_id) {
        (Some(name), Some(description), Some(category_id), Some(brand_id)) => Some(ProductDetails {
            name,
            description,
            category_id,
            brand_id,
        }),
        _ => None,
    })?;
    match products::update_product(&api.pool, &product_id, &details).await {
        Ok(view) => {
            api.cache.forget_products([product_id.as_str()]).await;
            Ok(envelope::ok(view))
        }
        Err(UpdateProductError::NotFound) => Err(product_not_found()),
        Err(UpdateProductError::UnknownCategory) => Err(unknown_category()),
        Err(UpdateProductError::UnknownBrand) => Err(unknown_brand()),
        Err(UpdateProductError::Unexpected(cause)) => Err(ApiError::internal(&cause)),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePriceRequest {
    pub price_minor: i64,
    pub currency: String,
}

#[utoipa::path(put, path = "/admin/products/{id}/price", tag = "catalog", operation_id = "changeProductPrice",
    summary = "Change a product's base price; every active SKU is repriced",
    params(("id" = String, Path, description = "The product id", example = "mug-blue")),
    request_body = ChangePriceRequest,
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 200, description = "The product.", body = Success<ProductView>),
        (status = 400, description = "`VALIDATION_FAILED`: naming each bad field."),
        (status = 404, description = "`PRODUCT_NOT_FOUND`: no such product."),
        (status = 422, description = "`SKU_PRICE_TOO_HIGH`: a SKU would cost more than the maximum."),
    ))]
async fn change_price(
    State(api): State<CatalogApi>,
    _admin: Admin,
    request: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<ChangePriceRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let product_id = product_id(&id).map_err(|_| product_not_found())?;
    let mut fields = Fields::default();
    let price = fields.check("priceMinor", Price::new(body.price_minor, &body.currency));
    let price = fields.into_result(price)?;
    match products::change_price(&api.pool, &product_id, price, &EventContext::of_request(&request)).await {
        Ok(view) => {
            api.cache.forget_products([product_id.as_str()]).await;
            Ok(envelope::ok(view))
        }
        Err(ChangePriceError::NotFound) => Err(product_not_found()),
        Err(ChangePriceError::SkuPrice) => Err(invalid_options(InvalidInput::SkuPrice)),
        Err(ChangePriceError::Unexpected(cause)) => Err(ApiError::internal(&cause)),
    }
}

#[utoipa::path(post, path = "/admin/products/{id}/discontinue", tag = "catalog", operation_id = "discontinueProduct",
    summary = "Stop selling a product (SUSPENDED)",
    params(("id" = String, Path, description = "The product id", example = "mug-blue")),
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 200, description = "The product.", body = Success<ProductView>),
        (status = 404, description = "`PRODUCT_NOT_FOUND`: no such product."),
        (status = 409, description = "`INVALID_STATUS_TRANSITION`: the product cannot go from its status to this one."),
        (status = 422, description = "`NOT_READY_FOR_ACTIVATION`: a product is sold only with at least one active SKU."),
    ))]
async fn discontinue(
    State(api): State<CatalogApi>,
    _admin: Admin,
    request: RequestContext,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    change_status(&api, &id, ProductStatus::Suspended, &request).await
}

#[utoipa::path(post, path = "/admin/products/{id}/activate", tag = "catalog", operation_id = "activateProduct",
    summary = "Sell a product again (ACTIVE)",
    params(("id" = String, Path, description = "The product id", example = "mug-blue")),
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 200, description = "The product.", body = Success<ProductView>),
        (status = 404, description = "`PRODUCT_NOT_FOUND`: no such product."),
        (status = 409, description = "`INVALID_STATUS_TRANSITION`: the product cannot go from its status to this one."),
        (status = 422, description = "`NOT_READY_FOR_ACTIVATION`: a product is sold only with at least one active SKU."),
    ))]
async fn activate(
    State(api): State<CatalogApi>,
    _admin: Admin,
    request: RequestContext,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    change_status(&api, &id, ProductStatus::Active, &request).await
}

async fn change_status(
    api: &CatalogApi,
    id: &str,
    wanted: ProductStatus,
    request: &RequestContext,
) -> Result<impl IntoResponse + use<>, ApiError> {
    let product_id = product_id(id).map_err(|_| product_not_found())?;
    match products::change_status(&api.pool, &product_id, wanted, &EventContext::of_request(request)).await {
        Ok(view) => {
            api.cache.forget_products([product_id.as_str()]).await;
            Ok(envelope::ok(view))
        }
        Err(ChangeStatusError::NotFound) => Err(product_not_found()),
        Err(ChangeStatusError::Invalid(invalid)) => Err(ApiError::conflict(
            "INVALID_STATUS_TRANSITION",
            format!("{invalid}."),
        )),
        Err(ChangeStatusError::NotReady) => Err(ApiError::unprocessable(
            "NOT_READY_FOR_ACTIVATION",
            "A product is sold only with at least one active SKU.",
        )),
        Err(ChangeStatusError::Unexpected(cause)) => Err(ApiError::internal(&cause)),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"status": "SUSPENDED"}))]
pub struct ChangeStatusRequest {
    /// `DRAFT`, `ACTIVE`, `SUSPENDED` or `DELETED`.
    pub status: String,
}

#[utoipa::path(patch, path = "/admin/products/{id}/status", tag = "catalog", operation_id = "changeProductStatus",
    summary = "Change a product's status",
    params(("id" = String, Path, description = "The product id", example = "mug-blue")),
    request_body = ChangeStatusRequest,
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 200, description = "The product.", body = Success<ProductView>),
        (status = 400, description = "`VALIDATION_FAILED`: `status` is not a status."),
        (status = 404, description = "`PRODUCT_NOT_FOUND`: no such product."),
        (status = 409, description = "`INVALID_STATUS_TRANSITION`: the product cannot go from its status to this one."),
        (status = 422, description = "`NOT_READY_FOR_ACTIVATION`: a product is sold only with at least one active SKU."),
    ))]
async fn set_status(
    State(api): State<CatalogApi>,
    _admin: Admin,
    request: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<ChangeStatusRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let mut fields = Fields::default();
    let wanted = fields.check(
        "status",
        ProductStatus::parse(&body.status).ok_or(InvalidInput::Status),
    );
    let wanted = fields.into_result(wanted)?;
    change_status(&api, &id, wanted, &request).await
}

#[utoipa::path(delete, path = "/admin/products/{id}", tag = "catalog", operation_id = "deleteProduct",
    summary = "Delete a product (DELETED, for good)",
    params(("id" = String, Path, description = "The product id", example = "mug-blue")),
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "`PRODUCT_NOT_FOUND`: no such product."),
        (status = 409, description = "`INVALID_STATUS_TRANSITION`: the product cannot go from its status to this one."),
    ))]
async fn delete_product(
    State(api): State<CatalogApi>,
    _admin: Admin,
    request: RequestContext,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    change_status(&api, &id, ProductStatus::Deleted, &request)
        .await
        .map(|_| StatusCode::NO_CONTENT)
}

/// The decoded pairs of a query string (`+` and `%XX` as in a form), in order.
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

fn price_bound(value: &str) -> Result<i64, InvalidInput> {
    value
        .parse::<i64>()
        .ok()
        .filter(|minor| (0..=Price::MAX_MINOR).contains(minor))
        .ok_or(InvalidInput::PriceBound)
}

#[utoipa::path(get, path = "/products", tag = "catalog", operation_id = "browseProducts",
    summary = "Browse, search, filter and sort active products",
    description = "Filter by attribute values with `attr.<attributeId>=<value>` (all must match; docs/adr/0042).",
    params(("q" = Option<String>, Query, description = "Keywords, Korean or English: names, descriptions and brand names"), ("category" = Option<String>, Query, description = "A category id; its sub-categories are included"), ("brand" = Option<String>, Query, description = "A brand id"), ("minPrice" = Option<i64>, Query, description = "Minor units, inclusive", minimum = 0), ("maxPrice" = Option<i64>, Query, description = "Minor units, inclusive", minimum = 0), ("sort" = Option<String>, Query, description = "`relevance` (the default with `q`), `newest` (the default), `price_asc`, `price_desc`, `popularity`, `best_selling`, `rating`, `review_count`, `recommended` or `name`"), ("page" = Option<u32>, Query, description = "From 1 (default 1)", minimum = 1), ("size" = Option<u32>, Query, description = "1–100 (default 20)", minimum = 1, maximum = 100)),
    responses(
        (status = 200, description = "A page of products.", body = Success<ProductPage>),
        (status = 400, description = "`VALIDATION_FAILED`: naming each bad parameter (an unknown attribute or a bad value included)."),
    ))]
async fn browse(
    State(api): State<CatalogApi>,
    RawQuery(query): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let mut fields = Fields::default();
    let mut filter = BrowseFilter::default();
    let mut sort = None;
    let (mut number, mut size) = (1_u32, 20_u32);
    let mut attribute_parameters = Vec::new();
    for (name, value) in query_pairs(query.as_deref()) {
        match name.as_str() {
            "q" => filter.keywords = fields.check("q", Keywords::parse(&value)),
            "category" => filter.category = fields.check("category", CategoryId::parse(&value)),
            "brand" => filter.brand = fields.check("brand", BrandId::parse(&value)),
            "minPrice" => filter.min_price = fields.check("minPrice", price_bound(&value)),
            "maxPrice" => filter.max_price = fields.check("maxPrice", price_bound(&value)),
            "sort" => sort = fields.check("sort", Sort::parse(&value)),
            "page" => number = value.parse().unwrap_or(0),
            "size" => size = value.parse().unwrap_or(0),
            _ if name.starts_with("attr.") => attribute_parameters.push((name.clone(), value)),
            _ => {}
        }
    }
    filter.attributes = attribute_filters(&api, &mut fields, &attribute_parameters).await?;
    if let (Some(min), Some(max)) = (filter.min_price, filter.max_price)
        && min > max
    {
        fields.0.push(FieldError {
            field: "maxPrice".to_owned(),
            reason: "must not be below minPrice".to_owned(),
        });
    }
    // Keywords rank by relevance unless the shopper picked an order.
    let sort = sort.unwrap_or(if filter.keywords.is_some() {
        Sort::Relevance
    } else {
        Sort::Newest
    });
    let page = fields.check("page", Page::new(number, size));
    let page = fields.into_result(page)?;
    let cached = api.cache.browse(&filter, sort, page).await;
    if let Some((_, Some(found))) = cached {
        return Ok(envelope::ok(found));
    }
    let found = products::browse(&api.pool, &filter, sort, page)
        .await
        .map_err(|cause| ApiError::internal(&cause))?;
    let found = json_of(&found)?;
    if let Some((key, None)) = cached {
        api.cache.keep_page(&key, &found).await;
    }
    Ok(envelope::ok(found))
}

#[utoipa::path(get, path = "/products/{id}", tag = "catalog", operation_id = "getProduct",
    summary = "A product with its option groups and SKUs",
    params(("id" = String, Path, description = "The product id", example = "mug-blue")),
    responses(
        (status = 200, description = "The product.", body = Success<ProductDetail>),
        (status = 404, description = "`PRODUCT_NOT_FOUND`: no such product."),
    ))]
async fn get_product(
    State(api): State<CatalogApi>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let product_id = product_id(&id).map_err(|_| product_not_found())?;
    let cached = api.cache.product(product_id.as_str()).await;
    let cached = match cached {
        Lookup::Hit(page) => return Ok(envelope::ok(page)),
        Lookup::Miss => true,
        Lookup::Unavailable => false,
    };
    // Only products that exist are cached: a product created later must not be hidden by a
    // cached "not found".
    match products::get_product_detail(&api.pool, &product_id).await {
        Ok(Some(view)) => {
            let page = json_of(&view)?;
            if cached {
                api.cache.keep_product(product_id.as_str(), &page).await;
            }
            Ok(envelope::ok(page))
        }
        Ok(None) => Err(product_not_found()),
        Err(cause) => Err(ApiError::internal(&cause)),
    }
}

/// `GET /products/{id}/skus?Colour=Red&Size=L`: the SKU a choice of options names.
#[utoipa::path(get, path = "/products/{id}/skus", tag = "catalog", operation_id = "findSku",
    summary = "The active SKU with exactly the given options",
    description = "Name one option per group in the query: `?색상=블랙&사이즈=L`.",
    params(("id" = String, Path, description = "The product id", example = "mug-blue")),
    responses(
        (status = 200, description = "The SKU.", body = Success<SkuView>),
        (status = 404, description = "`PRODUCT_NOT_FOUND`: no such product.\n`SKU_NOT_FOUND`: no active SKU has exactly these options."),
    ))]
async fn find_sku(
    State(api): State<CatalogApi>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let product_id = product_id(&id).map_err(|_| product_not_found())?;
    let chosen: std::collections::BTreeMap<String, String> =
        query_pairs(query.as_deref()).into_iter().collect();
    match skus::find_sku(&api.pool, &product_id, &chosen).await {
        Ok(sku) => Ok(envelope::ok(sku)),
        Err(FindSkuError::ProductNotFound) => Err(product_not_found()),
        Err(FindSkuError::SkuNotFound) => Err(ApiError::not_found(
            "SKU_NOT_FOUND",
            "No active SKU of this product has exactly these options; name one option of every group.",
        )),
        Err(FindSkuError::Unexpected(cause)) => Err(ApiError::internal(&cause)),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddOptionsRequest {
    pub group_id: i64,
    pub options: Vec<OptionRequest>,
}

#[utoipa::path(post, path = "/admin/products/{id}/options", tag = "catalog", operation_id = "addProductOptions",
    summary = "Add options to a group; their SKUs are created",
    params(("id" = String, Path, description = "The product id", example = "mug-blue")),
    request_body = AddOptionsRequest,
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 200, description = "The option groups and SKUs.", body = Success<ProductOptions>),
        (status = 400, description = "`VALIDATION_FAILED`: naming each bad field."),
        (status = 404, description = "`PRODUCT_NOT_FOUND`: no such product.\n`OPTION_GROUP_NOT_FOUND`: the product has no such group."),
        (status = 409, description = "`PRODUCT_NOT_ACTIVE`: the product is not active.\n`SKU_EXISTS`: a new SKU id belongs to another product."),
        (status = 422, description = "`INVALID_OPTIONS`: the options break a rule.\n`TOO_MANY_SKUS`: the options make too many SKUs.\n`SKU_PRICE_TOO_HIGH`: a SKU would cost more than the maximum."),
    ))]
async fn add_options(
    State(api): State<CatalogApi>,
    _admin: Admin,
    request: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<AddOptionsRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let product_id = product_id(&id).map_err(|_| product_not_found())?;
    let mut fields = Fields::default();
    let new_options = fields.check("options", options(&body.options));
    let new_options = fields.into_result(new_options)?;
    let changed = skus::add_options(
        &api.pool,
        &product_id,
        body.group_id,
        &new_options,
        &EventContext::of_request(&request),
    )
    .await;
    if changed.is_ok() {
        api.cache.forget_products([product_id.as_str()]).await;
    }
    changed.map(envelope::ok).map_err(options_error)
}

#[utoipa::path(delete, path = "/admin/products/{id}/options/{optionId}", tag = "catalog", operation_id = "removeProductOption",
    summary = "Remove an option; its SKUs are DEACTIVATED for good",
    params(("id" = String, Path, description = "The product id", example = "mug-blue"), ("optionId" = i64, Path, description = "The option id")),
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 200, description = "The option groups and SKUs.", body = Success<ProductOptions>),
        (status = 404, description = "`PRODUCT_NOT_FOUND`: no such product.\n`OPTION_NOT_FOUND`: the product has no live option with this id."),
        (status = 409, description = "`LAST_OPTION`: a group keeps at least one option.\n`PRODUCT_NOT_ACTIVE`: the product is not active."),
    ))]
async fn remove_option(
    State(api): State<CatalogApi>,
    _admin: Admin,
    request: RequestContext,
    Path((id, option_id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let product_id = product_id(&id).map_err(|_| product_not_found())?;
    let option_id: i64 = option_id.parse().map_err(|_| option_not_found())?;
    let changed = skus::remove_option(
        &api.pool,
        &product_id,
        option_id,
        &EventContext::of_request(&request),
    )
    .await;
    if changed.is_ok() {
        api.cache.forget_products([product_id.as_str()]).await;
    }
    changed.map(envelope::ok).map_err(options_error)
}

fn options_error(error: ChangeOptionsError) -> ApiError {
    match error {
        ChangeOptionsError::ProductNotFound => product_not_found(),
        ChangeOptionsError::GroupNotFound => ApiError::not_found(
            "OPTION_GROUP_NOT_FOUND",
            "The product has no option group with this id.",
        ),
        ChangeOptionsError::OptionNotFound => option_not_found(),
        ChangeOptionsError::NotActive => ApiError::conflict(
            "PRODUCT_NOT_ACTIVE",
            "Only an active product's options can change; activate it first.",
        ),
        ChangeOptionsError::LastOption => ApiError::conflict(
            "LAST_OPTION",
            "This is the last option of its group; a group needs one to sell anything.",
        ),
        ChangeOptionsError::Invalid(invalid) => invalid_options(invalid),
        ChangeOptionsError::SkuTaken(sku) => {
            ApiError::conflict("SKU_EXISTS", format!("The SKU {sku} belongs to another product."))
        }
        ChangeOptionsError::Unexpected(cause) => ApiError::internal(&cause),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateBrandRequest {
    pub brand_id: String,
    pub name: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenameBrandRequest {
    pub name: String,
}

#[utoipa::path(post, path = "/admin/brands", tag = "catalog", operation_id = "createBrand",
    summary = "Create a brand",
    request_body = CreateBrandRequest,
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 201, description = "The brand. The id of a deleted brand brings that brand back under the new name.", body = Success<BrandView>),
        (status = 400, description = "`VALIDATION_FAILED`: naming each bad field."),
        (status = 409, description = "`BRAND_EXISTS`: a brand with this id exists (and is not deleted)."),
    ))]
async fn create_brand(
    State(api): State<CatalogApi>,
    _admin: Admin,
    Json(body): Json<CreateBrandRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let mut fields = Fields::default();
    let brand_id = fields.check("brandId", BrandId::parse(&body.brand_id));
    let name = fields.check("name", Text::parse(&body.name, 1, 120));
    let (brand_id, name) = fields.into_result(brand_id.zip(name))?;
    match brands::create_brand(&api.pool, &brand_id, &name).await {
        Ok(brand) => Ok(envelope::created(brand)),
        Err(error) => Err(brand_error(error)),
    }
}

#[utoipa::path(put, path = "/admin/brands/{id}", tag = "catalog", operation_id = "renameBrand",
    summary = "Rename a brand",
    params(("id" = String, Path, description = "The brand id")),
    request_body = RenameBrandRequest,
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 200, description = "The brand.", body = Success<BrandView>),
        (status = 400, description = "`VALIDATION_FAILED`: naming each bad field."),
        (status = 404, description = "`BRAND_NOT_FOUND`: no such brand."),
    ))]
async fn rename_brand(
    State(api): State<CatalogApi>,
    _admin: Admin,
    Path(id): Path<String>,
    Json(body): Json<RenameBrandRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let brand_id = BrandId::parse(&id).map_err(|_| brand_error(BrandError::NotFound))?;
    let mut fields = Fields::default();
    let name = fields.check("name", Text::parse(&body.name, 1, 120));
    let name = fields.into_result(name)?;
    let renamed = brands::rename_brand(&api.pool, &brand_id, &name).await;
    if renamed.is_ok() {
        // Products show only their brand's id, but the brand filter of browse reads brands.
        api.cache.forget_browse().await;
    }
    renamed.map(envelope::ok).map_err(brand_error)
}

#[utoipa::path(delete, path = "/admin/brands/{id}", tag = "catalog", operation_id = "deleteBrand",
    summary = "Delete a brand (its products keep it; no new product takes it)",
    params(("id" = String, Path, description = "The brand id")),
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "`BRAND_NOT_FOUND`: no such brand."),
    ))]
async fn delete_brand(
    State(api): State<CatalogApi>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let brand_id = BrandId::parse(&id).map_err(|_| brand_error(BrandError::NotFound))?;
    let deleted = brands::delete_brand(&api.pool, &brand_id).await;
    if deleted.is_ok() {
        api.cache.forget_browse().await;
    }
    deleted.map(|()| StatusCode::NO_CONTENT).map_err(brand_error)
}

#[utoipa::path(get, path = "/brands", tag = "catalog", operation_id = "listBrands",
    summary = "The brands not deleted",
    responses(
        (status = 200, description = "The brands.", body = Success<Vec<BrandView>>),
    ))]
async fn list_brands(State(api): State<CatalogApi>) -> Result<impl IntoResponse, ApiError> {
    brands::list_brands(&api.pool)
        .await
        .map(envelope::ok)
        .map_err(|cause| ApiError::internal(&cause))
}

#[utoipa::path(get, path = "/brands/{id}", tag = "catalog", operation_id = "getBrand",
    summary = "One brand",
    params(("id" = String, Path, description = "The brand id")),
    responses(
        (status = 200, description = "The brand.", body = Success<BrandView>),
        (status = 404, description = "`BRAND_NOT_FOUND`: no such brand."),
    ))]
async fn get_brand(
    State(api): State<CatalogApi>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    match brands::get_brand(&api.pool, &id).await {
        Ok(Some(brand)) => Ok(envelope::ok(brand)),
        Ok(None) => Err(brand_error(BrandError::NotFound)),
        Err(cause) => Err(ApiError::internal(&cause)),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"orderId": "0f8fad5b-d9cb-469f-a165-70867728950e", "rating": 5, "title": "Keeps tea hot", "content": "Sturdy and the right size."}))]
pub struct WriteReviewRequest {
    pub order_id: String,
    /// Needed only when the order has several SKUs of the product.
    pub sku: Option<String>,
    pub rating: i64,
    pub title: String,
    #[serde(default)]
    pub content: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EditReviewRequest {
    pub rating: i64,
    pub title: String,
    #[serde(default)]
    pub content: String,
}

fn review_text(fields: &mut Fields, rating: i64, title: &str, content: &str) -> Option<ReviewText> {
    let rating = fields.check("rating", Rating::new(rating));
    let title = fields.check("title", Text::parse(title, 1, 200));
    let content = fields.check("content", Text::parse(content, 0, 4000));
    Some(ReviewText {
        rating: rating?,
        title: title?,
        content: content?,
    })
}

#[utoipa::path(post, path = "/products/{id}/reviews", tag = "catalog", operation_id = "writeReview",
    summary = "Review a product bought in a confirmed order",
    params(("id" = String, Path, description = "The product id", example = "mug-blue")),
    request_body = WriteReviewRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "The review.", body = Success<ReviewView>),
        (status = 400, description = "`VALIDATION_FAILED`: naming each bad field."),
        (status = 403, description = "`NOT_A_BUYER`: the caller has no confirmed order line of the product in that order."),
        (status = 404, description = "`PRODUCT_NOT_FOUND`: no such product."),
        (status = 409, description = "`REVIEW_EXISTS`: this order line has a review already."),
        (status = 422, description = "`SKU_REQUIRED`: the order has several SKUs of the product; name one."),
    ))]
async fn write_review(
    State(api): State<CatalogApi>,
    user: AuthenticatedUser,
    Path(id): Path<String>,
    Json(body): Json<WriteReviewRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let product_id = product_id(&id).map_err(|_| product_not_found())?;
    let mut fields = Fields::default();
    let text = review_text(&mut fields, body.rating, &body.title, &body.content);
    let text = fields.into_result(text)?;
    let written = reviews::write_review(
        &api.pool,
        user.user_id,
        &product_id,
        &body.order_id,
        body.sku.as_deref(),
        &text,
    )
    .await
    .map_err(review_error)?;
    // The product's rating and review count changed.
    api.cache.forget_products([product_id.as_str()]).await;
    Ok(envelope::created(written))
}

#[utoipa::path(put, path = "/reviews/{id}", tag = "catalog", operation_id = "editReview",
    summary = "Change one's review",
    params(("id" = String, Path, description = "The review id")),
    request_body = EditReviewRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The review.", body = Success<ReviewView>),
        (status = 400, description = "`VALIDATION_FAILED`: naming each bad field."),
        (status = 403, description = "`NOT_THE_AUTHOR`: only the author may change it."),
        (status = 404, description = "`REVIEW_NOT_FOUND`: no such review."),
    ))]
async fn edit_review(
    State(api): State<CatalogApi>,
    user: AuthenticatedUser,
    Path(id): Path<String>,
    Json(body): Json<EditReviewRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let mut fields = Fields::default();
    let text = review_text(&mut fields, body.rating, &body.title, &body.content);
    let text = fields.into_result(text)?;
    let edited = reviews::edit_review(&api.pool, user.user_id, &id, &text)
        .await
        .map_err(review_error)?;
    api.cache.forget_products([&edited.product_id]).await;
    Ok(envelope::ok(edited))
}

#[utoipa::path(delete, path = "/reviews/{id}", tag = "catalog", operation_id = "deleteReview",
    summary = "Delete one's review",
    params(("id" = String, Path, description = "The review id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 204, description = "Deleted."),
        (status = 403, description = "`NOT_THE_AUTHOR`: only the author may delete it."),
        (status = 404, description = "`REVIEW_NOT_FOUND`: no such review."),
    ))]
async fn delete_review(
    State(api): State<CatalogApi>,
    user: AuthenticatedUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let product_id = reviews::delete_review(&api.pool, user.user_id, &id)
        .await
        .map_err(review_error)?;
    api.cache.forget_products([product_id]).await;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/products/{id}/reviews", tag = "catalog", operation_id = "listReviews",
    summary = "A product's reviews, newest first",
    params(("id" = String, Path, description = "The product id", example = "mug-blue"), ("page" = Option<u32>, Query, description = "From 1 (default 1)", minimum = 1), ("size" = Option<u32>, Query, description = "1–100 (default 20)", minimum = 1, maximum = 100)),
    responses(
        (status = 200, description = "A page of reviews.", body = Success<ReviewPage>),
        (status = 400, description = "`VALIDATION_FAILED`: `page` or `size`."),
        (status = 404, description = "`PRODUCT_NOT_FOUND`: no such product."),
    ))]
async fn list_reviews(
    State(api): State<CatalogApi>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let product_id = product_id(&id).map_err(|_| product_not_found())?;
    let (mut number, mut size) = (1_u32, 20_u32);
    for (name, value) in query_pairs(query.as_deref()) {
        match name.as_str() {
            "page" => number = value.parse().unwrap_or(0),
            "size" => size = value.parse().unwrap_or(0),
            _ => {}
        }
    }
    let mut fields = Fields::default();
    let page = fields.check("page", Page::new(number, size));
    let page = fields.into_result(page)?;
    reviews::list_reviews(&api.pool, &product_id, page)
        .await
        .map(envelope::ok)
        .map_err(review_error)
}

fn review_error(error: ReviewError) -> ApiError {
    match error {
        ReviewError::ProductNotFound => product_not_found(),
        ReviewError::ReviewNotFound => review_not_found(),
        ReviewError::NotABuyer => ApiError::forbidden(
            "NOT_A_BUYER",
            "Only the buyer of a confirmed order of this product may review it (name that order).",
        ),
        ReviewError::SkuRequired => ApiError::unprocessable(
            "SKU_REQUIRED",
            "The order has several SKUs of this product; name the one you review.",
        ),
        ReviewError::AlreadyReviewed => ApiError::conflict(
            "REVIEW_EXISTS",
            "This order line has a review already; edit it instead.",
        ),
        ReviewError::NotTheAuthor => {
            ApiError::forbidden("NOT_THE_AUTHOR", "Only the review's author may change it.")
        }
        ReviewError::Unexpected(cause) => ApiError::internal(&cause),
    }
}

fn review_not_found() -> ApiError {
    ApiError::not_found("REVIEW_NOT_FOUND", "No such review.")
}

async fn set_like(
    api: &CatalogApi,
    user: &AuthenticatedUser,
    target: Likeable<'_>,
    like: bool,
) -> Result<impl IntoResponse + use<>, ApiError> {
    match reviews::set_like(&api.pool, user.user_id, target, like).await {
        Ok(liked) => {
            // A product's likes show on its page and sort browse; a review's show only in the
            // review list, which is not cached.
            if let Likeable::Product(product_id) = target {
                api.cache.forget_products([product_id]).await;
            }
            Ok(envelope::ok(liked))
        }
        Err(LikeError::NotFound) => Err(match target {
            Likeable::Product(_) => product_not_found(),
            Likeable::Review(_) => review_not_found(),
        }),
        Err(LikeError::Unexpected(cause)) => Err(ApiError::internal(&cause)),
    }
}

#[utoipa::path(put, path = "/products/{id}/like", tag = "catalog", operation_id = "likeProduct",
    summary = "Like a product (idempotent)",
    params(("id" = String, Path, description = "The product id", example = "mug-blue")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Whether the caller likes it, and how many do.", body = Success<Liked>),
        (status = 404, description = "`PRODUCT_NOT_FOUND`: no such product."),
    ))]
async fn like_product(
    State(api): State<CatalogApi>,
    user: AuthenticatedUser,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    set_like(&api, &user, Likeable::Product(&id), true).await
}

#[utoipa::path(delete, path = "/products/{id}/like", tag = "catalog", operation_id = "unlikeProduct",
    summary = "Stop liking a product (idempotent)",
    params(("id" = String, Path, description = "The product id", example = "mug-blue")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Whether the caller likes it, and how many do.", body = Success<Liked>),
        (status = 404, description = "`PRODUCT_NOT_FOUND`: no such product."),
    ))]
async fn unlike_product(
    State(api): State<CatalogApi>,
    user: AuthenticatedUser,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    set_like(&api, &user, Likeable::Product(&id), false).await
}

#[utoipa::path(put, path = "/reviews/{id}/like", tag = "catalog", operation_id = "likeReview",
    summary = "Like a review (idempotent)",
    params(("id" = String, Path, description = "The review id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Whether the caller likes it, and how many do.", body = Success<Liked>),
        (status = 404, description = "`REVIEW_NOT_FOUND`: no such review."),
    ))]
async fn like_review(
    State(api): State<CatalogApi>,
    user: AuthenticatedUser,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    set_like(&api, &user, Likeable::Review(&id), true).await
}

#[utoipa::path(delete, path = "/reviews/{id}/like", tag = "catalog", operation_id = "unlikeReview",
    summary = "Stop liking a review (idempotent)",
    params(("id" = String, Path, description = "The review id")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Whether the caller likes it, and how many do.", body = Success<Liked>),
        (status = 404, description = "`REVIEW_NOT_FOUND`: no such review."),
    ))]
async fn unlike_review(
    State(api): State<CatalogApi>,
    user: AuthenticatedUser,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    set_like(&api, &user, Likeable::Review(&id), false).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"name": "Spring sale", "discountType": "RATE", "discountValue": 10, "startsAt": "2026-03-01T00:00:00Z", "endsAt": "2026-03-31T23:59:59Z"}))]
pub struct CreatePromotionRequest {
    pub name: String,
    /// `RATE` (percent off) or `AMOUNT` (minor units off).
    pub discount_type: String,
    pub discount_value: i64,
    #[serde(default)]
    pub priority: i64,
    /// RFC 3339; omitted: now.
    pub starts_at: Option<String>,
    /// RFC 3339; omitted: until ended.
    pub ends_at: Option<String>,
}

fn time(value: &str) -> Result<chrono::DateTime<chrono::Utc>, InvalidInput> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|time| time.with_timezone(&chrono::Utc))
        .map_err(|_| InvalidInput::Time)
}

#[utoipa::path(post, path = "/admin/products/{id}/promotions", tag = "catalog", operation_id = "createPromotion",
    summary = "Start or schedule a promotion of a product",
    params(("id" = String, Path, description = "The product id", example = "mug-blue")),
    request_body = CreatePromotionRequest,
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 201, description = "The promotion.", body = Success<PromotionView>),
        (status = 400, description = "`VALIDATION_FAILED`: naming each bad field."),
        (status = 404, description = "`PRODUCT_NOT_FOUND`: no such product."),
        (status = 422, description = "`DISCOUNT_TOO_LARGE`: an amount off must be less than the base price."),
    ))]
async fn create_promotion(
    State(api): State<CatalogApi>,
    _admin: Admin,
    request: RequestContext,
    Path(id): Path<String>,
    Json(body): Json<CreatePromotionRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let product_id = product_id(&id).map_err(|_| product_not_found())?;
    let mut fields = Fields::default();
    let name = fields.check("name", Text::parse(&body.name, 1, 120));
    let discount = fields.check(
        "discountValue",
        crate::domain::Discount::new(&body.discount_type, body.discount_value),
    );
    let priority = fields.check(
        "priority",
        i32::try_from(body.priority)
            .ok()
            .filter(|priority| (0..=1000).contains(priority))
            .ok_or(InvalidInput::Priority),
    );
    let starts_at = match body.starts_at.as_deref() {
        Some(value) => fields.check("startsAt", time(value)),
        None => Some(chrono::Utc::now()),
    };
    let ends_at = optional(&mut fields, "endsAt", body.ends_at.as_deref(), time);
    if let (Some(start), Some(Some(end))) = (starts_at, ends_at)
        && end <= start
    {
        fields.check::<()>("endsAt", Err(InvalidInput::Window));
    }
    let promotion = fields.into_result(match (name, discount, priority, starts_at, ends_at) {
        (Some(name), Some(discount), Some(priority), Some(starts_at), Some(ends_at)) => Some(NewPromotion {
            name,
            discount,
            priority,
            starts_at,
            ends_at,
        }),
        _ => None,
    })?;
    let created = promotions::create_promotion(
        &api.pool,
        &product_id,
        &promotion,
        &EventContext::of_request(&request),
    )
    .await
    .map_err(promotion_error)?;
    // A promotion open now changed the selling price at once.
    api.cache.forget_products([product_id.as_str()]).await;
    Ok(envelope::created(created))
}

#[utoipa::path(delete, path = "/admin/products/{id}/promotions/{promotionId}", tag = "catalog", operation_id = "endPromotion",
    summary = "End a promotion now",
    params(("id" = String, Path, description = "The product id", example = "mug-blue"), ("promotionId" = i64, Path, description = "The promotion id")),
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 204, description = "Ended."),
        (status = 404, description = "`PRODUCT_NOT_FOUND`: no such product.\n`PROMOTION_NOT_FOUND`: the product has no promotion with this id."),
    ))]
async fn end_promotion(
    State(api): State<CatalogApi>,
    _admin: Admin,
    request: RequestContext,
    Path((id, promotion_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let product_id = product_id(&id).map_err(|_| product_not_found())?;
    let promotion_id: i64 = promotion_id
        .parse()
        .map_err(|_| promotion_error(PromotionError::PromotionNotFound))?;
    promotions::end_promotion(
        &api.pool,
        &product_id,
        promotion_id,
        &EventContext::of_request(&request),
    )
    .await
    .map_err(promotion_error)?;
    api.cache.forget_products([product_id.as_str()]).await;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/products/{id}/promotions", tag = "catalog", operation_id = "listPromotions",
    summary = "A product's promotions running or to come",
    params(("id" = String, Path, description = "The product id", example = "mug-blue")),
    responses(
        (status = 200, description = "The promotions.", body = Success<Vec<PromotionView>>),
        (status = 404, description = "`PRODUCT_NOT_FOUND`: no such product."),
    ))]
async fn list_promotions(
    State(api): State<CatalogApi>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let product_id = product_id(&id).map_err(|_| product_not_found())?;
    promotions::list_promotions(&api.pool, &product_id)
        .await
        .map(envelope::ok)
        .map_err(promotion_error)
}

fn promotion_error(error: PromotionError) -> ApiError {
    match error {
        PromotionError::ProductNotFound => product_not_found(),
        PromotionError::PromotionNotFound => ApiError::not_found(
            "PROMOTION_NOT_FOUND",
            "The product has no promotion with this id.",
        ),
        PromotionError::DiscountTooLarge => ApiError::unprocessable(
            "DISCOUNT_TOO_LARGE",
            "An amount off must be less than the product's base price.",
        ),
        PromotionError::Unexpected(cause) => ApiError::internal(&cause),
    }
}

fn brand_error(error: BrandError) -> ApiError {
    match error {
        BrandError::AlreadyExists => ApiError::conflict("BRAND_EXISTS", "A brand with this id exists."),
        BrandError::NotFound => ApiError::not_found("BRAND_NOT_FOUND", "No such brand."),
        BrandError::Unexpected(cause) => ApiError::internal(&cause),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCategoryRequest {
    pub category_id: String,
    pub name: String,
    pub parent_id: Option<String>,
}

#[utoipa::path(post, path = "/admin/categories", tag = "catalog", operation_id = "createCategory",
    summary = "Create a category (under a parent, or at the root)",
    request_body = CreateCategoryRequest,
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 201, description = "The category.", body = Success<CategoryNode>),
        (status = 400, description = "`VALIDATION_FAILED`: naming each bad field."),
        (status = 409, description = "`CATEGORY_EXISTS`: a category with this id exists."),
        (status = 422, description = "`UNKNOWN_CATEGORY`: the parent does not exist."),
    ))]
async fn create_category(
    State(api): State<CatalogApi>,
    _admin: Admin,
    Json(body): Json<CreateCategoryRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let mut fields = Fields::default();
    let category_id = fields.check("categoryId", CategoryId::parse(&body.category_id));
    let name = fields.check("name", Text::parse(&body.name, 1, 120));
    let parent = match body.parent_id.as_deref() {
        Some(id) => fields.check("parentId", CategoryId::parse(id)).map(Some),
        None => Some(None),
    };
    let (category_id, name, parent) = fields.into_result(match (category_id, name, parent) {
        (Some(category_id), Some(name), Some(parent)) => Some((category_id, name, parent)),
        _ => None,
    })?;
    match products::create_category(&api.pool, &category_id, &name, parent.as_ref()).await {
        Ok(node) => Ok(envelope::created(node)),
        Err(CreateCategoryError::AlreadyExists) => Err(ApiError::conflict(
            "CATEGORY_EXISTS",
            "A category with this id exists.",
        )),
        Err(CreateCategoryError::UnknownParent) => Err(ApiError::unprocessable(
            "UNKNOWN_CATEGORY",
            "The parent category does not exist.",
        )),
        Err(CreateCategoryError::Unexpected(cause)) => Err(ApiError::internal(&cause)),
    }
}

#[utoipa::path(get, path = "/categories", tag = "catalog", operation_id = "listCategories",
    summary = "The category tree",
    responses(
        (status = 200, description = "The root categories with their children.", body = Success<Vec<CategoryNode>>),
    ))]
async fn list_categories(State(api): State<CatalogApi>) -> Result<impl IntoResponse, ApiError> {
    let tree = products::category_tree(&api.pool)
        .await
        .map_err(|cause| ApiError::internal(&cause))?;
    Ok(envelope::ok(tree))
}

fn product_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "PRODUCT_NOT_FOUND", "No such product.")
}

fn option_not_found() -> ApiError {
    ApiError::not_found("OPTION_NOT_FOUND", "The product has no live option with this id.")
}

fn unknown_brand() -> ApiError {
    ApiError::unprocessable("UNKNOWN_BRAND", "The brand does not exist (or was deleted).")
}

/// A rule of options broken by the product as a whole (too many SKUs, a price over the
/// limit), not by one field's syntax.
fn invalid_options(invalid: InvalidInput) -> ApiError {
    let code = match invalid {
        InvalidInput::TooManySkus(_) => "TOO_MANY_SKUS",
        InvalidInput::SkuPrice => "SKU_PRICE_TOO_HIGH",
        _ => "INVALID_OPTIONS",
    };
    ApiError::unprocessable(code, invalid.to_string())
}

fn unknown_category() -> ApiError {
    ApiError::unprocessable("UNKNOWN_CATEGORY", "The category does not exist.")
}

// Category attributes and product values (docs/adr/0042).

pub fn manage_category_attributes_routes(api: CatalogApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    authenticated(
        Router::new()
            .route(
                "/admin/categories/{id}/attributes",
                post(create_category_attribute),
            )
            .route(
                "/admin/categories/{id}/attributes/{attribute_id}",
                put(update_category_attribute).delete(delete_category_attribute),
            ),
        api,
        verifier,
    )
}

pub fn list_category_attributes_routes(api: CatalogApi) -> Router {
    Router::new()
        .route("/categories/{id}/attributes", get(list_category_attributes))
        .with_state(api)
}

pub fn set_product_attributes_routes(api: CatalogApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    authenticated(
        Router::new().route("/admin/products/{id}/attributes", put(set_product_attributes)),
        api,
        verifier,
    )
}

/// [`Fields::check`] for the attribute rules, which have their own error type.
fn check_attribute<T>(fields: &mut Fields, field: &str, parsed: Result<T, InvalidAttribute>) -> Option<T> {
    parsed
        .map_err(|error| {
            fields.0.push(FieldError {
                field: field.to_owned(),
                reason: error.to_string(),
            })
        })
        .ok()
}

/// The browse's `attr.<attributeId>=<value>` parameters as filters; a bad one is a field
/// error of the browse, named by its parameter.
async fn attribute_filters(
    api: &CatalogApi,
    fields: &mut Fields,
    parameters: &[(String, String)],
) -> Result<Vec<AttributeFilter>, ApiError> {
    if parameters.is_empty() {
        return Ok(Vec::new());
    }
    match attributes::attribute_filters(&api.pool, parameters).await {
        Ok(filters) => Ok(filters),
        Err(FilterError::Invalid(problems)) => {
            fields.0.extend(problems.into_iter().map(|problem| FieldError {
                field: problem.parameter,
                reason: problem.reason,
            }));
            Ok(Vec::new())
        }
        Err(FilterError::Unexpected(cause)) => Err(ApiError::internal(&cause)),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateAttributeRequest {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub required: bool,
    /// ENUM only.
    pub options: Option<Vec<String>>,
    /// The original called it `ordering`; omitted, the attribute goes last.
    #[serde(alias = "ordering")]
    pub position: Option<i32>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateAttributeRequest {
    pub name: String,
    /// Accepted so a client may send back what it read, but it must be the attribute's type.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub required: bool,
    pub options: Option<Vec<String>>,
    #[serde(alias = "ordering")]
    pub position: Option<i32>,
}

#[utoipa::path(post, path = "/admin/categories/{id}/attributes", tag = "catalog", operation_id = "createCategoryAttribute",
    summary = "Define an attribute of a category",
    params(("id" = String, Path, description = "The category id")),
    request_body = CreateAttributeRequest,
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 201, description = "The attribute.", body = Success<AttributeView>),
        (status = 400, description = "`VALIDATION_FAILED`: naming each bad field."),
        (status = 404, description = "`CATEGORY_NOT_FOUND`: no such category."),
        (status = 409, description = "`ATTRIBUTE_EXISTS`: an attribute of this name applies already (own, inherited or below)."),
    ))]
async fn create_category_attribute(
    State(api): State<CatalogApi>,
    _admin: Admin,
    Path(id): Path<String>,
    Json(body): Json<CreateAttributeRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let category_id = CategoryId::parse(&id).map_err(|_| category_not_found())?;
    let mut fields = Fields::default();
    let name = check_attribute(&mut fields, "name", rules::attribute_name(&body.name));
    let kind = check_attribute(&mut fields, "type", AttributeType::parse(&body.kind));
    let options = kind.and_then(|kind| {
        check_attribute(
            &mut fields,
            "options",
            rules::attribute_options(kind, body.options.as_deref()),
        )
    });
    let attribute = fields.into_result(match (name, kind, options) {
        (Some(name), Some(kind), Some(options)) => Some(NewAttribute {
            name,
            kind,
            required: body.required,
            options,
            position: body.position,
        }),
        _ => None,
    })?;
    let created = attributes::create_attribute(&api.pool, &category_id, &attribute)
        .await
        .map_err(attribute_error)?;
    // Attribute filters of browse read the category's attributes.
    api.cache.forget_browse().await;
    Ok(envelope::created(created))
}

#[utoipa::path(put, path = "/admin/categories/{id}/attributes/{attributeId}", tag = "catalog", operation_id = "updateCategoryAttribute",
    summary = "Change an attribute (not its type)",
    params(("id" = String, Path, description = "The category id"), ("attributeId" = i64, Path, description = "The attribute id")),
    request_body = UpdateAttributeRequest,
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 200, description = "The attribute.", body = Success<AttributeView>),
        (status = 400, description = "`VALIDATION_FAILED`: naming each bad field (`type` cannot change)."),
        (status = 404, description = "`CATEGORY_NOT_FOUND`: no such category.\n`ATTRIBUTE_NOT_FOUND`: no such attribute."),
        (status = 409, description = "`ATTRIBUTE_EXISTS`: another attribute has this name.\n`ATTRIBUTE_IN_USE`: products have a removed ENUM option as their value."),
    ))]
async fn update_category_attribute(
    State(api): State<CatalogApi>,
    _admin: Admin,
    Path((id, attribute_id)): Path<(String, String)>,
    Json(body): Json<UpdateAttributeRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let category_id = CategoryId::parse(&id).map_err(|_| category_not_found())?;
    let attribute_id: i64 = attribute_id.parse().map_err(|_| attribute_not_found())?;
    let mut fields = Fields::default();
    let name = check_attribute(&mut fields, "name", rules::attribute_name(&body.name));
    let kind = match body.kind.as_deref() {
        Some(kind) => check_attribute(&mut fields, "type", AttributeType::parse(kind)).map(Some),
        None => Some(None),
    };
    let change = fields.into_result(name.zip(kind).map(|(name, kind)| AttributeChange {
        name,
        kind,
        required: body.required,
        options: body.options.clone(),
        position: body.position,
    }))?;
    let updated = attributes::update_attribute(&api.pool, &category_id, attribute_id, &change)
        .await
        .map_err(attribute_error)?;
    api.cache.forget_browse().await;
    Ok(envelope::ok(updated))
}

#[utoipa::path(delete, path = "/admin/categories/{id}/attributes/{attributeId}", tag = "catalog", operation_id = "deleteCategoryAttribute",
    summary = "Delete an attribute and its products' values",
    params(("id" = String, Path, description = "The category id"), ("attributeId" = i64, Path, description = "The attribute id")),
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "`CATEGORY_NOT_FOUND`: no such category.\n`ATTRIBUTE_NOT_FOUND`: no such attribute."),
    ))]
async fn delete_category_attribute(
    State(api): State<CatalogApi>,
    _admin: Admin,
    Path((id, attribute_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let category_id = CategoryId::parse(&id).map_err(|_| category_not_found())?;
    let attribute_id: i64 = attribute_id.parse().map_err(|_| attribute_not_found())?;
    attributes::delete_attribute(&api.pool, &category_id, attribute_id)
        .await
        .map_err(attribute_error)?;
    api.cache.forget_browse().await;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/categories/{id}/attributes", tag = "catalog", operation_id = "listCategoryAttributes",
    summary = "A category's attributes, ancestors' first",
    params(("id" = String, Path, description = "The category id"), ("includeInherited" = Option<bool>, Query, description = "Default true")),
    responses(
        (status = 200, description = "The attributes.", body = Success<Vec<AttributeView>>),
        (status = 400, description = "`VALIDATION_FAILED`: `includeInherited` is not true or false."),
        (status = 404, description = "`CATEGORY_NOT_FOUND`: no such category."),
    ))]
async fn list_category_attributes(
    State(api): State<CatalogApi>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let category_id = CategoryId::parse(&id).map_err(|_| category_not_found())?;
    let mut include_inherited = true;
    for (name, value) in query_pairs(query.as_deref()) {
        if name == "includeInherited" {
            include_inherited = match value.as_str() {
                "true" => true,
                "false" => false,
                _ => {
                    return Err(ApiError::validation(vec![FieldError {
                        field: "includeInherited".to_owned(),
                        reason: "must be true or false".to_owned(),
                    }]));
                }
            };
        }
    }
    attributes::list_attributes(&api.pool, &category_id, include_inherited)
        .await
        .map(envelope::ok)
        .map_err(attribute_error)
}

fn attribute_error(error: AttributeError) -> ApiError {
    match error {
        AttributeError::CategoryNotFound => category_not_found(),
        AttributeError::AttributeNotFound => attribute_not_found(),
        AttributeError::NameTaken => ApiError::conflict(
            "ATTRIBUTE_EXISTS",
            "An attribute of this name applies to this category already (its own, inherited, or one of a sub-category's).",
        ),
        AttributeError::TypeFixed => ApiError::validation(vec![FieldError {
            field: "type".to_owned(),
            reason: "cannot change; delete the attribute and create a new one".to_owned(),
        }]),
        AttributeError::OptionsInUse(options) => ApiError::conflict(
            "ATTRIBUTE_IN_USE",
            format!(
                "Products have these options as their value: {}. Change those products first.",
                options.join(", ")
            ),
        ),
        AttributeError::Invalid(invalid) => ApiError::validation(vec![FieldError {
            field: "options".to_owned(),
            reason: invalid.to_string(),
        }]),
        AttributeError::Unexpected(cause) => ApiError::internal(&cause),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetProductAttributesRequest {
    pub attributes: Vec<AttributeValueRequest>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttributeValueRequest {
    pub attribute_id: i64,
    /// A string, or a JSON number or boolean for a NUMBER or BOOLEAN attribute.
    #[schema(value_type = Object, example = "7.5")]
    pub value: serde_json::Value,
}

#[utoipa::path(put, path = "/admin/products/{id}/attributes", tag = "catalog", operation_id = "setProductAttributes",
    summary = "Replace a product's attribute values",
    params(("id" = String, Path, description = "The product id", example = "mug-blue")),
    request_body = SetProductAttributesRequest,
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 200, description = "The values, normalized.", body = Success<Vec<ProductAttributeView>>),
        (status = 400, description = "`VALIDATION_FAILED`: `attributes[i].value` or `attributes[i].attributeId`."),
        (status = 404, description = "`PRODUCT_NOT_FOUND`: no such product."),
        (status = 422, description = "`MISSING_REQUIRED_ATTRIBUTES`: a required attribute has no value.\n`PRODUCT_HAS_NO_CATEGORY`: the product has no category to take attributes from."),
    ))]
async fn set_product_attributes(
    State(api): State<CatalogApi>,
    _admin: Admin,
    Path(id): Path<String>,
    Json(body): Json<SetProductAttributesRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let product_id = product_id(&id).map_err(|_| product_not_found())?;
    let mut fields = Fields::default();
    let mut given = Vec::with_capacity(body.attributes.len());
    for (index, entry) in body.attributes.iter().enumerate() {
        let value = match &entry.value {
            serde_json::Value::String(text) => text.clone(),
            serde_json::Value::Number(number) => number.to_string(),
            serde_json::Value::Bool(flag) => flag.to_string(),
            _ => {
                fields.0.push(FieldError {
                    field: format!("attributes[{index}].value"),
                    reason: "must be a string, a number or a boolean".to_owned(),
                });
                continue;
            }
        };
        given.push((entry.attribute_id, value));
    }
    let given = fields.into_result(Some(given))?;
    match attributes::set_product_attributes(&api.pool, &product_id, &given).await {
        Ok(values) => {
            // The values decide which attribute filters of browse find the product.
            api.cache.forget_products([product_id.as_str()]).await;
            Ok(envelope::ok(values))
        }
        Err(SetValuesError::ProductNotFound) => Err(product_not_found()),
        Err(SetValuesError::NoCategory) => Err(ApiError::unprocessable(
            "PRODUCT_HAS_NO_CATEGORY",
            "The product has no category, so no attribute applies to it; give it a category first.",
        )),
        Err(SetValuesError::Rejected(ValuesRejected::Invalid(entries))) => Err(ApiError::validation(
            entries
                .into_iter()
                .map(|entry| FieldError {
                    field: format!(
                        "attributes[{}].{}",
                        entry.index,
                        if entry.attribute_field {
                            "attributeId"
                        } else {
                            "value"
                        }
                    ),
                    reason: entry.problem.to_string(),
                })
                .collect(),
        )),
        Err(SetValuesError::Rejected(ValuesRejected::MissingRequired(names))) => {
            let message = format!("Required attributes have no value: {}.", names.join(", "));
            Err(names.into_iter().fold(
                ApiError::unprocessable("MISSING_REQUIRED_ATTRIBUTES", message),
                |error, name| error.with_field("attributes", format!("{name} is required")),
            ))
        }
        Err(SetValuesError::Unexpected(cause)) => Err(ApiError::internal(&cause)),
    }
}

#[utoipa::path(get, path = "/products/{id}/attributes", tag = "catalog", operation_id = "getProductAttributes",
    summary = "A product's attribute values",
    params(("id" = String, Path, description = "The product id", example = "mug-blue")),
    responses(
        (status = 200, description = "The values.", body = Success<Vec<ProductAttributeView>>),
        (status = 404, description = "`PRODUCT_NOT_FOUND`: no such product."),
    ))]
async fn get_product_attributes(
    State(api): State<CatalogApi>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let product_id = product_id(&id).map_err(|_| product_not_found())?;
    match attributes::product_attributes(&api.pool, &product_id).await {
        Ok(Some(values)) => Ok(envelope::ok(values)),
        Ok(None) => Err(product_not_found()),
        Err(cause) => Err(ApiError::internal(&cause)),
    }
}

fn category_not_found() -> ApiError {
    ApiError::not_found("CATEGORY_NOT_FOUND", "No such category.")
}

fn attribute_not_found() -> ApiError {
    ApiError::not_found(
        "ATTRIBUTE_NOT_FOUND",
        "The category has no attribute with this id.",
    )
}
