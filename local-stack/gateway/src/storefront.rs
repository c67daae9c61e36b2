//! The storefront's static files, served beside the API on the gateway's port.
//!
//! `storefront/` builds to plain files (`index.html`, `app.js`, `styles.css`, `config.js`);
//! the gateway serves them under `/shop/` and sends `/` there, so a learner opens one URL and
//! the page calls the API on the same origin (no CORS needed locally). Any other static host
//! serves the same files (docs/adr/0050). Paths are read only inside the folder: a segment
//! that is empty, `.`, `..`, hidden or holds a backslash is refused before the disk is asked.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use runtime::envelope::ApiError;

/// Where the storefront is served.
pub const MOUNT: &str = "/shop/";

/// The routes that serve the built storefront in `dir` (which may not be built yet: then
/// every page answers `503 STOREFRONT_NOT_BUILT`, saying how to build it).
pub fn router(dir: PathBuf) -> Router {
    let dir = Arc::new(dir);
    Router::new()
        .route("/", get(|| async { Redirect::to(MOUNT) }))
        .route("/shop", get(|| async { Redirect::to(MOUNT) }))
        .route("/shop/", get(index).with_state(Arc::clone(&dir)))
        .route("/shop/{*path}", get(file).with_state(dir))
}

async fn index(State(dir): State<Arc<PathBuf>>) -> Response {
    serve(&dir, "index.html").await
}

async fn file(State(dir): State<Arc<PathBuf>>, UrlPath(path): UrlPath<String>) -> Response {
    // A folder's page, like the API reference at /shop/api-docs/.
    let path = match path.strip_suffix('/') {
        Some(folder) => format!("{folder}/index.html"),
        None => path,
    };
    if !is_safe(&path) {
        return ApiError::not_found("NOT_FOUND", "No such file.").into_response();
    }
    serve(&dir, &path).await
}

/// Whether every segment of `path` names an ordinary file or folder inside the mount.
fn is_safe(path: &str) -> bool {
    path.split('/').all(|segment| {
        !segment.is_empty() && !segment.starts_with('.') && !segment.contains('\\') && !segment.contains('\0')
    })
}

async fn serve(dir: &Path, relative: &str) -> Response {
    let path = dir.join(relative);
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let mut response = bytes.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(&path)),
            );
            // The file names carry no content hash, so the browser asks again each time
            // (a 304-less revalidation is cheap on loopback).
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            response
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            if !dir.join("index.html").is_file() {
                return ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "STOREFRONT_NOT_BUILT",
                    "The storefront is not built; run local-stack/up (or npm ci && npm run build in storefront/).",
                )
                .into_response();
            }
            ApiError::not_found("NOT_FOUND", "No such file.").into_response()
        }
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "Storefront file unreadable");
            ApiError::not_found("NOT_FOUND", "No such file.").into_response()
        }
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|extension| extension.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("webp") => "image/webp",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_segments_inside_the_folder_are_served() {
        assert!(is_safe("app.js"));
        assert!(is_safe("assets/logo.svg"));
        for path in [
            "../Cargo.toml",
            "a/../../x",
            ".env",
            "a//b",
            "a\\..\\b",
            "",
            "a/.git/config",
        ] {
            assert!(!is_safe(path), "{path} must be refused");
        }
    }
}
