//! The one response envelope of every HTTP route, and the one place errors become responses.
//!
//! Success: `{"success": true, "data": …, "timestamp": …}`.
//! Failure: `{"success": false, "error": {"code", "message", "requestId", "fieldErrors"?}, "timestamp"}`.
//!
//! `code` is a stable machine-readable string (`VALIDATION_FAILED`, `EMAIL_TAKEN`, …) that
//! clients may branch on; `message` is for humans and may change. The cause of a 5xx is logged
//! once, inside the request's span, and never sent to the client.

use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

tokio::task_local! {
    /// The id of the request being handled, set by the runtime's middleware so that errors can
    /// carry it without every handler passing it along.
    pub(crate) static REQUEST_ID: String;
}

/// The id of the request this task is handling, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// A successful response with the envelope: `200 OK` unless built with [`created`].
#[derive(Debug)]
pub struct Envelope<T> {
    status: StatusCode,
    data: T,
}

/// `200 OK` with `data` in the envelope.
pub fn ok<T: Serialize>(data: T) -> Envelope<T> {
    Envelope {
        status: StatusCode::OK,
        data,
    }
}

/// `201 Created` with `data` in the envelope.
pub fn created<T: Serialize>(data: T) -> Envelope<T> {
    Envelope {
        status: StatusCode::CREATED,
        data,
    }
}

#[derive(Serialize)]
struct SuccessBody<'a, T> {
    success: bool,
    data: &'a T,
    timestamp: chrono::DateTime<chrono::Utc>,
}

impl<T: Serialize> IntoResponse for Envelope<T> {
    fn into_response(self) -> Response {
        let body = SuccessBody {
            success: true,
            data: &self.data,
            timestamp: chrono::Utc::now(),
        };
        (self.status, axum::Json(body)).into_response()
    }
}

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

/// An error answer: status, stable code, message and optional field errors.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    fields: Vec<FieldError>,
    /// Seconds for a `Retry-After` header.
    retry_after: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
            retry_after: None,
        }
    }

    /// `503 SERVICE_BUSY` with `Retry-After: 1`: the service is saturated and did nothing.
    pub fn busy(message: impl Into<String>) -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_BUSY", message)
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// Field-level validation failures: `400 VALIDATION_FAILED` listing every bad field.
    pub fn validation(fields: Vec<FieldError>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "VALIDATION_FAILED",
            message: "The request has invalid fields.".to_owned(),
            fields,
            retry_after: None,
        }
    }

    /// An unexpected failure. The cause is logged here, once, in the current span; the client
    /// only learns that something went wrong and the request id to quote.
    ///
    /// One cause is not a fault but a full house: no database connection came free within the
    /// pool's wait (`sqlx::Error::PoolTimedOut`). Nothing was done, so the client is told
    /// `503 SERVICE_BUSY` with `Retry-After`, as a client of a busy service expects, instead
    /// of a 500.
    pub fn internal(cause: &anyhow::Error) -> Self {
        let pool_full = cause.chain().any(|error| {
            matches!(
                error.downcast_ref::<sqlx::Error>(),
                Some(sqlx::Error::PoolTimedOut)
            )
        });
        if pool_full {
            tracing::warn!(error = %format!("{cause:#}"), "Busy: no database connection came free in time");
            return Self::busy(
                "Too many requests at once; nothing was done. Send the request again shortly.",
            );
        }
        tracing::error!(error = %format!("{cause:#}"), "Request failed unexpectedly");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "Something went wrong on our side.",
        )
    }

    pub fn with_field(mut self, field: impl Into<String>, reason: impl Into<String>) -> Self {
        self.fields.push(FieldError {
            field: field.into(),
            reason: reason.into(),
        });
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    field_errors: &'a [FieldError],
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    success: bool,
    error: ErrorDetail<'a>,
    timestamp: chrono::DateTime<chrono::Utc>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            success: false,
            error: ErrorDetail {
                code: self.code,
                message: &self.message,
                request_id: current_request_id(),
                field_errors: &self.fields,
            },
            timestamp: chrono::Utc::now(),
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// A JSON body extractor whose rejections are answered in the envelope with stable codes,
/// instead of axum's plain-text messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "The body must be JSON with Content-Type: application/json.",
        ),
        JsonRejection::JsonSyntaxError(error) => ApiError::bad_request(
            "MALFORMED_JSON",
            format!("The body is not valid JSON: {}", error.body_text()),
        ),
        JsonRejection::JsonDataError(error) => ApiError::bad_request(
            "INVALID_BODY",
            format!(
                "The body does not match the expected shape: {}",
                error.body_text()
            ),
        ),
        JsonRejection::BytesRejection(error) => body_rejection(error),
        other => ApiError::bad_request("UNREADABLE_BODY", other.body_text()),
    }
}

/// The answer, in the envelope, to a request whose body could not be read: `413
/// BODY_TOO_LARGE` past the function's body limit, `400 UNREADABLE_BODY` otherwise. For
/// handlers that take the raw body (`Bytes`) rather than [`Json`].
pub fn body_rejection(rejection: &BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BODY_TOO_LARGE",
            "The body is larger than this endpoint accepts.",
        )
    } else {
        ApiError::bad_request("UNREADABLE_BODY", rejection.body_text())
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_connection_pool_is_answered_busy_with_retry_after_not_500() {
        let cause = anyhow::Error::new(sqlx::Error::PoolTimedOut).context("browsing products");
        let response = ApiError::internal(&cause).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[http::header::RETRY_AFTER], "1");

        let other = anyhow::Error::new(sqlx::Error::RowNotFound).context("browsing products");
        let response = ApiError::internal(&other).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().get(http::header::RETRY_AFTER).is_none());
    }
}
