//! The HTTP functions of inventory.
//!
//! | function | route | who |
//! |---|---|---|
//! | `set-stock` | `PUT /admin/inventory/{sku}` | admin |
//! | `adjust-stock` | `POST /admin/inventory/{sku}/adjustments` | admin |
//! | `list-stock-changes` | `GET /admin/inventory/{sku}/changes?from=&to=&page=&size=` | admin |
//! | `get-availability` | `GET /inventory/{sku}`, `POST /inventory/availability` | anyone |

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Extension, Router};
use chrono::{DateTime, Utc};
use runtime::envelope::{self, ApiError, FieldError, Json};
use runtime::openapi::Success;
use security::{AccessTokenVerifier, Admin};
use serde::Deserialize;
use sqlx::MySqlPool;
use store::outbox::EventContext;
use telemetry::RequestContext;

use crate::cache::StockCache;
use crate::changes::{self, Period, StockChangePage};
use crate::domain::{Page, Sku, SkuList, SkuListProblem, StockLevel};
use crate::stock::{self, AdjustStockError, Availability, BulkAvailability, SetStockError};

/// What the inventory HTTP functions share.
#[derive(Debug, Clone)]
pub struct InventoryApi {
    pub pool: MySqlPool,
    /// What is available of each SKU; reads fill it, stock changes forget it.
    pub cache: StockCache,
}

impl InventoryApi {
    /// On `pool`, without a cache.
    pub fn new(pool: MySqlPool) -> Self {
        Self {
            pool,
            cache: StockCache::off(),
        }
    }

    /// The same, with `cache`.
    pub fn with_cache(self, cache: StockCache) -> Self {
        Self { cache, ..self }
    }

    /// A lazy pool on `DATABASE_URL`, and the cache on `REDIS_URL` when it is set.
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            pool: store::mariadb::pool_from_env()?,
            cache: StockCache::from_env()?,
        })
    }
}

pub fn set_stock_routes(api: InventoryApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    Router::new()
        .route("/admin/inventory/{sku}", put(set_stock))
        .with_state(api)
        .layer(Extension(verifier))
}

pub fn adjust_stock_routes(api: InventoryApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    Router::new()
        .route("/admin/inventory/{sku}/adjustments", post(adjust_stock))
        .with_state(api)
        .layer(Extension(verifier))
}

pub fn list_stock_changes_routes(api: InventoryApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    Router::new()
        .route("/admin/inventory/{sku}/changes", get(list_stock_changes))
        .with_state(api)
        .layer(Extension(verifier))
}

/// One SKU by path, or many in one request for a cart.
pub fn get_availability_routes(api: InventoryApi) -> Router {
    Router::new()
        .route("/inventory/{sku}", get(get_availability))
        // The bulk route's fixed path wins over `{sku}` for every method, so a SKU that is
        // really called `availability` is answered here, or a GET of it would be refused.
        .route(
            "/inventory/availability",
            post(get_bulk_availability).get(get_availability_of_the_sku_named_availability),
        )
        .with_state(api)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"onHand": 40}))]
pub struct SetStockRequest {
    /// Units on hand, 0 to 1,000,000,000; not below what is reserved.
    pub on_hand: i64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"delta": -2}))]
pub struct AdjustStockRequest {
    /// Units to add; negative to remove.
    pub delta: i64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"skus": ["mug-blue", "mug-red"]}))]
pub struct BulkAvailabilityRequest {
    /// 1–100 distinct SKU ids. Kept as raw JSON, so an entry that is not even a string is
    /// named in the field errors like any other bad id instead of failing the whole body.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub skus: Vec<serde_json::Value>,
}

#[utoipa::path(put, path = "/admin/inventory/{sku}", tag = "inventory", operation_id = "setStock",
    summary = "Set a SKU's stock on hand",
    params(("sku" = String, Path, description = "The SKU id: 1–64 letters, digits, `-`, `_`, `.`", example = "mug-blue")), request_body = SetStockRequest,
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 200, description = "The SKU's stock now.", body = Success<Availability>),
        (status = 400, description = "`VALIDATION_FAILED`: `onHand` out of range."),
        (status = 404, description = "`SKU_NOT_FOUND`: the SKU id is not a valid id."),
        (status = 409, description = "`BELOW_RESERVED`: live reservations hold more than `onHand`."),
    ))]
