//! The HTTP functions of the shopping flow, for authenticated customers (the customer is the
//! token's subject, so a cart or an address is only ever its owner's):
//!
//! | function | routes |
//! |---|---|
//! | `manage-cart` | `GET /cart`, `DELETE /cart`, `POST /cart/items` (Idempotency-Key), `PATCH /cart/items/{sku}`, `DELETE /cart/items/{sku}` |
//! | `place-order` | also `POST /cart/checkout` (Idempotency-Key), beside `POST /orders` |
//! | `manage-addresses` | `GET /users/me/addresses`, `POST /users/me/addresses`, `DELETE /users/me/addresses/{id}`, `PUT /users/me/addresses/{id}/default` |
//!
//! Handlers extract, convert, call and map; each use case's errors map to the envelope in one
//! function below.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put};
use axum::{Extension, Router};
use chrono::Duration;
use runtime::envelope::{self, ApiError, FieldError, Json};
use runtime::openapi::Success;
use security::{AccessTokenVerifier, AuthenticatedUser};
use serde::Deserialize;
use sqlx::MySqlPool;
use store::outbox::EventContext;
use telemetry::RequestContext;
use uuid::Uuid;

use crate::addresses::{self, AddressError, AddressView};
use crate::availability::StockAvailability;
use crate::cart::{self, AddToCart, Added, CartError, CartView};
use crate::customer_status::CustomerRefusal;
use crate::order::{IdempotencyKey, InvalidInput, PaymentToken, PricingError, Quantity, product_id};
use crate::orders::{Checkout, CheckoutError, OrderView, PlaceOrderError, Placed, checkout};
use crate::shopping::{Address, AddressInput, CartLimit, ShippingRule};

/// What the shopping functions share.
#[derive(Debug, Clone)]
pub struct ShopApi {
    pub pool: MySqlPool,
    pub shipping: ShippingRule,
    /// How long a placed order waits for its payment (as `OrderingApi`).
    pub payment_timeout: Duration,
    pub inventory: Arc<dyn StockAvailability>,
}

impl ShopApi {
    /// `DATABASE_URL`, the shipping rule (`SHIPPING_FEE_MINOR`, `FREE_SHIPPING_FROM_MINOR`), the
    /// payment timeout as `OrderingApi` reads it, and inventory (`INVENTORY_URL`,
    /// `INVENTORY_TIMEOUT_MS`).
    pub fn from_env() -> anyhow::Result<Self> {
        let ordering = crate::http::OrderingApi::from_env()?;
        Ok(Self {
            pool: ordering.pool,
            shipping: ShippingRule::from_env()?,
            payment_timeout: ordering.payment_timeout,
            inventory: crate::availability::from_env()?,
        })
    }
}

impl ShopApi {
    /// What `POST /cart/checkout` needs beside `place-order`'s own settings: the same pool
    /// (one pool per function) and the shipping rule; checkout never asks inventory.
    pub fn for_checkout(ordering: &crate::http::OrderingApi) -> anyhow::Result<Self> {
        Ok(Self {
            pool: ordering.pool.clone(),
            shipping: ShippingRule::from_env()?,
            payment_timeout: ordering.payment_timeout,
            inventory: Arc::new(crate::availability::NoInventory),
        })
    }
}

fn with_auth(router: Router<ShopApi>, api: ShopApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    router.with_state(api).layer(Extension(verifier))
}

/// `manage-cart`.
pub fn cart_routes(api: ShopApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    with_auth(
        Router::new()
            .route("/cart", get(get_cart).delete(clear_cart))
            .route("/cart/items", post(add_item))
            .route("/cart/items/{sku}", patch(set_quantity).delete(remove_item)),
        api,
        verifier,
    )
}

/// `POST /cart/checkout`, served by `place-order`.
pub fn checkout_routes(api: ShopApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    with_auth(
        Router::new().route("/cart/checkout", post(checkout_cart)),
        api,
        verifier,
    )
}

/// `manage-addresses`.
pub fn address_routes(api: ShopApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    with_auth(
        Router::new()
            .route("/users/me/addresses", get(list_addresses).post(add_address))
            .route("/users/me/addresses/{id}", delete(delete_address))
            .route("/users/me/addresses/{id}/default", put(set_default_address)),
        api,
        verifier,
    )
}

