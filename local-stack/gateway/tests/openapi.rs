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

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String, String) {
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
        .await
        .expect("answer");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, content_type, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn the_docs_page_serves_its_own_files_and_nothing_else() {
    let viewer = std::env::temp_dir().join(format!("api-docs-{}", std::process::id()));
    let dist = viewer.join("node_modules/swagger-ui-dist");
    std::fs::create_dir_all(&dist).expect("folders");
    std::fs::write(viewer.join("index.html"), "<main id=\"api\"></main>").expect("index");
    std::fs::write(viewer.join("init.js"), "// init").expect("init");
    std::fs::write(dist.join("swagger-ui.css"), "body {}").expect("css");
    std::fs::write(viewer.join("package.json"), "{}").expect("package.json");
    let app = runtime::http::HttpFunction::new(gateway::api_docs::router(viewer.clone())).into_router();

    let (status, content_type, body) = get(&app, "/docs/").await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "text/html; charset=utf-8")
    );
    assert!(body.contains("id=\"api\""));
    let (status, content_type, _) = get(&app, "/docs/swagger-ui.css").await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "text/css; charset=utf-8")
    );
    // A file of the folder that is not one of the page's is not served.
    let (status, _, body) = get(&app, "/docs/package.json").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // The page's bundle is not installed yet: the answer says how to install it.
    let (status, _, body) = get(&app, "/docs/swagger-ui-bundle.js").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("API_DOCS_NOT_INSTALLED"), "{body}");

    std::fs::remove_dir_all(&viewer).expect("cleaned up");
}
