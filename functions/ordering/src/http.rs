//! The HTTP functions of ordering: `place-order` (`POST /orders`, with `Idempotency-Key`),
//! `get-order` (`GET /orders/{id}`), `list-orders` (`GET /orders`) and
//! `customer-cancel-order` (`POST /orders/{id}/cancel`). Every route needs a customer's
//! access token and only ever shows or changes that customer's orders.
//!
//! Handlers extract, convert, call and map; the mapping of each use case's errors to the
//! envelope is in one function per use case below.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use chrono::Duration;
use runtime::envelope::{self, ApiError, FieldError, Json};
use runtime::openapi::Success;
use security::{AccessTokenVerifier, AuthenticatedUser};
use serde::{Deserialize, Serialize};
use sqlx::MySqlPool;
use store::outbox::EventContext;
use telemetry::RequestContext;

use crate::customer_status::CustomerRefusal;
use crate::order::{
    IdempotencyKey, InvalidInput, OrderLines, PaymentToken, PlaceOrder, PricingError, Quantity, product_id,
};
use crate::orders::{
    self, CancelOrderError, GetOrderError, OrderSummary, OrderView, PlaceOrderError, Placed,
};

/// What the ordering HTTP functions share.
#[derive(Debug, Clone)]
pub struct OrderingApi {
    pub pool: MySqlPool,
    /// How long a placed order waits for its payment before the expiry sweep cancels it.
    pub payment_timeout: Duration,
}

impl OrderingApi {
    /// `DATABASE_URL` (lazy pool) and `ORDER_PAYMENT_TIMEOUT_MINUTES` (default 15), or
    /// `ORDER_PAYMENT_TIMEOUT_SECONDS` when set (demos and tests of the expiry).
    pub fn from_env() -> anyhow::Result<Self> {
        let minutes: i64 = runtime::config::parsed_or("ORDER_PAYMENT_TIMEOUT_MINUTES", 15)?;
        let seconds: i64 = runtime::config::parsed_or("ORDER_PAYMENT_TIMEOUT_SECONDS", minutes * 60)?;
        if seconds <= 0 {
            anyhow::bail!("the order payment timeout must be positive, not {seconds} s");
        }
        Ok(Self {
            pool: store::mariadb::pool_from_env()?,
            payment_timeout: Duration::seconds(seconds),
        })
    }
}

fn with_auth(router: Router<OrderingApi>, api: OrderingApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    router.with_state(api).layer(Extension(verifier))
}

/// `place-order`.
pub fn place_order_routes(api: OrderingApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    with_auth(Router::new().route("/orders", post(place_order)), api, verifier)
}

/// `get-order`.
pub fn get_order_routes(api: OrderingApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    with_auth(Router::new().route("/orders/{id}", get(get_order)), api, verifier)
}

/// `list-orders`.
pub fn list_orders_routes(api: OrderingApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    with_auth(Router::new().route("/orders", get(list_orders)), api, verifier)
}

/// `customer-cancel-order`.
pub fn cancel_order_routes(api: OrderingApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    with_auth(
        Router::new().route("/orders/{id}/cancel", post(cancel_order)),
        api,
        verifier,
    )
}

/// The body of `POST /orders`. Prices are not part of it: ordering prices every line itself.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"lines": [{"productId": "mug-blue", "quantity": 2}], "paymentToken": "tok_approve"}))]
pub struct PlaceOrderRequest {
    pub lines: Vec<PlaceOrderLine>,
    /// A simulated card: `tok_approve`, `tok_decline`, `tok_timeout` or `tok_flaky`.
    pub payment_token: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlaceOrderLine {
    pub product_id: String,
    pub quantity: i64,
}

const IDEMPOTENCY_KEY: &str = "idempotency-key";

#[utoipa::path(post, path = "/orders", tag = "ordering", operation_id = "placeOrder",
    summary = "Place an order of products",
    description = "Prices every line itself; the order is then `PLACED` and the saga reserves stock and authorizes the payment (follow it with `GET /orders/{id}`).",
    params(("Idempotency-Key" = String, Header, description = "1–128 characters; the same key with the same body answers the first result again (`idempotent-replayed: true`)", example = "4d1c7c2e-checkout-1")), request_body = PlaceOrderRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "The order (a replay: the same order, with `idempotent-replayed: true`).", body = Success<OrderView>),
        (status = 400, description = "`IDEMPOTENCY_KEY_REQUIRED`: no Idempotency-Key header.\n`VALIDATION_FAILED`: naming each bad field."),
        (status = 403, description = "`ACCOUNT_LOCKED`: the account is locked.\n`ACCOUNT_WITHDRAWN`: the account was withdrawn."),
        (status = 503, description = "`SERVICE_BUSY`: too many orders at once; nothing was placed, send the same request again (`Retry-After`)."),
        (status = 422, description = "`UNKNOWN_PRODUCT`: a product is not in the catalog.\n`PRODUCT_NOT_ORDERABLE`: a product is not on sale.\n`MIXED_CURRENCIES`: the lines are priced in different currencies.\n`TOTAL_OUT_OF_RANGE`: the total is too large.\n`IDEMPOTENCY_KEY_REUSED`: the key was used for a different request."),
    ))]