async fn set_stock(
    State(api): State<InventoryApi>,
    _admin: Admin,
    request: RequestContext,
    Path(sku): Path<String>,
    Json(body): Json<SetStockRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let sku = sku_of(&sku)?;
    let level =
        StockLevel::new(body.on_hand).map_err(|error| ApiError::validation(vec![field("onHand", &error)]))?;
    match stock::set_stock(&api.pool, &sku, level, &EventContext::of_request(&request)).await {
        Ok(availability) => {
            api.cache.forget([sku.as_str()]).await;
            Ok(envelope::ok(availability))
        }
        Err(error @ SetStockError::BelowReserved { .. }) => Err(ApiError::conflict(
            "BELOW_RESERVED",
            format!("The stock cannot be set: {error}."),
        )),
        Err(SetStockError::Unexpected(cause)) => Err(ApiError::internal(&cause)),
    }
}

#[utoipa::path(post, path = "/admin/inventory/{sku}/adjustments", tag = "inventory",
    operation_id = "adjustStock", summary = "Add or remove units of a SKU",
    params(("sku" = String, Path, description = "The SKU id: 1–64 letters, digits, `-`, `_`, `.`", example = "mug-blue")), request_body = AdjustStockRequest,
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 200, description = "The SKU's stock now.", body = Success<Availability>),
        (status = 400, description = "`VALIDATION_FAILED`: `delta` is zero."),
        (status = 404, description = "`SKU_NOT_FOUND`: inventory does not know the SKU."),
        (status = 409, description = "`BELOW_RESERVED`: the stock would fall below zero or below what is reserved."),
    ))]
async fn adjust_stock(
    State(api): State<InventoryApi>,
    _admin: Admin,
    request: RequestContext,
    Path(sku): Path<String>,
    Json(body): Json<AdjustStockRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let sku = sku_of(&sku)?;
    if body.delta == 0 {
        return Err(ApiError::validation(vec![FieldError {
            field: "delta".to_owned(),
            reason: "must not be zero".to_owned(),
        }]));
    }
    match stock::adjust_stock(&api.pool, &sku, body.delta, &EventContext::of_request(&request)).await {
        Ok(availability) => {
            api.cache.forget([sku.as_str()]).await;
            Ok(envelope::ok(availability))
        }
        Err(AdjustStockError::UnknownSku) => Err(sku_not_found()),
        Err(AdjustStockError::Refused(_)) => Err(ApiError::conflict(
            "BELOW_RESERVED",
            "The adjustment would take the stock below zero or below what is reserved.",
        )),
        Err(AdjustStockError::Unexpected(cause)) => Err(ApiError::internal(&cause)),
    }
}

#[utoipa::path(get, path = "/inventory/{sku}", tag = "inventory", operation_id = "getAvailability",
    summary = "What is available of a SKU",
    params(("sku" = String, Path, description = "The SKU id: 1–64 letters, digits, `-`, `_`, `.`", example = "mug-blue")),
    responses(
        (status = 200, description = "The SKU's stock.", body = Success<Availability>),
        (status = 404, description = "`SKU_NOT_FOUND`: inventory does not know the SKU."),
    ))]
async fn get_availability(
    State(api): State<InventoryApi>,
    Path(sku): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let sku = sku_of(&sku)?;
    match api.cache.availability(&api.pool, &sku).await {
        Ok(Some(availability)) => Ok(envelope::ok(availability)),
        Ok(None) => Err(sku_not_found()),
        Err(cause) => Err(ApiError::internal(&cause)),
    }
}

async fn get_availability_of_the_sku_named_availability(
    state: State<InventoryApi>,
) -> Result<impl IntoResponse, ApiError> {
    get_availability(state, Path("availability".to_owned())).await
}

#[utoipa::path(post, path = "/inventory/availability", tag = "inventory",
    operation_id = "getBulkAvailability", summary = "What is available of several SKUs",
    request_body = BulkAvailabilityRequest,
    responses(
        (status = 200, description = "The known SKUs in the order asked, and the unknown ones.",
            body = Success<BulkAvailability>),
        (status = 400, description = "`VALIDATION_FAILED`: naming `skus` (empty, over 100) or `skus[i]` (invalid, repeated)."),
    ))]
async fn get_bulk_availability(
    State(api): State<InventoryApi>,
    Json(body): Json<BulkAvailabilityRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let texts: Vec<Option<&str>> = body.skus.iter().map(serde_json::Value::as_str).collect();
    let skus = SkuList::parse(&texts)
        .map_err(|problems| ApiError::validation(problems.iter().map(sku_list_field).collect()))?;
    match api.cache.availability_of(&api.pool, &skus).await {
        Ok(found) => Ok(envelope::ok(found)),
        Err(cause) => Err(ApiError::internal(&cause)),
    }
}

