//! The HTTP API's OpenAPI 3.1 document (docs/adr/0052).
//!
//! Each context documents its own handlers (`#[utoipa::path]` on the handler, `ToSchema` on
//! what it takes and answers) and exposes one `openapi()`. [`document`] merges them onto the
//! shared components and completes every operation with the shared errors
//! ([`runtime::openapi::finish`]). Nothing is started: the document is built from the code.
//!
//! `docs/api/openapi.json` is the document as committed; the local gateway serves it at
//! `GET /openapi.json`. `tests/contract.rs` fails when it is stale or when its routes differ
//! from `template.yaml`'s; `UPDATE_OPENAPI=1 cargo test -p openapi-document` rewrites it.

use serde_json::{Value, json};

/// The merged, completed document.
pub fn document() -> Value {
    let mut merged = runtime::openapi::shared();
    merged.merge(catalog::openapi::openapi());
    merged.merge(identity::openapi::openapi());
    merged.merge(inventory::openapi::openapi());
    merged.merge(ordering::openapi::openapi());
    merged.info.title = "Commerce platform HTTP API".to_owned();
    merged.info.version = env!("CARGO_PKG_VERSION").to_owned();
    merged.info.description = Some(DESCRIPTION.to_owned());
    merged.info.license = None;
    let mut value = serde_json::to_value(&merged).unwrap_or_else(|_| json!({}));
    // Relative: the API is wherever the document is served from (the local gateway, API
    // Gateway, a Knative ingress), so a docs page's "try it out" calls the same origin.
    value["servers"] = json!([{ "url": "/", "description": "The gateway that serves this document" }]);
    runtime::openapi::finish(value)
}

const DESCRIPTION: &str = "Every answer is a JSON envelope: `{\"success\": true, \"data\": …, \"timestamp\": …}`, \
or `{\"success\": false, \"error\": {\"code\", \"message\", \"requestId\", \"fieldErrors\"?}, \"timestamp\": …}` \
with a stable `code` to branch on. Signed-in routes take `Authorization: Bearer <access token>`; \
admin routes need a token with the admin role.";

/// `METHOD /path` of every operation in `document`, sorted.
pub fn routes(document: &Value) -> Vec<(String, String)> {
    let mut routes: Vec<(String, String)> = document["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flatten()
                .filter(|(method, _)| {
                    matches!(
                        method.as_str(),
                        "get" | "put" | "post" | "delete" | "patch" | "head" | "options"
                    )
                })
                .map(move |(method, _)| (method.to_uppercase(), path.clone()))
        })
        .collect();
    routes.sort();
    routes
}