const IDEMPOTENCY_KEY: &str = "idempotency-key";

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"sku": "mug-blue", "quantity": 1}))]
pub struct AddItemRequest {
    pub sku: String,
    pub quantity: i64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetQuantityRequest {
    pub quantity: i64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"addressId": "5b0d7f3a-9c11-4f6c-8d3b-2a1e4c7a9e21", "paymentToken": "tok_approve", "expectedTotalMinor": 31000}))]
pub struct CheckoutRequest {
    pub address_id: String,
    /// A simulated card: `tok_approve`, `tok_decline`, `tok_timeout` or `tok_flaky`.
    pub payment_token: String,
    /// The cart's `totalMinor` as the caller was shown it.
    pub expected_total_minor: i64,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"recipient": "Kim Minji", "phone": "010-1234-5678", "line1": "12 Teheran-ro", "city": "Seoul", "postalCode": "06236", "country": "KR"}))]
pub struct AddressRequest {
    pub recipient: String,
    pub phone: String,
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

async fn cart_view(api: &ShopApi, user_id: Uuid) -> Result<CartView, ApiError> {
    cart::get_cart(&api.pool, user_id, &api.shipping, api.inventory.as_ref())
        .await
        .map_err(|cause| ApiError::internal(&cause))
}

#[utoipa::path(get, path = "/cart", tag = "cart", operation_id = "getCart",
    summary = "The caller's cart, priced now, with availability",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "The cart.", body = Success<CartView>)))]
async fn get_cart(
    State(api): State<ShopApi>,
    user: AuthenticatedUser,
) -> Result<impl IntoResponse, ApiError> {
    Ok(envelope::ok(cart_view(&api, user.user_id).await?))
}

#[utoipa::path(post, path = "/cart/items", tag = "cart", operation_id = "addCartItem",
    summary = "Add units of a SKU to the cart",
    params(("Idempotency-Key" = String, Header, description = "1–128 characters; the same key with the same body answers the first result again (`idempotent-replayed: true`)", example = "4d1c7c2e-checkout-1")), request_body = AddItemRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "The cart (a replay changes nothing: `idempotent-replayed: true`).", body = Success<CartView>),
        (status = 400, description = "`IDEMPOTENCY_KEY_REQUIRED`: no Idempotency-Key header.\n`VALIDATION_FAILED`: `sku`, or `quantity` not 1–1000."),
        (status = 422, description = "`UNKNOWN_PRODUCT`: the SKU is not in the catalog.\n`PRODUCT_NOT_ORDERABLE`: the SKU is not on sale.\n`MIXED_CURRENCIES`: the SKU is priced in another currency than the cart.\n`TOTAL_OUT_OF_RANGE`: the cart would cost too much.\n`CART_FULL`: the cart has 50 lines.\n`QUANTITY_LIMIT`: over 1000 units on a line.\n`IDEMPOTENCY_KEY_REUSED`: the key was used for a different add."),
    ))]
async fn add_item(
    State(api): State<ShopApi>,
    user: AuthenticatedUser,
    headers: HeaderMap,
    Json(body): Json<AddItemRequest>,
) -> Result<Response, ApiError> {
    let idempotency_key = idempotency_key(&headers, "Adding to the cart")?;
    let mut fields = Vec::new();
    let sku = product_id(&body.sku)
        .map_err(|error| fields.push(field("sku", &error)))
        .ok();
    let quantity = Quantity::new(body.quantity)
        .map_err(|error| fields.push(field("quantity", &error)))
        .ok();
    let (Some(product_id), Some(quantity)) = (sku, quantity) else {
        return Err(ApiError::validation(fields));
    };
    let add = AddToCart {
        user_id: user.user_id,
        idempotency_key,
        product_id,
        quantity,
    };
    let added = cart::add_item(&api.pool, &add).await.map_err(cart_error)?;
    let view = cart_view(&api, user.user_id).await?;
    Ok(match added {
        Added::New => envelope::created(view).into_response(),
        Added::Replayed => ([("idempotent-replayed", "true")], envelope::created(view)).into_response(),
    })
}

#[utoipa::path(patch, path = "/cart/items/{sku}", tag = "cart", operation_id = "setCartItemQuantity",
    summary = "Change the units of a cart line",
    params(("sku" = String, Path, description = "The SKU of the cart line", example = "mug-blue")), request_body = SetQuantityRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The cart.", body = Success<CartView>),
        (status = 400, description = "`VALIDATION_FAILED`: `quantity`."),
        (status = 404, description = "`CART_LINE_NOT_FOUND`: the cart has no line for this SKU."),
        (status = 422, description = "`QUANTITY_LIMIT`: over 1000 units on a line."),
    ))]
