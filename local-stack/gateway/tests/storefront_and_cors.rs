//! The gateway serves the built storefront beside the API, and answers browsers on the
//! origins it was told to allow (and only those).

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

fn built_storefront() -> tempfile_dir::Dir {
    let dir = tempfile_dir::Dir::new("storefront");
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><title>Shop</title>",
    )
    .expect("index");
    std::fs::write(dir.path().join("app.js"), "console.log('shop')").expect("app");
    std::fs::create_dir(dir.path().join("api-docs")).expect("a folder");
    std::fs::write(
        dir.path().join("api-docs").join("index.html"),
        "<!doctype html><title>Commerce API</title>",
    )
    .expect("docs page");
    dir
}

fn gateway_with_storefront(dir: &std::path::Path) -> Router {
    runtime::http::HttpFunction::new(gateway::storefront::router(dir.to_path_buf())).into_router()
}

async fn text(response: axum::response::Response) -> String {
    String::from_utf8(
        axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body")
            .to_vec(),
    )
    .expect("utf-8")
}

async fn get(router: &Router, path: &str) -> axum::response::Response {
    router
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).expect("request"))
        .await
        .expect("response")
}

#[tokio::test]
async fn the_shop_page_and_its_files_are_served_under_shop_and_the_root_leads_there() {
    let dir = built_storefront();
    let router = gateway_with_storefront(dir.path());

    let root = get(&router, "/").await;
    assert!(root.status().is_redirection());
    assert_eq!(root.headers()[header::LOCATION], "/shop/");

    let page = get(&router, "/shop/").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(text(page).await.contains("<title>Shop</title>"));

    let script = get(&router, "/shop/app.js").await;
    assert_eq!(script.status(), StatusCode::OK);
    assert_eq!(
        script.headers()[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );

    let docs = get(&router, "/shop/api-docs/").await;
    assert_eq!(
        docs.status(),
        StatusCode::OK,
        "a folder answers with its index.html"
    );
    assert!(text(docs).await.contains("<title>Commerce API</title>"));
}

#[tokio::test]
async fn nothing_outside_the_storefront_folder_is_served() {
    let dir = built_storefront();
    std::fs::write(dir.path().join(".secret"), "no").expect("hidden file");
    let router = gateway_with_storefront(dir.path());
    for path in [
        "/shop/../Cargo.toml",
        "/shop/%2e%2e/Cargo.toml",
        "/shop/.secret",
        "/shop/.hidden/",
        "/shop/missing.js",
        "/shop/missing/",
    ] {
        let response = get(&router, path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(text(response).await.contains("NOT_FOUND"), "{path}");
    }
}

#[tokio::test]
async fn a_storefront_not_built_yet_says_so_in_the_envelope() {
    let dir = tempfile_dir::Dir::new("empty-storefront");
    let response = get(&gateway_with_storefront(dir.path()), "/shop/").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(text(response).await.contains("STOREFRONT_NOT_BUILT"));
}

/// The gateway with one declared route (to a function that is down) and the CORS layer for `origins`.
fn gateway_with_cors(origins: &[&str]) -> Router {
    let targets = vec![gateway::Target {
        method: "GET".to_owned(),
        path: "/products".to_owned(),
        function: "browse-products".to_owned(),
        base_url: "http://127.0.0.1:1".to_owned(),
    }];
    let router = runtime::http::HttpFunction::new(gateway::router(&targets).expect("routes")).into_router();
    let origins: Vec<String> = origins.iter().map(|origin| (*origin).to_owned()).collect();
    match gateway::cors::layer(&origins).expect("valid origins") {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

async fn preflight(router: &Router, origin: &str) -> axum::response::Response {
    router
        .clone()
        .oneshot(
            Request::options("/products")
                .header(header::ORIGIN, origin)
                .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
                .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response")
}

#[tokio::test]
async fn an_allowed_origin_gets_its_preflight_and_answers_marked_for_it() {
    let router = gateway_with_cors(&["https://shop.example", "http://localhost:5173"]);
    let response = preflight(&router, "http://localhost:5173").await;
    assert!(response.status().is_success());
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://localhost:5173"
    );
    let methods = response.headers()[header::ACCESS_CONTROL_ALLOW_METHODS]
        .to_str()
        .expect("ascii");
    assert!(
        methods.contains("PATCH") && methods.contains("DELETE"),
        "{methods}"
    );
    let allowed_headers = response.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .expect("ascii");
    assert!(allowed_headers.contains("idempotency-key"), "{allowed_headers}");

    // The answer itself (here the 502 of a function that is down) carries the origin too, so
    // the page can read the error's envelope.
    let answer = router
        .oneshot(
            Request::get("/products")
                .header(header::ORIGIN, "https://shop.example")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(answer.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(
        answer.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://shop.example"
    );
}

#[tokio::test]
async fn another_origin_is_not_allowed_and_without_a_list_no_origin_is() {
    let router = gateway_with_cors(&["https://shop.example"]);
    let response = preflight(&router, "https://evil.example").await;
    assert!(
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );

    let router = gateway_with_cors(&[]);
    let response = preflight(&router, "https://shop.example").await;
    assert!(
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
}

#[tokio::test]
async fn a_star_allows_every_origin_only_when_written() {
    let router = gateway_with_cors(&["*"]);
    let response = preflight(&router, "https://anywhere.example").await;
    assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert!(gateway::cors::layer(&["shop.example".to_owned()]).is_err());
}

/// A folder under the system's temp dir, removed when dropped.
mod tempfile_dir {
    pub struct Dir(std::path::PathBuf);

    impl Dir {
        pub fn new(name: &str) -> Self {
            let path = std::env::temp_dir().join(format!(
                "gateway-{name}-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |elapsed| elapsed.as_nanos())
            ));
            std::fs::create_dir_all(&path).expect("temp dir");
            Self(path)
        }

        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
