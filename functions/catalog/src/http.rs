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
//! | `browse-products` | `GET /products?category=&sort=&page=&size=` |
//! | `get-product` | `GET /products/{id}` |
//! | `create-category` | `POST /admin/categories` |
//! | `list-categories` | `GET /categories` |

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Extension, Router};
use runtime::envelope::{self, ApiError, FieldError, Json};
use security::{AccessTokenVerifier, Admin};
use serde::Deserialize;
use sqlx::MySqlPool;
use store::outbox::EventContext;
use telemetry::RequestContext;

use crate::domain::{CategoryId, InvalidInput, Page, Price, ProductStatus, Sort, Text, product_id};
use crate::products::{
    self, ChangePriceError, ChangeStatusError, CreateCategoryError, CreateProductError, NewProduct,
    ProductDetails, UpdateProductError,
};

/// What the catalog HTTP functions share.
#[derive(Debug, Clone)]
pub struct CatalogApi {
    pub pool: MySqlPool,
}

impl CatalogApi {
    /// A lazy pool on `DATABASE_URL`.
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            pool: store::mariadb::pool_from_env()?,
        })
    }
}

fn admin(router: Router<CatalogApi>, api: CatalogApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    router.with_state(api).layer(Extension(verifier))
}

pub fn create_product_routes(api: CatalogApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    admin(
        Router::new().route("/admin/products", post(create_product)),
        api,
        verifier,
    )
}

pub fn update_product_routes(api: CatalogApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    admin(
        Router::new().route("/admin/products/{id}", put(update_product)),
        api,
        verifier,
    )
}

pub fn change_price_routes(api: CatalogApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    admin(
        Router::new().route("/admin/products/{id}/price", put(change_price)),
        api,
        verifier,
    )
}

pub fn discontinue_product_routes(api: CatalogApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    admin(
        Router::new().route("/admin/products/{id}/discontinue", post(discontinue)),
        api,
        verifier,
    )
}

pub fn activate_product_routes(api: CatalogApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    admin(
        Router::new().route("/admin/products/{id}/activate", post(activate)),
        api,
        verifier,
    )
}

pub fn create_category_routes(api: CatalogApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    admin(
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
    pub price_minor: i64,
    pub currency: String,
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
    let category_id = body
        .category_id
        .as_deref()
        .map(|id| fields.check("categoryId", CategoryId::parse(id)));
    let price = fields.check("priceMinor", Price::new(body.price_minor, &body.currency));
    let product = fields.into_result(match (product_id, name, description, category_id, price) {
        (Some(product_id), Some(name), Some(description), None, Some(price)) => Some(NewProduct {
            product_id,
            name,
            description,
            category_id: None,
            price,
        }),
        (Some(product_id), Some(name), Some(description), Some(Some(category)), Some(price)) => {
            Some(NewProduct {
                product_id,
                name,
                description,
                category_id: Some(category),
                price,
            })
        }
        _ => None,
    })?;
    match products::create_product(&api.pool, &product, &EventContext::of_request(&request)).await {
        Ok(view) => Ok(envelope::created(view)),
        Err(CreateProductError::AlreadyExists) => Err(ApiError::conflict(
            "PRODUCT_EXISTS",
            "A product with this id exists.",
        )),
        Err(CreateProductError::UnknownCategory) => Err(unknown_category()),
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
    let category_id = match body.category_id.as_deref() {
        Some(id) => fields.check("categoryId", CategoryId::parse(id)).map(Some),
        None => Some(None),
    };
    let details = fields.into_result(match (name, description, category_id) {
        (Some(name), Some(description), Some(category_id)) => Some(ProductDetails {
            name,
            description,
            category_id,
        }),
        _ => None,
    })?;
    match products::update_product(&api.pool, &product_id, &details).await {
        Ok(view) => Ok(envelope::ok(view)),
        Err(UpdateProductError::NotFound) => Err(product_not_found()),
        Err(UpdateProductError::UnknownCategory) => Err(unknown_category()),
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
        Ok(view) => Ok(envelope::ok(view)),
        Err(ChangePriceError::NotFound) => Err(product_not_found()),
        Err(ChangePriceError::Unexpected(cause)) => Err(ApiError::internal(&cause)),
    }
}

async fn discontinue(
    State(api): State<CatalogApi>,
    _admin: Admin,
    request: RequestContext,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    change_status(&api, &id, ProductStatus::Discontinued, &request).await
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
        Ok(view) => Ok(envelope::ok(view)),
        Err(ChangeStatusError::NotFound) => Err(product_not_found()),
        Err(ChangeStatusError::Unexpected(cause)) => Err(ApiError::internal(&cause)),
    }
}

async fn browse(
    State(api): State<CatalogApi>,
    RawQuery(query): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let mut fields = Fields::default();
    let mut category = None;
    let mut sort = Sort::default();
    let (mut number, mut size) = (1_u32, 20_u32);
    for pair in query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "category" => category = fields.check("category", CategoryId::parse(value)),
            "sort" => sort = fields.check("sort", Sort::parse(value)).unwrap_or_default(),
            "page" => number = value.parse().unwrap_or(0),
            "size" => size = value.parse().unwrap_or(0),
            _ => {}
        }
    }
    let page = fields.check("page", Page::new(number, size));
    let page = fields.into_result(page)?;
    let found = products::browse(&api.pool, category.as_ref(), sort, page)
        .await
        .map_err(|cause| ApiError::internal(&cause))?;
    Ok(envelope::ok(found))
}

async fn get_product(
    State(api): State<CatalogApi>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    match products::get_product(&api.pool, &id).await {
        Ok(Some(view)) => Ok(envelope::ok(view)),
        Ok(None) => Err(product_not_found()),
        Err(cause) => Err(ApiError::internal(&cause)),
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

fn unknown_category() -> ApiError {
    ApiError::unprocessable("UNKNOWN_CATEGORY", "The category does not exist.")
}