async fn set_quantity(
    State(api): State<ShopApi>,
    user: AuthenticatedUser,
    Path(sku): Path<String>,
    Json(body): Json<SetQuantityRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let product_id = product_id(&sku).map_err(|_| line_not_found())?;
    let quantity = Quantity::new(body.quantity)
        .map_err(|error| ApiError::validation(vec![field("quantity", &error)]))?;
    cart::set_quantity(&api.pool, user.user_id, &product_id, quantity)
        .await
        .map_err(cart_error)?;
    Ok(envelope::ok(cart_view(&api, user.user_id).await?))
}

#[utoipa::path(delete, path = "/cart/items/{sku}", tag = "cart", operation_id = "removeCartItem",
    summary = "Remove a line from the cart",
    params(("sku" = String, Path, description = "The SKU of the cart line", example = "mug-blue")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The cart.", body = Success<CartView>),
        (status = 404, description = "`CART_LINE_NOT_FOUND`: the cart has no line for this SKU."),
    ))]
async fn remove_item(
    State(api): State<ShopApi>,
    user: AuthenticatedUser,
    Path(sku): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let product_id = product_id(&sku).map_err(|_| line_not_found())?;
    cart::remove_item(&api.pool, user.user_id, &product_id)
        .await
        .map_err(cart_error)?;
    Ok(envelope::ok(cart_view(&api, user.user_id).await?))
}

#[utoipa::path(delete, path = "/cart", tag = "cart", operation_id = "clearCart",
    summary = "Empty the cart",
    security(("bearerAuth" = [])),
    responses((status = 204, description = "The cart is empty.")))]
async fn clear_cart(
    State(api): State<ShopApi>,
    user: AuthenticatedUser,
) -> Result<impl IntoResponse, ApiError> {
    let mut connection = api
        .pool
        .acquire()
        .await
        .map_err(|cause| ApiError::internal(&cause.into()))?;
    cart::clear(&mut connection, user.user_id)
        .await
        .map_err(|cause| ApiError::internal(&cause.into()))?;
    Ok(StatusCode::NO_CONTENT)
}

fn cart_error(error: CartError) -> ApiError {
    match error {
        CartError::Pricing(pricing) => pricing_error(&pricing, "The SKU cannot be added"),
        CartError::Limit(limit) => {
            let code = match limit {
                CartLimit::TooManyLines => "CART_FULL",
                CartLimit::QuantityTooLarge => "QUANTITY_LIMIT",
            };
            ApiError::unprocessable(code, format!("The cart cannot take this: {limit}."))
        }
        CartError::LineNotFound => line_not_found(),
        CartError::IdempotencyKeyReused => ApiError::unprocessable(
            "IDEMPOTENCY_KEY_REUSED",
            "This Idempotency-Key was already used for a different add.",
        ),
        CartError::Unexpected(cause) => ApiError::internal(&cause),
    }
}

fn line_not_found() -> ApiError {
    ApiError::not_found("CART_LINE_NOT_FOUND", "The cart has no line for this SKU.")
}

fn pricing_error(pricing: &PricingError, what: &str) -> ApiError {
    let code = match pricing {
        PricingError::UnknownProduct(_) => "UNKNOWN_PRODUCT",
        PricingError::NotOrderable(_) => "PRODUCT_NOT_ORDERABLE",
        PricingError::MixedCurrencies => "MIXED_CURRENCIES",
        PricingError::TotalOutOfRange => "TOTAL_OUT_OF_RANGE",
    };
    ApiError::unprocessable(code, format!("{what}: {pricing}."))
}

#[utoipa::path(post, path = "/cart/checkout", tag = "cart", operation_id = "checkoutCart",
    summary = "Place an order of the cart",
    description = "The cart is emptied once the order is placed; the same key and body answer the same order.",
    params(("Idempotency-Key" = String, Header, description = "1–128 characters; the same key with the same body answers the first result again (`idempotent-replayed: true`)", example = "4d1c7c2e-checkout-1")), request_body = CheckoutRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "The order.", body = Success<OrderView>),
        (status = 400, description = "`IDEMPOTENCY_KEY_REQUIRED`: no Idempotency-Key header.\n`VALIDATION_FAILED`: naming each bad field."),
        (status = 403, description = "`ACCOUNT_LOCKED`: the account is locked.\n`ACCOUNT_WITHDRAWN`: the account was withdrawn."),
        (status = 503, description = "`SERVICE_BUSY`: too many orders at once; nothing was placed, send the same request again (`Retry-After`)."),
        (status = 404, description = "`ADDRESS_NOT_FOUND`: no such address of the caller's."),
        (status = 409, description = "`PRICE_CHANGED`: the cart costs something else now; nothing was placed, the cart is kept, and `fieldErrors` give the new total and unit prices."),
        (status = 422, description = "`CART_EMPTY`: nothing to order.\n`UNKNOWN_PRODUCT`: a line is no longer in the catalog.\n`PRODUCT_NOT_ORDERABLE`: a line is no longer on sale; remove it.\n`MIXED_CURRENCIES`: the lines are priced in different currencies.\n`TOTAL_OUT_OF_RANGE`: the total is too large.\n`IDEMPOTENCY_KEY_REUSED`: the key was used for a different request."),
    ))]