/// A problem of the SKU list as a field error: the list itself, or the entry at fault.
fn sku_list_field(problem: &SkuListProblem) -> FieldError {
    let field = match problem {
        SkuListProblem::Empty | SkuListProblem::TooMany(_) => "skus".to_owned(),
        SkuListProblem::Invalid { index } | SkuListProblem::Repeated { index, .. } => {
            format!("skus[{index}]")
        }
    };
    FieldError {
        field,
        reason: problem.to_string(),
    }
}

#[utoipa::path(get, path = "/admin/inventory/{sku}/changes", tag = "inventory",
    operation_id = "listStockChanges", summary = "A SKU's stock change log, newest first",
    params(
        ("sku" = String, Path, description = "The SKU id: 1–64 letters, digits, `-`, `_`, `.`", example = "mug-blue"),
        ("from" = Option<chrono::DateTime<chrono::Utc>>, Query, description = "RFC 3339; changes at or after it"),
        ("to" = Option<chrono::DateTime<chrono::Utc>>, Query, description = "RFC 3339; changes before it"),
        ("page" = Option<u32>, Query, description = "From 1 (default 1)", minimum = 1),
        ("size" = Option<u32>, Query, description = "1–100 (default 20)", minimum = 1, maximum = 100),
    ),
    security(("bearerAuth" = ["admin"])),
    responses(
        (status = 200, description = "A page of changes.", body = Success<StockChangePage>),
        (status = 400, description = "`VALIDATION_FAILED`: `from`, `to`, `page` or `size`."),
        (status = 404, description = "`SKU_NOT_FOUND`: inventory does not know the SKU."),
    ))]
async fn list_stock_changes(
    State(api): State<InventoryApi>,
    _admin: Admin,
    Path(sku): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let sku = sku_of(&sku)?;
    let (period, page) = change_filter(query.as_deref().unwrap_or_default())?;
    match changes::list(&api.pool, &sku, period, page).await {
        Ok(Some(found)) => Ok(envelope::ok(found)),
        Ok(None) => Err(sku_not_found()),
        Err(cause) => Err(ApiError::internal(&cause)),
    }
}

/// The period and page of a change-log query: `from` and `to` (RFC 3339, optional; `from`
/// included, `to` not), `page` (from 1) and `size` (1–100, default 20).
fn change_filter(query: &str) -> Result<(Period, Page), ApiError> {
    let mut fields = Vec::new();
    let mut period = Period::default();
    let (mut number, mut size) = (1_u32, Page::DEFAULT_SIZE);
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "from" => period.from = instant(&value, "from", &mut fields),
            "to" => period.to = instant(&value, "to", &mut fields),
            // Not a number is out of range too; `Page::new` names the field.
            "page" => number = value.parse().unwrap_or(0),
            "size" => size = value.parse().unwrap_or(0),
            _ => {}
        }
    }
    if let (Some(from), Some(to)) = (period.from, period.to)
        && to < from
    {
        fields.push(FieldError {
            field: "to".to_owned(),
            reason: "must not be before from".to_owned(),
        });
    }
    let page = Page::new(number, size);
    if let Err(error) = &page {
        let field = match error {
            crate::domain::InvalidPage::Number => "page",
            crate::domain::InvalidPage::Size => "size",
        };
        fields.push(FieldError {
            field: field.to_owned(),
            reason: error.to_string(),
        });
    }
    match page {
        Ok(page) if fields.is_empty() => Ok((period, page)),
        _ => Err(ApiError::validation(fields)),
    }
}

/// An RFC 3339 time of a query string, or a field error. A `+` of an offset that the client
/// did not percent-encode arrives as a space; when the time does not read as it came, its last
/// space is read back as the `+` it must have been.
fn instant(value: &str, field: &str, fields: &mut Vec<FieldError>) -> Option<DateTime<Utc>> {
    let parsed = DateTime::parse_from_rfc3339(value).or_else(|error| match value.rsplit_once(' ') {
        Some((time, offset)) => DateTime::parse_from_rfc3339(&format!("{time}+{offset}")),
        None => Err(error),
    });
    match parsed {
        Ok(time) => Some(time.with_timezone(&Utc)),
        Err(_) => {
            fields.push(FieldError {
                field: field.to_owned(),
                reason: "must be an RFC 3339 time, e.g. 2026-01-31T09:00:00Z".to_owned(),
            });
            None
        }
    }
}

/// A malformed SKU in a path cannot name a stock item: answered like an unknown one.
fn sku_of(value: &str) -> Result<Sku, ApiError> {
    Sku::parse(value).map_err(|_| sku_not_found())
}

fn sku_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "SKU_NOT_FOUND",
        "Inventory does not know this SKU.",
    )
}

fn field(name: &str, error: &crate::domain::InvalidInput) -> FieldError {
    FieldError {
        field: name.to_owned(),
        reason: error.to_string(),
    }
}
