//! The gateway forwards declared routes to the owning function over real HTTP.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::post;
use tower::ServiceExt;

async fn spawn_function() -> String {
    let app = Router::new().route(
        "/orders/{id}",
        post(
            |axum::extract::Path(id): axum::extract::Path<String>,
             headers: axum::http::HeaderMap,
             body: String| async move {
                let key = headers
                    .get("idempotency-key")
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                (StatusCode::CREATED, format!("{id}|{key}|{body}"))
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

fn gateway(base_url: String) -> Router {
    let targets = vec![gateway::Target {
        method: "POST".to_owned(),
        path: "/orders/{id}".to_owned(),
        function: "place-order".to_owned(),
        base_url,
    }];
    runtime::http::HttpFunction::new(gateway::router(&targets).expect("routes")).into_router()
}

#[tokio::test]
async fn a_declared_route_reaches_its_function_with_path_headers_and_body() {
    let router = gateway(spawn_function().await);
    let request = Request::post("/orders/o-7?dry=1")
        .header("idempotency-key", "k-1")
        .body(Body::from("hello"))
        .expect("request");
    let response = router.oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::CREATED);
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .expect("body");
    assert_eq!(&body[..], b"o-7|k-1|hello");
}

#[tokio::test]
async fn an_undeclared_route_gets_the_404_envelope_and_a_dead_function_a_502() {
    let router = gateway("http://127.0.0.1:1".to_owned());
    let response = router
        .clone()
        .oneshot(Request::get("/nope").body(Body::empty()).expect("request"))
        .await
        .expect("ok");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let response = router
        .oneshot(Request::post("/orders/o-1").body(Body::empty()).expect("request"))
        .await
        .expect("ok");
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let body: serde_json::Value = serde_json::from_slice(
        &axum::body::to_bytes(response.into_body(), 4096)
            .await
            .expect("body"),
    )
    .expect("json");
    assert_eq!(body["error"]["code"], "FUNCTION_UNAVAILABLE");
}

/// What the function behind the gateway was told about its client.
async fn spawn_echo_of_forwarded_for() -> String {
    let app = Router::new().route(
        "/auth/login",
        post(|headers: axum::http::HeaderMap| async move {
            headers
                .get_all("x-forwarded-for")
                .iter()
                .map(|value| value.to_str().unwrap_or("<opaque>").to_owned())
                .collect::<Vec<_>>()
                .join(" | ")
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

#[tokio::test]
async fn the_gateway_appends_the_connecting_peer_after_any_forwarded_for_the_client_sent() {
    let targets = vec![gateway::Target {
        method: "POST".to_owned(),
        path: "/auth/login".to_owned(),
        function: "login".to_owned(),
        base_url: spawn_echo_of_forwarded_for().await,
    }];
    let router = runtime::http::HttpFunction::new(gateway::router(&targets).expect("routes")).into_router();
    // Served as the local stack serves it, with each connection's peer address.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let gateway_address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });

    let client = reqwest::Client::new();
    let told = |spoofed: Option<&'static str>| {
        let mut request = client.post(format!("http://{gateway_address}/auth/login"));
        if let Some(spoofed) = spoofed {
            request = request.header("x-forwarded-for", spoofed);
        }
        async move {
            request
                .send()
                .await
                .expect("the gateway answers")
                .text()
                .await
                .expect("a body")
        }
    };
    assert_eq!(told(None).await, "127.0.0.1");
    assert_eq!(
        told(Some("203.0.113.66")).await,
        "203.0.113.66, 127.0.0.1",
        "one header line, the peer last"
    );
}

/// Answers every request with its method and path, so a test sees where the gateway sent it.
async fn spawn_echo_of_path() -> String {
    let app = Router::new().fallback(|request: Request<Body>| async move {
        format!("{} {}", request.method(), request.uri().path())
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

#[tokio::test]
async fn the_shopping_routes_of_template_yaml_reach_the_functions_that_serve_them() {
    let template = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
    let registry = template::Registry::load(&template).expect("template.yaml");
    let echo = spawn_echo_of_path().await;
    // Every function behind one echo server, each under a prefix of its own name.
    let targets: Vec<gateway::Target> = gateway::targets(&registry, "127.0.0.1", 1)
        .into_iter()
        .map(|target| gateway::Target {
            base_url: format!("{echo}/{}", target.function),
            ..target
        })
        .collect();
    let router = runtime::http::HttpFunction::new(gateway::router(&targets).expect("routes")).into_router();
    for (method, path, function) in [
        ("GET", "/cart", "manage-cart"),
        ("DELETE", "/cart", "manage-cart"),
        ("POST", "/cart/items", "manage-cart"),
        ("PATCH", "/cart/items/cup", "manage-cart"),
        ("DELETE", "/cart/items/cup", "manage-cart"),
        ("POST", "/cart/checkout", "place-order"),
        ("POST", "/orders", "place-order"),
        ("GET", "/users/me/addresses", "manage-addresses"),
        ("POST", "/users/me/addresses", "manage-addresses"),
        ("DELETE", "/users/me/addresses/a-1", "manage-addresses"),
        ("PUT", "/users/me/addresses/a-1/default", "manage-addresses"),
        ("GET", "/users/me", "get-my-profile"),
        ("POST", "/inventory/availability", "get-availability"),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .expect("request");
        let response = router.clone().oneshot(request).await.expect("response");
        assert_eq!(response.status(), StatusCode::OK, "{method} {path}");
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .expect("body");
        assert_eq!(
            String::from_utf8_lossy(&body),
            format!("{method} /{function}{path}"),
            "{method} {path}"
        );
    }
}