async fn checkout_cart(
    State(api): State<ShopApi>,
    user: AuthenticatedUser,
    request: RequestContext,
    headers: HeaderMap,
    Json(body): Json<CheckoutRequest>,
) -> Result<Response, ApiError> {
    let idempotency_key = idempotency_key(&headers, "Checking out")?;
    let mut fields = Vec::new();
    let token = PaymentToken::parse(&body.payment_token)
        .map_err(|error| fields.push(field("paymentToken", &error)))
        .ok();
    if body.address_id.is_empty() || body.address_id.len() > 36 {
        fields.push(FieldError {
            field: "addressId".to_owned(),
            reason: "must be the id of one of your addresses".to_owned(),
        });
    }
    if body.expected_total_minor <= 0 {
        fields.push(FieldError {
            field: "expectedTotalMinor".to_owned(),
            reason: "must be the positive totalMinor the cart showed".to_owned(),
        });
    }
    let (Some(payment_token), true) = (token, fields.is_empty()) else {
        return Err(ApiError::validation(fields));
    };
    let command = Checkout {
        user_id: user.user_id,
        idempotency_key,
        address_id: body.address_id,
        payment_token,
        expected_total_minor: body.expected_total_minor,
    };
    let context = EventContext::of_request(&request);
    match checkout(&api.pool, &command, &api.shipping, api.payment_timeout, &context).await {
        Ok(Placed::New(view)) => Ok(envelope::created(view).into_response()),
        Ok(Placed::Replayed(view)) => {
            Ok(([("idempotent-replayed", "true")], envelope::created(view)).into_response())
        }
        Err(error) => Err(checkout_error(error)),
    }
}

fn checkout_error(error: CheckoutError) -> ApiError {
    match error {
        CheckoutError::CartEmpty => {
            ApiError::unprocessable("CART_EMPTY", "The cart is empty; nothing was placed.")
        }
        CheckoutError::AddressNotFound => address_not_found(),
        CheckoutError::PriceChanged { total_minor, lines } => {
            let mut error = ApiError::conflict(
                "PRICE_CHANGED",
                format!(
                    "The cart now costs {total_minor}, not the total you were shown; nothing was placed and the \
                     cart is kept. Read the cart again and confirm its new total."
                ),
            )
            .with_field("expectedTotalMinor", format!("the total is now {total_minor}"));
            for line in lines {
                error = error.with_field(
                    format!("items[{}].unitPriceMinor", line.sku),
                    format!("now {}", line.unit_price_minor),
                );
            }
            error
        }
        CheckoutError::Place(PlaceOrderError::Pricing(pricing)) => {
            pricing_error(&pricing, "The cart cannot be placed")
        }
        CheckoutError::Place(PlaceOrderError::IdempotencyKeyReused) => ApiError::unprocessable(
            "IDEMPOTENCY_KEY_REUSED",
            "This Idempotency-Key was already used for a different order request.",
        ),
        CheckoutError::Place(PlaceOrderError::Customer(CustomerRefusal::Locked)) => ApiError::forbidden(
            "ACCOUNT_LOCKED",
            "This account is locked; it cannot place orders.",
        ),
        CheckoutError::Place(PlaceOrderError::Customer(CustomerRefusal::Withdrawn)) => ApiError::forbidden(
            "ACCOUNT_WITHDRAWN",
            "This account was withdrawn; it cannot place orders.",
        ),
        CheckoutError::Place(PlaceOrderError::Unexpected(cause)) => ApiError::internal(&cause),
    }
}

#[utoipa::path(get, path = "/users/me/addresses", tag = "addresses", operation_id = "listAddresses",
    summary = "The caller's shipping addresses, the default first",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "The addresses.", body = Success<AddressList>)))]
