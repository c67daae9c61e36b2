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
use security::{AccessTokenVerifier, Admin, AuthenticatedUser};
use serde::Deserialize;
use sqlx::MySqlPool;
use store::outbox::EventContext;
use telemetry::RequestContext;

use crate::attributes::rules::{self, AttributeType, InvalidAttribute, ValuesRejected};
use crate::attributes::{
    self, AttributeChange, AttributeError, AttributeFilter, FilterError, NewAttribute, SetValuesError,
};
use crate::brands::{self, BrandError};
use crate::cache::CatalogCache;
use crate::domain::{
    BrandId, CategoryId, InvalidInput, OptionGroupSpec, OptionSpec, Page, Price, ProductStatus, Rating, Sort,
    Text, product_id,
};
use crate::products::{
    self, BrowseFilter, ChangePriceError, ChangeStatusError, CreateCategoryError, CreateProductError,
    NewProduct, ProductDetails, UpdateProductError,
};
use crate::promotions::{self, NewPromotion, PromotionError};
use crate::reviews::{self, LikeError, Likeable, ReviewError, ReviewText};
use crate::search::Keywords;
use crate::skus::{self, ChangeOptionsError, FindSkuError};

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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OptionGroupRequest {
    pub name: String,
    pub options: Vec<OptionRequest>,
}

#[derive(Debug, Deserialize)]
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateProductRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub category_id: Option<String>,
    pub brand_id: Option<String>,
}

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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePriceRequest {
    pub price_minor: i64,
    pub currency: String,
}

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

async fn discontinue(
    State(api): State<CatalogApi>,
    _admin: Admin,
    request: RequestContext,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    change_status(&api, &id, ProductStatus::Suspended, &request).await
}

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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeStatusRequest {
    pub status: String,
}

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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddOptionsRequest {
    pub group_id: i64,
    pub options: Vec<OptionRequest>,
}

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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateBrandRequest {
    pub brand_id: String,
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenameBrandRequest {
    pub name: String,
}

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

async fn list_brands(State(api): State<CatalogApi>) -> Result<impl IntoResponse, ApiError> {
    brands::list_brands(&api.pool)
        .await
        .map(envelope::ok)
        .map_err(|cause| ApiError::internal(&cause))
}

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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WriteReviewRequest {
    pub order_id: String,
    /// Needed only when the order has several SKUs of the product.
    pub sku: Option<String>,
    pub rating: i64,
    pub title: String,
    #[serde(default)]
    pub content: String,
}

#[derive(Debug, Deserialize)]
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

async fn like_product(
    State(api): State<CatalogApi>,
    user: AuthenticatedUser,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    set_like(&api, &user, Likeable::Product(&id), true).await
}

async fn unlike_product(
    State(api): State<CatalogApi>,
    user: AuthenticatedUser,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    set_like(&api, &user, Likeable::Product(&id), false).await
}

async fn like_review(
    State(api): State<CatalogApi>,
    user: AuthenticatedUser,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    set_like(&api, &user, Likeable::Review(&id), true).await
}

async fn unlike_review(
    State(api): State<CatalogApi>,
    user: AuthenticatedUser,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    set_like(&api, &user, Likeable::Review(&id), false).await
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePromotionRequest {
    pub name: String,
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCategoryRequest {
    pub category_id: String,
    pub name: String,
    pub parent_id: Option<String>,
}

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

#[derive(Debug, Deserialize)]
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

#[derive(Debug, Deserialize)]
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetProductAttributesRequest {
    pub attributes: Vec<AttributeValueRequest>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttributeValueRequest {
    pub attribute_id: i64,
    /// A string, or a JSON number or boolean for a NUMBER or BOOLEAN attribute.
    pub value: serde_json::Value,
}

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
