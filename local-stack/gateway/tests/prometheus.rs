//! Admins read Prometheus's two query calls through the gateway; nobody else reads them, and
//! nothing else of Prometheus's API is reachable (docs/adr/0058).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::RawQuery;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use security::{Role, SigningKeys, TokenIssuer};
use tower::ServiceExt;

const ISSUER: &str = "https://identity.commerce.test";
const AUDIENCE: &str = "commerce";

/// A stand-in for Prometheus that answers the query calls with what it was asked and
/// remembers every request it saw (path and query).
async fn spawn_prometheus(seen: Arc<Mutex<Vec<String>>>) -> String {
    let remember = |seen: Arc<Mutex<Vec<String>>>, path: &'static str| {
        move |RawQuery(query): RawQuery| {
            let seen = Arc::clone(&seen);
            async move {
                let query = query.unwrap_or_default();
                seen.lock().expect("lock").push(format!("{path}?{query}"));
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    format!(r#"{{"status":"success","data":{{"asked":"{path}?{query}"}}}}"#),
                )
            }
        }
    };
    let app = Router::new()
        .route("/api/v1/query", get(remember(Arc::clone(&seen), "/api/v1/query")))
        .route(
            "/api/v1/query_range",
            get(remember(Arc::clone(&seen), "/api/v1/query_range")),
        )
        .fallback(move |request: Request<Body>| {
            let seen = Arc::clone(&seen);
            async move {
                seen.lock().expect("lock").push(request.uri().to_string());
                StatusCode::NO_CONTENT
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

fn issuer() -> TokenIssuer {
    TokenIssuer::new(
        SigningKeys::generate("key-1"),
        ISSUER,
        AUDIENCE,
        Duration::from_secs(300),
    )
}

fn gateway(prometheus: &str, issuer: &TokenIssuer) -> Router {
    let verifier = issuer.verifier().expect("verifier");
    runtime::http::HttpFunction::new(gateway::prometheus::router(prometheus, Some(verifier)).expect("routes"))
        .into_router()
}

fn token(issuer: &TokenIssuer, roles: &[Role]) -> String {
    issuer.issue(uuid::Uuid::now_v7(), roles).expect("token").token
}

async fn get_as(router: &Router, uri: &str, token: Option<&str>) -> (StatusCode, serde_json::Value) {
    let mut request = Request::get(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn an_admin_reads_both_query_calls_with_their_parameters() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let issuer = issuer();
    let router = gateway(&spawn_prometheus(Arc::clone(&seen)).await, &issuer);
    let admin = token(&issuer, &[Role::Customer, Role::Admin]);

    let (status, body) = get_as(&router, "/admin/prometheus/api/v1/query?query=up", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["asked"], "/api/v1/query?query=up");

    let uri = "/admin/prometheus/api/v1/query_range?query=sum(rate(x%5B1m%5D))&start=1&end=901&step=15";
    let (status, body) = get_as(&router, uri, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["asked"],
        "/api/v1/query_range?query=sum(rate(x%5B1m%5D))&start=1&end=901&step=15"
    );
    assert_eq!(seen.lock().expect("lock").len(), 2);
}

#[tokio::test]
async fn strangers_and_customers_are_refused_before_prometheus_is_asked() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let issuer = issuer();
    let router = gateway(&spawn_prometheus(Arc::clone(&seen)).await, &issuer);

    let (status, body) = get_as(&router, "/admin/prometheus/api/v1/query?query=up", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "UNAUTHENTICATED");

    let customer = token(&issuer, &[Role::Customer]);
    let (status, body) = get_as(
        &router,
        "/admin/prometheus/api/v1/query_range?query=up",
        Some(&customer),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "FORBIDDEN");

    // A token another issuer signed (its key unknown here) is no admin either.
    let stranger = token(&self::issuer(), &[Role::Admin]);
    let (status, _) = get_as(
        &router,
        "/admin/prometheus/api/v1/query?query=up",
        Some(&stranger),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    assert!(
        seen.lock().expect("lock").is_empty(),
        "Prometheus was asked: {:?}",
        seen.lock()
    );
}

#[tokio::test]
async fn nothing_but_the_two_get_calls_reaches_prometheus_even_for_an_admin() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let issuer = issuer();
    let router = gateway(&spawn_prometheus(Arc::clone(&seen)).await, &issuer);
    let admin = format!("Bearer {}", token(&issuer, &[Role::Admin]));

    for (method, uri) in [
        ("POST", "/admin/prometheus/api/v1/query?query=up"),
        ("POST", "/admin/prometheus/api/v1/query_range?query=up"),
        ("DELETE", "/admin/prometheus/api/v1/query"),
        (
            "POST",
            "/admin/prometheus/api/v1/admin/tsdb/delete_series?match[]=up",
        ),
        ("POST", "/admin/prometheus/api/v1/admin/tsdb/clean_tombstones"),
        ("PUT", "/admin/prometheus/-/quit"),
        ("POST", "/admin/prometheus/-/reload"),
        ("GET", "/admin/prometheus/api/v1/targets"),
        ("GET", "/admin/prometheus/api/v1/query/../admin/tsdb/snapshot"),
        ("GET", "/admin/prometheus/"),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, &admin)
            .body(Body::empty())
            .expect("request");
        let response = router.clone().oneshot(request).await.expect("response");
        assert!(
            response.status() == StatusCode::NOT_FOUND || response.status() == StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri} answered {}",
            response.status()
        );
    }
    assert!(
        seen.lock().expect("lock").is_empty(),
        "Prometheus was asked: {:?}",
        seen.lock()
    );
}

#[tokio::test]
async fn a_prometheus_that_is_not_running_is_named_in_the_answer() {
    let issuer = issuer();
    let router = gateway("http://127.0.0.1:1", &issuer);
    let admin = token(&issuer, &[Role::Admin]);
    let (status, body) = get_as(&router, "/admin/prometheus/api/v1/query?query=up", Some(&admin)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "PROMETHEUS_UNAVAILABLE");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("OBSERVABILITY=1"), "{message}");
}

#[tokio::test]
async fn without_token_settings_the_calls_say_so() {
    let router = runtime::http::HttpFunction::new(
        gateway::prometheus::router("http://127.0.0.1:1", None).expect("routes"),
    )
    .into_router();
    let (status, body) = get_as(&router, "/admin/prometheus/api/v1/query?query=up", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "METRICS_NOT_CONFIGURED");
}