async fn list_addresses(
    State(api): State<ShopApi>,
    user: AuthenticatedUser,
) -> Result<impl IntoResponse, ApiError> {
    let addresses = addresses::list_addresses(&api.pool, user.user_id)
        .await
        .map_err(|cause| ApiError::internal(&cause))?;
    Ok(envelope::ok(AddressList { addresses }))
}

/// The caller's addresses, the default first.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AddressList {
    pub addresses: Vec<AddressView>,
}

#[utoipa::path(post, path = "/users/me/addresses", tag = "addresses", operation_id = "addAddress",
    summary = "Add a shipping address (the first one becomes the default)",
    request_body = AddressRequest,
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "The address.", body = Success<AddressView>),
        (status = 400, description = "`VALIDATION_FAILED`: naming each bad field."),
        (status = 422, description = "`TOO_MANY_ADDRESSES`: the caller has 10 addresses."),
    ))]
async fn add_address(
    State(api): State<ShopApi>,
    user: AuthenticatedUser,
    Json(body): Json<AddressRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let address = Address::parse(AddressInput {
        recipient: body.recipient,
        phone: body.phone,
        line1: body.line1,
        line2: body.line2,
        city: body.city,
        postal_code: body.postal_code,
        country: body.country,
    })
    .map_err(|errors| {
        ApiError::validation(
            errors
                .into_iter()
                .map(|error| FieldError {
                    field: error.field.to_owned(),
                    reason: error.reason,
                })
                .collect(),
        )
    })?;
    let added = addresses::add_address(&api.pool, user.user_id, &address)
        .await
        .map_err(address_error)?;
    Ok(envelope::created(added))
}

#[utoipa::path(delete, path = "/users/me/addresses/{id}", tag = "addresses", operation_id = "deleteAddress",
    summary = "Delete a shipping address (deleting the default makes the oldest other one the default)",
    params(("id" = String, Path, description = "The address id", example = "5b0d7f3a-9c11-4f6c-8d3b-2a1e4c7a9e21")),
    security(("bearerAuth" = [])),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "`ADDRESS_NOT_FOUND`: no such address of the caller's."),
    ))]
async fn delete_address(
    State(api): State<ShopApi>,
    user: AuthenticatedUser,
    Path(address_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    addresses::delete_address(&api.pool, user.user_id, &address_id)
        .await
        .map_err(address_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/users/me/addresses/{id}/default", tag = "addresses", operation_id = "setDefaultAddress",
    summary = "Make an address the default",
    params(("id" = String, Path, description = "The address id", example = "5b0d7f3a-9c11-4f6c-8d3b-2a1e4c7a9e21")),
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The address, now the only default.", body = Success<AddressView>),
        (status = 404, description = "`ADDRESS_NOT_FOUND`: no such address of the caller's."),
    ))]
async fn set_default_address(
    State(api): State<ShopApi>,
    user: AuthenticatedUser,
    Path(address_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let address = addresses::set_default(&api.pool, user.user_id, &address_id)
        .await
        .map_err(address_error)?;
    Ok(envelope::ok(address))
}

fn address_error(error: AddressError) -> ApiError {
    match error {
        AddressError::TooMany => ApiError::unprocessable(
            "TOO_MANY_ADDRESSES",
            format!("{error}; delete one before adding another."),
        ),
        AddressError::NotFound => address_not_found(),
        AddressError::Unexpected(cause) => ApiError::internal(&cause),
    }
}

fn address_not_found() -> ApiError {
    ApiError::not_found("ADDRESS_NOT_FOUND", "No such address.")
}

/// The Idempotency-Key header: missing → 400 `IDEMPOTENCY_KEY_REQUIRED`; malformed → 400
/// `VALIDATION_FAILED` naming it.
fn idempotency_key(headers: &HeaderMap, doing: &str) -> Result<IdempotencyKey, ApiError> {
    let Some(key) = headers.get(IDEMPOTENCY_KEY) else {
        return Err(ApiError::bad_request(
            "IDEMPOTENCY_KEY_REQUIRED",
            format!("{doing} needs an Idempotency-Key header."),
        ));
    };
    key.to_str()
        .map_err(|_| InvalidInput::IdempotencyKey)
        .and_then(IdempotencyKey::parse)
        .map_err(|error| ApiError::validation(vec![field("Idempotency-Key", &error)]))
}

fn field(name: &str, error: &InvalidInput) -> FieldError {
    FieldError {
        field: name.to_owned(),
        reason: error.to_string(),
    }
}