async fn place_order(
    State(api): State<OrderingApi>,
    user: AuthenticatedUser,
    request: RequestContext,
    headers: HeaderMap,
    Json(body): Json<PlaceOrderRequest>,
) -> Result<Response, ApiError> {
    let command = place_order_command(user.user_id, &headers, body)?;
    let context = EventContext::of_request(&request);
    match orders::place_order(&api.pool, &command, api.payment_timeout, &context).await {
        Ok(Placed::New(view)) => Ok(envelope::created(view).into_response()),
        Ok(Placed::Replayed(view)) => {
            Ok(([("idempotent-replayed", "true")], envelope::created(view)).into_response())
        }
        Err(error) => Err(place_order_error(error)),
    }
}

/// Validates the request at the edge, naming every bad field at once.
fn place_order_command(
    user_id: uuid::Uuid,
    headers: &HeaderMap,
    body: PlaceOrderRequest,
) -> Result<PlaceOrder, ApiError> {
    let Some(key) = headers.get(IDEMPOTENCY_KEY) else {
        return Err(ApiError::bad_request(
            "IDEMPOTENCY_KEY_REQUIRED",
            "Placing an order needs an Idempotency-Key header.",
        ));
    };
    let mut fields = Vec::new();
    let mut field = |name: String, error: InvalidInput| {
        fields.push(FieldError {
            field: name,
            reason: error.to_string(),
        });
    };
    let key = key
        .to_str()
        .map_err(|_| InvalidInput::IdempotencyKey)
        .and_then(IdempotencyKey::parse)
        .map_err(|error| field("Idempotency-Key".to_owned(), error))
        .ok();
    let token = PaymentToken::parse(&body.payment_token)
        .map_err(|error| field("paymentToken".to_owned(), error))
        .ok();
    let mut lines = Vec::new();
    for (index, line) in body.lines.iter().enumerate() {
        let product = product_id(&line.product_id)
            .map_err(|error| field(format!("lines[{index}].productId"), error))
            .ok();
        let quantity = Quantity::new(line.quantity)
            .map_err(|error| field(format!("lines[{index}].quantity"), error))
            .ok();
        if let (Some(product), Some(quantity)) = (product, quantity) {
            lines.push((product, quantity));
        }
    }
    let lines = if lines.len() == body.lines.len() {
        OrderLines::new(lines)
            .map_err(|error| field("lines".to_owned(), error))
            .ok()
    } else {
        None
    };
    match (key, token, lines) {
        (Some(idempotency_key), Some(payment_token), Some(lines)) if fields.is_empty() => Ok(PlaceOrder {
            user_id,
            idempotency_key,
            lines,
            payment_token,
        }),
        _ => Err(ApiError::validation(fields)),
    }
}

fn place_order_error(error: PlaceOrderError) -> ApiError {
    match error {
        PlaceOrderError::Pricing(pricing) => {
            let code = match &pricing {
                PricingError::UnknownProduct(_) => "UNKNOWN_PRODUCT",
                PricingError::NotOrderable(_) => "PRODUCT_NOT_ORDERABLE",
                PricingError::MixedCurrencies => "MIXED_CURRENCIES",
                PricingError::TotalOutOfRange => "TOTAL_OUT_OF_RANGE",
            };
            ApiError::unprocessable(code, format!("The order cannot be placed: {pricing}."))
        }
        PlaceOrderError::Customer(CustomerRefusal::Locked) => ApiError::forbidden(
            "ACCOUNT_LOCKED",
            "This account is locked; it cannot place orders.",
        ),
        PlaceOrderError::Customer(CustomerRefusal::Withdrawn) => ApiError::forbidden(
            "ACCOUNT_WITHDRAWN",
            "This account was withdrawn; it cannot place orders.",
        ),
        PlaceOrderError::IdempotencyKeyReused => ApiError::unprocessable(
            "IDEMPOTENCY_KEY_REUSED",
            "This Idempotency-Key was already used for a different order request.",
        ),
        PlaceOrderError::Unexpected(cause) => ApiError::internal(&cause),
    }
}

