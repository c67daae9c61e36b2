//! CORS for browsers on other origins: what `template.yaml`'s `HttpApi` `CorsConfiguration`
//! does in AWS. The storefront served by the gateway itself is same-origin and needs none;
//! a storefront on another origin (a dev server, a CDN) is allowed by listing its origin in
//! `CORS_ALLOWED_ORIGINS`. `*` allows every origin and is only used when someone writes it.
//! Tokens travel in the `Authorization` header, never in cookies, so credentials are not
//! allowed (docs/adr/0050).

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The layer for `origins` (`*`, or exact origins such as `http://localhost:5173`); `None`
/// when the list is empty, so cross-origin browsers get no CORS headers at all.
pub fn layer(origins: &[String]) -> anyhow::Result<Option<CorsLayer>> {
    let origins: Vec<&str> = origins
        .iter()
        .map(|origin| origin.trim())
        .filter(|origin| !origin.is_empty())
        .collect();
    if origins.is_empty() {
        return Ok(None);
    }
    let allow_origin = if origins.contains(&"*") {
        AllowOrigin::any()
    } else {
        let mut values = Vec::with_capacity(origins.len());
        for origin in origins {
            anyhow::ensure!(
                origin.starts_with("http://") || origin.starts_with("https://"),
                "CORS origin {origin:?} must be * or start with http:// or https://"
            );
            values.push(HeaderValue::from_str(origin.trim_end_matches('/'))?);
        }
        AllowOrigin::list(values)
    };
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                HeaderName::from_static("idempotency-key"),
            ])
            .expose_headers([
                header::RETRY_AFTER,
                HeaderName::from_static("idempotent-replayed"),
            ])
            .max_age(Duration::from_secs(600)),
    ))
}
