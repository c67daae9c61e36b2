//! Read-only access to the local Prometheus for the storefront's metrics page
//! (docs/adr/0058).
//!
//! Two of Prometheus's HTTP API calls are passed on, both `GET` and both only reading:
//! [`QUERY_PATH`] (`/api/v1/query`) and [`QUERY_RANGE_PATH`] (`/api/v1/query_range`). Every
//! other path under `/admin/prometheus/` is unknown here, so nothing that writes (the TSDB admin
//! calls, `/-/reload`, `/-/quit`) can be reached through the gateway.
//!
//! Callers need a valid access token with the admin role, checked with the same extractor as
//! every admin route of the functions ([`security::Admin`]): no token `401`, a token without
//! the role `403`. The token is never passed on. When Prometheus does not answer (the stack
//! runs without `OBSERVABILITY=1`), the answer is `503 PROMETHEUS_UNAVAILABLE` in the
//! platform's envelope, so the page can say so in words.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Router, middleware};
use runtime::envelope::ApiError;
use security::Admin;
use security::token::AccessTokenVerifier;

/// Instant queries, answered as Prometheus's `/api/v1/query` answers them.
pub const QUERY_PATH: &str = "/admin/prometheus/api/v1/query";
/// Range queries, answered as Prometheus's `/api/v1/query_range` answers them.
pub const QUERY_RANGE_PATH: &str = "/admin/prometheus/api/v1/query_range";

/// The longest a query may take before the gateway gives up on it.
const TIMEOUT: Duration = Duration::from_secs(15);
/// The largest answer passed on (a 15-minute range of a few dozen series is far smaller).
const ANSWER_LIMIT: usize = 8 * 1024 * 1024;

struct Upstream {
    base_url: String,
    client: reqwest::Client,
}

/// The two read-only routes, passed on to the Prometheus at `base_url` (for example
/// `http://127.0.0.1:9090`) for callers `verifier` accepts as admins. Without a verifier
/// (the gateway was started without the token settings) both routes answer
/// `503 METRICS_NOT_CONFIGURED`.
pub fn router(base_url: &str, verifier: Option<AccessTokenVerifier>) -> anyhow::Result<Router> {
    let Some(verifier) = verifier else {
        let unconfigured = || async {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "METRICS_NOT_CONFIGURED",
                "The gateway was started without the access-token settings (JWT_ISSUER, \
                 JWT_AUDIENCE, JWT_JWKS_FILE), so it cannot tell admins apart.",
            )
        };
        return Ok(Router::new()
            .route(QUERY_PATH, get(unconfigured))
            .route(QUERY_RANGE_PATH, get(unconfigured)));
    };
    let upstream = Arc::new(Upstream {
        base_url: base_url.trim_end_matches('/').to_owned(),
        client: reqwest::Client::builder().timeout(TIMEOUT).build()?,
    });
    Ok(Router::new()
        .route(QUERY_PATH, get(query).with_state(Arc::clone(&upstream)))
        .route(QUERY_RANGE_PATH, get(query_range).with_state(upstream))
        .layer(middleware::map_response(no_store))
        .layer(Extension(Arc::new(verifier))))
}

async fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn query(_admin: Admin, State(upstream): State<Arc<Upstream>>, RawQuery(params): RawQuery) -> Response {
    pass_on(&upstream, "/api/v1/query", params).await
}

async fn query_range(
    _admin: Admin,
    State(upstream): State<Arc<Upstream>>,
    RawQuery(params): RawQuery,
) -> Response {
    pass_on(&upstream, "/api/v1/query_range", params).await
}

async fn pass_on(upstream: &Upstream, path: &str, params: Option<String>) -> Response {
    let mut url = format!("{}{path}", upstream.base_url);
    if let Some(params) = params.filter(|params| !params.is_empty()) {
        url.push('?');
        url.push_str(&params);
    }
    let answer = match upstream
        .client
        .get(&url)
        .header(header::ACCEPT, "application/json")
        .send()
        .await
    {
        Ok(answer) => answer,
        Err(error) => {
            tracing::info!(%error, "Prometheus did not answer");
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "PROMETHEUS_UNAVAILABLE",
                format!(
                    "Prometheus does not answer at {}. Start it with OBSERVABILITY=1 local-stack/up.",
                    upstream.base_url
                ),
            )
            .into_response();
        }
    };
    let status = answer.status();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    if answer
        .content_length()
        .is_some_and(|length| length > ANSWER_LIMIT as u64)
    {
        return too_large();
    }
    let bytes = match answer.bytes().await {
        Ok(bytes) if bytes.len() <= ANSWER_LIMIT => bytes,
        Ok(_) => return too_large(),
        Err(error) => {
            tracing::info!(%error, "Prometheus's answer broke off");
            return ApiError::new(
                StatusCode::BAD_GATEWAY,
                "PROMETHEUS_UNAVAILABLE",
                "Prometheus's answer broke off.",
            )
            .into_response();
        }
    };
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        content_type.unwrap_or(HeaderValue::from_static("application/json")),
    );
    response
}

fn too_large() -> Response {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "PROMETHEUS_ANSWER_TOO_LARGE",
        "Prometheus's answer is larger than the gateway passes on; ask for fewer series or a coarser step.",
    )
    .into_response()
}
