//! The HTTP function `request-refund` (`POST /orders/{id}/refunds`, with `Idempotency-Key`):
//! the owner of a confirmed order asks to refund whole lines, `{"lines": [lineNo, …]}`, and
//! gets `202 Accepted` with the refund, which payment settles later (`GET /orders/{id}` shows
//! its outcome). Another customer's order is answered as a missing one.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use runtime::envelope::{self, ApiError, FieldError, Json};
use runtime::openapi::Success;
use security::{AccessTokenVerifier, AuthenticatedUser};
use serde::Deserialize;
use store::outbox::EventContext;
use telemetry::RequestContext;

use crate::http::OrderingApi;
use crate::order::{IdempotencyKey, InvalidInput};
use crate::refund::{RefundLines, RefundRefused, RequestRefund};
use crate::refunds::{self, RefundView, RequestRefundError, Requested};

/// `request-refund`.
pub fn request_refund_routes(api: OrderingApi, verifier: Arc<AccessTokenVerifier>) -> Router {
    Router::new()
        .route("/orders/{id}/refunds", post(request_refund))
        .with_state(api)
        .layer(Extension(verifier))
}

/// The body of `POST /orders/{id}/refunds`: the numbers of the lines to refund, whole.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"lines": [1]}))]
pub struct RequestRefundBody {
    pub lines: Vec<i64>,
}

const IDEMPOTENCY_KEY: &str = "idempotency-key";

#[utoipa::path(post, path = "/orders/{id}/refunds", tag = "ordering", operation_id = "requestRefund",
    summary = "Ask to refund whole lines of a confirmed order",
    description = "Payment settles the refund later; `GET /orders/{id}` shows its outcome.",
    params(("id" = String, Path, description = "The order id", example = "0f8fad5b-d9cb-469f-a165-70867728950e"), ("Idempotency-Key" = String, Header, description = "1–128 characters; the same key with the same body answers the first result again (`idempotent-replayed: true`)", example = "4d1c7c2e-checkout-1")), request_body = RequestRefundBody,
    security(("bearerAuth" = [])),
    responses(
        (status = 202, description = "The refund, `REQUESTED` (a replay: the refund as it is now, `idempotent-replayed: true`).", body = Success<RefundView>),
        (status = 400, description = "`IDEMPOTENCY_KEY_REQUIRED`: no Idempotency-Key header.\n`VALIDATION_FAILED`: `lines` (whole lines, each once) or the key."),
        (status = 404, description = "`ORDER_NOT_FOUND`: no such order of the caller's."),
        (status = 409, description = "`ORDER_NOT_REFUNDABLE`: the order is not `CONFIRMED` or `PARTIALLY_REFUNDED`.\n`LINE_ALREADY_REFUNDED`: a line is refunded already.\n`REFUND_IN_PROGRESS`: a line is being refunded."),
        (status = 422, description = "`UNKNOWN_ORDER_LINE`: the order has no such line.\n`REFUND_OUT_OF_RANGE`: the refund's amount is out of range.\n`IDEMPOTENCY_KEY_REUSED`: the key was used for a different request."),
    ))]
async fn request_refund(
    State(api): State<OrderingApi>,
    user: AuthenticatedUser,
    request: RequestContext,
    headers: HeaderMap,
    Path(order_id): Path<String>,
    Json(body): Json<RequestRefundBody>,
) -> Result<Response, ApiError> {
    let command = request_refund_command(user.user_id, order_id, &headers, &body)?;
    let context = EventContext::of_request(&request);
    match refunds::request_refund(&api.pool, &command, &context).await {
        Ok(Requested::New(view)) => Ok((StatusCode::ACCEPTED, envelope::ok(view)).into_response()),
        Ok(Requested::Replayed(view)) => Ok((
            StatusCode::ACCEPTED,
            [("idempotent-replayed", "true")],
            envelope::ok(view),
        )
            .into_response()),
        Err(error) => Err(request_refund_error(error)),
    }
}

/// Validates the request at the edge, naming every bad field at once.
fn request_refund_command(
    user_id: uuid::Uuid,
    order_id: String,
    headers: &HeaderMap,
    body: &RequestRefundBody,
) -> Result<RequestRefund, ApiError> {
    let Some(key) = headers.get(IDEMPOTENCY_KEY) else {
        return Err(ApiError::bad_request(
            "IDEMPOTENCY_KEY_REQUIRED",
            "Asking for a refund needs an Idempotency-Key header.",
        ));
    };
    let mut fields = Vec::new();
    let key = key
        .to_str()
        .map_err(|_| InvalidInput::IdempotencyKey)
        .and_then(IdempotencyKey::parse)
        .map_err(|error| {
            fields.push(FieldError {
                field: "Idempotency-Key".to_owned(),
                reason: error.to_string(),
            });
        })
        .ok();
    let lines = RefundLines::new(&body.lines)
        .map_err(|error| {
            fields.push(FieldError {
                field: "lines".to_owned(),
                reason: error.to_string(),
            });
        })
        .ok();
    match (key, lines) {
        (Some(idempotency_key), Some(lines)) if fields.is_empty() => Ok(RequestRefund {
            user_id,
            order_id,
            idempotency_key,
            lines,
        }),
        _ => Err(ApiError::validation(fields)),
    }
}

fn request_refund_error(error: RequestRefundError) -> ApiError {
    match error {
        RequestRefundError::NotFound => ApiError::not_found("ORDER_NOT_FOUND", "No such order."),
        RequestRefundError::Refused(refused) => {
            let message = format!("The refund cannot be made: {refused}.");
            match refused {
                RefundRefused::OrderNotRefundable(_) => ApiError::conflict("ORDER_NOT_REFUNDABLE", message),
                RefundRefused::UnknownLine(_) => ApiError::unprocessable("UNKNOWN_ORDER_LINE", message),
                RefundRefused::AlreadyRefunded(_) => ApiError::conflict("LINE_ALREADY_REFUNDED", message),
                RefundRefused::InProgress(_) => ApiError::conflict("REFUND_IN_PROGRESS", message),
                RefundRefused::AmountOutOfRange => ApiError::unprocessable("REFUND_OUT_OF_RANGE", message),
            }
        }
        RequestRefundError::IdempotencyKeyReused => ApiError::unprocessable(
            "IDEMPOTENCY_KEY_REUSED",
            "This Idempotency-Key was already used for a different refund request.",
        ),
        RequestRefundError::Unexpected(cause) => ApiError::internal(&cause),
    }
}
