//! The gateway serves the committed OpenAPI document, and the document names every path the
//! gateway routes.

use std::path::Path;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

fn repository_file(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

#[tokio::test]
async fn get_openapi_json_answers_the_document_for_every_routed_path() {
    let document = std::fs::read(repository_file("docs/api/openapi.json")).expect("docs/api/openapi.json");
    let registry = template::Registry::load(&repository_file("template.yaml")).expect("template.yaml");
    let targets = gateway::targets(&registry, "127.0.0.1", 8100);
    let routes = gateway::router(&targets)
        .expect("routes")
        .merge(gateway::openapi_router(document));
    let app = runtime::http::HttpFunction::new(routes).into_router();

    let response = app
        .oneshot(
            Request::get(gateway::OPENAPI_PATH)
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("answer");

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let served: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(served["openapi"], "3.1.0");
    for target in &targets {
        let operation = &served["paths"][&target.path][target.method.to_lowercase()];
        assert!(
            operation.is_object(),
            "{} {} is routed but not in the served document",
            target.method,
            target.path
        );
    }
}