#[utoipa::path(get, path = "/orders/{id}", tag = "ordering", operation_id = "getOrder",
    summary = "One of the caller's orders, with its lines, history and refunds",
    params(("id" = String, Path, description = "The order id", example = "0f8fad5b-d9cb-469f-a165-70867728950e")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The order.", body = Success<OrderView>),
        (status = 404, description = "`ORDER_NOT_FOUND`: no such order of the caller's."),
    ))]
async fn get_order(
    State(api): State<OrderingApi>,
    user: AuthenticatedUser,
    Path(order_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    match orders::get_order(&api.pool, user.user_id, &order_id).await {
        Ok(view) => Ok(envelope::ok(view)),
        Err(GetOrderError::NotFound) => Err(order_not_found()),
        Err(GetOrderError::Unexpected(cause)) => Err(ApiError::internal(&cause)),
    }
}

/// The most orders one page may hold.
const MAX_PAGE: u32 = 100;

#[utoipa::path(get, path = "/orders", tag = "ordering", operation_id = "listOrders",
    summary = "The caller's orders, newest first",
    params(
        ("limit" = Option<u32>, Query, description = "1–100 (default 20)", minimum = 1, maximum = 100),
        ("offset" = Option<u32>, Query, description = "From 0 (default 0)"),
    ),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "A page of orders.", body = Success<OrderList>),
        (status = 400, description = "`VALIDATION_FAILED`: `limit` or `offset`."),
    ))]
async fn list_orders(
    State(api): State<OrderingApi>,
    user: AuthenticatedUser,
    RawQuery(query): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let (limit, offset) = page(query.as_deref().unwrap_or_default())?;
    let orders = orders::list_orders(&api.pool, user.user_id, limit, offset)
        .await
        .map_err(|cause| ApiError::internal(&cause))?;
    Ok(envelope::ok(OrderList {
        orders,
        limit,
        offset,
    }))
}

/// A page of the caller's orders.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderList {
    pub orders: Vec<OrderSummary>,
    pub limit: u32,
    pub offset: u32,
}

/// `limit` (1–100, default 20) and `offset` (default 0) of a query string.
fn page(query: &str) -> Result<(u32, u32), ApiError> {
    let mut limit = 20;
    let mut offset = 0;
    let mut fields = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "limit" => match value.parse::<u32>() {
                Ok(value) if (1..=MAX_PAGE).contains(&value) => limit = value,
                _ => fields.push(FieldError {
                    field: "limit".to_owned(),
                    reason: format!("must be a whole number from 1 to {MAX_PAGE}"),
                }),
            },
            "offset" => match value.parse::<u32>() {
                Ok(value) => offset = value,
                Err(_) => fields.push(FieldError {
                    field: "offset".to_owned(),
                    reason: "must be a whole number from 0".to_owned(),
                }),
            },
            _ => {}
        }
    }
    if fields.is_empty() {
        Ok((limit, offset))
    } else {
        Err(ApiError::validation(fields))
    }
}

#[utoipa::path(post, path = "/orders/{id}/cancel", tag = "ordering", operation_id = "cancelOrder",
    summary = "Cancel one of the caller's orders before it is confirmed",
    params(("id" = String, Path, description = "The order id", example = "0f8fad5b-d9cb-469f-a165-70867728950e")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The order, cancelled.", body = Success<OrderView>),
        (status = 404, description = "`ORDER_NOT_FOUND`: no such order of the caller's."),
        (status = 409, description = "`ORDER_NOT_CANCELLABLE`: the order is past the point of cancelling."),
    ))]
async fn cancel_order(
    State(api): State<OrderingApi>,
    user: AuthenticatedUser,
    request: RequestContext,
    Path(order_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    match orders::cancel_order(
        &api.pool,
        user.user_id,
        &order_id,
        &EventContext::of_request(&request),
    )
    .await
    {
        Ok(view) => Ok(envelope::ok(view)),
        Err(CancelOrderError::NotFound) => Err(order_not_found()),
        Err(CancelOrderError::NotCancellable(status)) => Err(ApiError::conflict(
            "ORDER_NOT_CANCELLABLE",
            format!("The order is {status} and can no longer be cancelled."),
        )),
        Err(CancelOrderError::Unexpected(cause)) => Err(ApiError::internal(&cause)),
    }
}

fn order_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "ORDER_NOT_FOUND", "No such order.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_defaults_to_twenty_and_refuses_nonsense() {
        assert!(matches!(page(""), Ok((20, 0))));
        assert!(matches!(page("limit=5&offset=10"), Ok((5, 10))));
        for bad in ["limit=0", "limit=101", "limit=x", "offset=-1"] {
            assert!(page(bad).is_err(), "{bad}");
        }
    }
}
