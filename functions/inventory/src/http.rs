//! The HTTP functions of inventory: `set-stock` (`PUT /admin/inventory/{sku}`) and
//! `adjust-stock` (`POST /admin/inventory/{sku}/adjustments`) for admins, and the public
//! `get-availability` (`GET /inventory/{sku}`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Extension, Router};
use runtime::envelope::{self, ApiError, Json};
use security::{AccessTokenVerifier, Admin};
use serde::Deserialize;
use sqlx::MySqlPool;

use crate::domain::{Sku, StockLevel};
use crate::stock::{self, AdjustStockError, SetStockError};

/// What the inventory HTTP functions share.
#[derive(Debug, Clone)]
pub struct InventoryApi {
    pub pool: MySqlPool,
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

pub fn get_availability_routes(api: InventoryApi) -> Router {
    Router::new()
        .route("/inventory/{sku}", get(get_availability))
        .with_state(api)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetStockRequest {
    pub on_hand: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdjustStockRequest {
    /// Units to add; negative to remove.
    pub delta: i64,
}

async fn set_stock(
    State(api): State<InventoryApi>,
    _admin: Admin,
    Path(sku): Path<String>,
    Json(body): Json<SetStockRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let sku = sku_of(&sku)?;
    let level =
        StockLevel::new(body.on_hand).map_err(|error| ApiError::validation(vec![field("onHand", &error)]))?;
    match stock::set_stock(&api.pool, &sku, level).await {
        Ok(availability) => Ok(envelope::ok(availability)),
        Err(error @ SetStockError::BelowReserved { .. }) => Err(ApiError::conflict(
            "BELOW_RESERVED",
            format!("The stock cannot be set: {error}."),
        )),
        Err(SetStockError::Unexpected(cause)) => Err(ApiError::internal(&cause)),
    }
}

async fn adjust_stock(
    State(api): State<InventoryApi>,
    _admin: Admin,
    Path(sku): Path<String>,
    Json(body): Json<AdjustStockRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let sku = sku_of(&sku)?;
    if body.delta == 0 {
        return Err(ApiError::validation(vec![runtime::envelope::FieldError {
            field: "delta".to_owned(),
            reason: "must not be zero".to_owned(),
        }]));
    }
    match stock::adjust_stock(&api.pool, &sku, body.delta).await {
        Ok(availability) => Ok(envelope::ok(availability)),
        Err(AdjustStockError::UnknownSku) => Err(sku_not_found()),
        Err(AdjustStockError::Refused(_)) => Err(ApiError::conflict(
            "BELOW_RESERVED",
            "The adjustment would take the stock below zero or below what is reserved.",
        )),
        Err(AdjustStockError::Unexpected(cause)) => Err(ApiError::internal(&cause)),
    }
}

async fn get_availability(
    State(api): State<InventoryApi>,
    Path(sku): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let sku = sku_of(&sku)?;
    match stock::availability(&api.pool, &sku).await {
        Ok(Some(availability)) => Ok(envelope::ok(availability)),
        Ok(None) => Err(sku_not_found()),
        Err(cause) => Err(ApiError::internal(&cause)),
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

fn field(name: &str, error: &crate::domain::InvalidInput) -> runtime::envelope::FieldError {
    runtime::envelope::FieldError {
        field: name.to_owned(),
        reason: error.to_string(),
    }
}
