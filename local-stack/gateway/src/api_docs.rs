//! The API docs page at `/docs/`: Swagger UI (npm `swagger-ui-dist`, pinned in
//! `docs/api/viewer/package-lock.json`) over the document at [`crate::OPENAPI_PATH`]
//! (docs/adr/0052). Only the page's own files are served, by name, so no path from a URL ever
//! reaches the disk.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use runtime::envelope::ApiError;

/// Where the page is served.
pub const MOUNT: &str = "/docs/";

/// The page's files: the name under the mount, the file under the viewer's folder, its type.
const FILES: [(&str, &str, &str); 4] = [
    ("index.html", "index.html", "text/html; charset=utf-8"),
    ("init.js", "init.js", "text/javascript; charset=utf-8"),
    (
        "swagger-ui.css",
        "node_modules/swagger-ui-dist/swagger-ui.css",
        "text/css; charset=utf-8",
    ),
    (
        "swagger-ui-bundle.js",
        "node_modules/swagger-ui-dist/swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
    ),
];

/// The routes of the page whose files are in `dir` (`docs/api/viewer`, after `npm ci`; until
/// then every file answers `503 API_DOCS_NOT_INSTALLED`, saying how to install it).
pub fn router(dir: PathBuf) -> Router {
    let dir = Arc::new(dir);
    Router::new()
        .route("/docs", get(|| async { Redirect::to(MOUNT) }))
        .route("/docs/", get(index).with_state(Arc::clone(&dir)))
        .route("/docs/{name}", get(file).with_state(dir))
}

async fn index(State(dir): State<Arc<PathBuf>>) -> Response {
    serve(&dir, "index.html").await
}

async fn file(State(dir): State<Arc<PathBuf>>, Path(name): Path<String>) -> Response {
    serve(&dir, &name).await
}

async fn serve(dir: &std::path::Path, name: &str) -> Response {
    let Some((_, relative, content_type)) = FILES.iter().find(|(known, _, _)| *known == name) else {
        return ApiError::not_found("NOT_FOUND", "No such file.").into_response();
    };
    match tokio::fs::read(dir.join(relative)).await {
        Ok(bytes) => {
            let mut response = bytes.into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            response
        }
        Err(error) => {
            tracing::warn!(file = %dir.join(relative).display(), %error, "API docs file unreadable");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "API_DOCS_NOT_INSTALLED",
                "The API docs page is not installed; run local-stack/up (or npm ci in docs/api/viewer/).",
            )
            .into_response()
        }
    }
}
