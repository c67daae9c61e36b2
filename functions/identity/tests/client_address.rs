//! Whose address the limits count: the one the trusted proxy saw, never the one a client
//! writes into `X-Forwarded-For` itself.
//!
//! The first test puts the local gateway (the real router, served with each connection's peer
//! address as the local stack serves it) in front of the identity functions served over HTTP,
//! and sends every attempt with a different forged `X-Forwarded-For`: the reproduction of the
//! finding that a client could escape the per-address limits that way.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use identity::limits::Limit;
use runtime::http::HttpFunction;
use support::{PASSWORD, Settings, TestApp, unique_email};

/// The local gateway routing the identity paths to `identity`, served on a port of its own
/// with the peer address of every connection. Answers its base URL.
async fn gateway_in_front_of(functions: SocketAddr) -> String {
    let targets: Vec<gateway::Target> = [identity::http::LOGIN_PATH, identity::http::REGISTER_PATH]
        .into_iter()
        .map(|path| gateway::Target {
            method: "POST".to_owned(),
            path: path.to_owned(),
            function: "identity".to_owned(),
            base_url: format!("http://{functions}"),
        })
        .collect();
    let router = HttpFunction::new(gateway::router(&targets).expect("routes")).into_router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("the gateway's address");
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    format!("http://{address}")
}

/// A POST through the gateway with a forged `X-Forwarded-For`; answers the status and code.
async fn post_forged(
    client: &reqwest::Client,
    url: String,
    forged: &str,
    body: serde_json::Value,
) -> (StatusCode, String) {
    let answer = client
        .post(url)
        .header("x-forwarded-for", forged)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("the gateway answers");
    let status = answer.status();
    let bytes = answer.bytes().await.expect("a body");
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let code = body["error"]["code"].as_str().unwrap_or_default().to_owned();
    (status, code)
}

#[tokio::test]
async fn a_client_cannot_escape_the_per_address_limits_by_forging_x_forwarded_for() {
    let mut settings = Settings {
        registrations: Limit::new(2, Duration::from_secs(3600)),
        ..Settings::default()
    };
    settings.login.per_account_and_address = Limit::new(3, Duration::from_secs(600));
    let app = TestApp::spawn_with(settings).await;
    let functions = testkit::serve::router(app.router.clone()).await;
    let gateway = gateway_in_front_of(functions).await;
    let client = reqwest::Client::new();

    let mut registrations = Vec::new();
    for attempt in 1..=3 {
        let email = unique_email();
        let body = serde_json::json!({"email": email, "password": PASSWORD, "displayName": "Forger"});
        let forged = format!("203.0.113.{attempt}");
        registrations.push(post_forged(&client, format!("{gateway}/auth/register"), &forged, body).await);
    }
    assert_eq!(registrations[0].0, StatusCode::CREATED);
    assert_eq!(registrations[1].0, StatusCode::CREATED);
    assert_eq!(
        registrations[2],
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED".to_owned()),
        "a new forged address does not start a new allowance"
    );

    let (victim, _) = app.logged_in_user().await;
    let mut logins = Vec::new();
    for attempt in 1..=4 {
        let body = serde_json::json!({"email": victim, "password": "a guess at the password"});
        let forged = format!("10.{attempt}.{attempt}.{attempt}, 198.51.100.{attempt}");
        logins.push(post_forged(&client, format!("{gateway}/auth/login"), &forged, body).await);
    }
    let codes: Vec<&str> = logins.iter().map(|(_, code)| code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "INVALID_CREDENTIALS",
            "INVALID_CREDENTIALS",
            "INVALID_CREDENTIALS",
            "RATE_LIMITED"
        ]
    );

    let recorded: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT ip FROM login_history WHERE email = ? AND success = FALSE")
            .bind(&victim)
            .fetch_all(&app.database.pool)
            .await
            .expect("history");
    assert_eq!(
        recorded,
        ["127.0.0.1"],
        "the history names the address the gateway saw"
    );
    app.finish().await;
}

#[tokio::test]
async fn under_lambda_the_client_is_api_gateways_source_ip_whatever_the_header_says() {
    let app = TestApp::spawn().await;
    let (email, _) = app.logged_in_user().await;
    let body = serde_json::json!({"email": email, "password": PASSWORD}).to_string();
    // An HTTP API (payload 2.0) event as API Gateway hands it to the function. The header
    // holds only what the client wrote, so the address can only come from `sourceIp`.
    let event = serde_json::json!({
        "version": "2.0",
        "routeKey": "POST /auth/login",
        "rawPath": "/auth/login",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "x-forwarded-for": "6.6.6.6",
            "user-agent": "lambda-test"
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {
                "method": "POST",
                "path": "/auth/login",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.50",
                "userAgent": "lambda-test"
            },
            "requestId": "request-1",
            "routeKey": "POST /auth/login",
            "stage": "$default",
            "time": "02/Dec/2026:05:00:00 +0000",
            "timeEpoch": 1_796_187_600_000_i64
        },
        "body": body,
        "isBase64Encoded": false
    });
    let (parts, lambda_body) = lambda_http::request::from_str(&event.to_string())
        .expect("an API Gateway event")
        .into_parts();
    let request = Request::from_parts(parts, Body::from(lambda_body.to_vec()));
    let reply = testkit::app::send(&app.router, request).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);

    let ip: String =
        sqlx::query_scalar("SELECT ip FROM login_history WHERE email = ? ORDER BY id DESC LIMIT 1")
            .bind(&email)
            .fetch_one(&app.database.pool)
            .await
            .expect("the last attempt");
    assert_eq!(ip, "203.0.113.50");
    app.finish().await;
}
