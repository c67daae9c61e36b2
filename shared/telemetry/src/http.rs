//! HTTP instrumentation: one axum middleware that gives every request an id, a place in a
//! trace, a `http.request` span and its two metrics, and the [`RequestContext`] extractor through
//! which handlers reach the id and trace.

use std::time::Instant;

use axum::Router;
use axum::extract::{FromRequestParts, MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tracing::Instrument;
use tracing::field::Empty;

use crate::metrics::{install_recorder, record_http_request};
use crate::trace_context::{TRACEPARENT_HEADER, TraceContext};

/// The header a request id arrives in and is echoed back in.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The `route` label of requests no route matched (404s from the fallback). Raw paths would let
/// any client create unbounded label values.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Longer incoming ids are replaced: they are most likely abuse, and they end up in every line.
const MAX_REQUEST_ID_LENGTH: usize = 128;

/// Methods outside this list are counted as `OTHER`, for the same reason as unmatched routes.
const KNOWN_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// Who is asking, as far as telemetry knows: the request id and this request's trace context.
///
/// `trace` is the context of the work this request does (a child of the incoming `traceparent`,
/// or a new root): write `trace.to_header()` into outbox rows and outgoing calls.
///
/// Handlers take it as an extractor; it is present on every request of an [`instrument`]ed
/// router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    pub request_id: String,
    pub trace: TraceContext,
}

/// The extractor was used on a router that was not wrapped with [`instrument`]: a wiring bug,
/// answered with a 500 so that it cannot go unnoticed.
#[derive(Debug, thiserror::Error)]
#[error("the request has no RequestContext; wrap the router with telemetry::instrument")]
pub struct MissingRequestContext;

impl IntoResponse for MissingRequestContext {
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "Could not extract the request context");
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    }
}

impl<S> FromRequestParts<S> for RequestContext
where
    S: Send + Sync,
{
    type Rejection = MissingRequestContext;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<RequestContext>()
            .cloned()
            .ok_or(MissingRequestContext)
    }
}

/// Wraps every route of `router` (and its fallback) with request ids, trace context, the
/// `http.request` span and the HTTP metrics.
///
/// Call it after all routes are added: `Router::layer` only wraps the routes that exist. It is a
/// route layer rather than an outer service so that axum's [`MatchedPath`] is known, which is
/// what keeps ids out of the `route` label.
pub fn instrument<S>(router: Router<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    // Requests can only be counted once a recorder exists.
    install_recorder();
    router.layer(middleware::from_fn(track_request))
}

async fn track_request(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
        .to_owned();
    let method = method_label(request.method());
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(usable_request_id)
        .unwrap_or_else(new_request_id);
    // This request is new work inside the caller's trace, or the first work of a new one.
    let trace = request
        .headers()
        .get(TRACEPARENT_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(TraceContext::parse)
        .map_or_else(TraceContext::new_root, |incoming| incoming.child());

    // ERROR level so the span, and with it the request id and trace id, is on every line even
    // when RUST_LOG is raised to `warn` or `error` to cut volume. `status` and `user_id` are
    // declared empty so they can be recorded once known (tracing only records declared fields).
    let span = tracing::error_span!(
        "http.request",
        method,
        route = %route,
        request_id = %request_id,
        trace_id = %trace.trace_id_hex(),
        span_id = %trace.parent_id_hex(),
        status = Empty,
        user_id = Empty,
    );

    // Only ids that came from a header or a UUID reach this point, so this cannot fail, but a
    // header we cannot build is better skipped than a request failed.
    let request_id_header = HeaderValue::from_str(&request_id).ok();
    if let Some(value) = &request_id_header {
        // Generated ids are written into the request too, for any layer that reads the header.
        request.headers_mut().insert(REQUEST_ID_HEADER, value.clone());
    }
    request
        .extensions_mut()
        .insert(RequestContext { request_id, trace });

    let mut response = next.run(request).instrument(span.clone()).await;

    if let Some(value) = request_id_header {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let status = response.status();
    let elapsed = started.elapsed();
    span.record("status", status.as_u16());
    span.in_scope(|| {
        // Fractional milliseconds: most requests take less than one.
        tracing::info!(elapsed_ms = elapsed.as_secs_f64() * 1000.0, "Finished request");
    });
    record_http_request(&route, method, status, elapsed);
    response
}

fn method_label(method: &Method) -> &'static str {
    KNOWN_METHODS
        .into_iter()
        .find(|known| *known == method.as_str())
        .unwrap_or("OTHER")
}

/// Keeps an incoming id only if it is short, visible ASCII: it is echoed in a header and written
/// on every log line of the request.
fn usable_request_id(value: &HeaderValue) -> Option<String> {
    let id = value.to_str().ok()?;
    let usable =
        (1..=MAX_REQUEST_ID_LENGTH).contains(&id.len()) && id.bytes().all(|byte| byte.is_ascii_graphic());
    usable.then(|| id.to_owned())
}

/// UUIDv7, like outbox ids: time-ordered, so ids sort by arrival when grepping logs.
fn new_request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visible_ascii_request_id_is_kept() {
        let value = HeaderValue::from_static("req-42_abc.DEF:1");

        assert_eq!(usable_request_id(&value), Some("req-42_abc.DEF:1".to_owned()));
    }

    #[test]
    fn an_empty_spaced_or_overlong_request_id_is_not_kept() {
        assert_eq!(usable_request_id(&HeaderValue::from_static("")), None);
        assert_eq!(usable_request_id(&HeaderValue::from_static("two words")), None);
        let overlong = HeaderValue::from_str(&"a".repeat(MAX_REQUEST_ID_LENGTH + 1)).expect("valid header");
        assert_eq!(usable_request_id(&overlong), None);
    }

    #[test]
    fn an_unknown_method_is_counted_as_other() {
        let custom = Method::from_bytes(b"PURGE").expect("valid method");

        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(method_label(&custom), "OTHER");
    }
}
