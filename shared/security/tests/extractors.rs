//! The extractors answer in the envelope: 401 for any missing, garbled or refused token,
//! 403 for a non-admin on an admin route, never a 500.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::{Extension, Json};
use http_body_util::BodyExt;
use security::{AccessTokenVerifier, Admin, AuthenticatedUser, Role, SigningKeys, TokenIssuer};
use tower::ServiceExt;

fn issuer() -> TokenIssuer {
    TokenIssuer::new(
        SigningKeys::generate("k1"),
        "https://identity.test",
        "commerce",
        Duration::from_secs(300),
    )
}

fn app(issuer: &TokenIssuer) -> Router {
    let verifier = AccessTokenVerifier::new(issuer.jwks(), "https://identity.test", "commerce");
    Router::new()
        .route(
            "/me",
            get(|user: AuthenticatedUser| async move { Json(user.user_id.to_string()) }),
        )
        .route(
            "/admin",
            get(|Admin(user): Admin| async move { Json(user.roles.len()) }),
        )
        .layer(Extension(Arc::new(verifier)))
}

async fn call(app: Router, path: &str, authorization: Option<&str>) -> (StatusCode, serde_json::Value) {
    call_raw(app, path, authorization.map(str::as_bytes)).await
}

async fn call_raw(app: Router, path: &str, authorization: Option<&[u8]>) -> (StatusCode, serde_json::Value) {
    let mut request = Request::get(path);
    if let Some(value) = authorization {
        let value = axum::http::HeaderValue::from_bytes(value).expect("a header value");
        request = request.header("authorization", value);
    }
    let response = app
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn a_valid_bearer_token_identifies_the_user() {
    let issuer = issuer();
    let user = uuid::Uuid::now_v7();
    let token = issuer.issue(user, &[Role::Customer]).expect("issue").token;
    let (status, body) = call(app(&issuer), "/me", Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, serde_json::json!(user.to_string()));
}

#[tokio::test]
async fn missing_or_garbled_authorization_headers_get_401_in_the_envelope() {
    let issuer = issuer();
    let token = issuer
        .issue(uuid::Uuid::now_v7(), &[Role::Customer])
        .expect("issue")
        .token;
    let cases = [
        None,
        Some(b"".as_slice()),
        Some(b"Bearer".as_slice()),
        Some(b"Bearer ".as_slice()),
        Some(b"Basic dXNlcjpwYXNz".as_slice()),
        Some(b"Bearer not-a-jwt".as_slice()),
        Some(b"Bearer a.b.c".as_slice()),
        Some(b"Bearer \xff\xfe".as_slice()),
        Some(b"Bearer \xc3\xa9.\xc3\xa9.\xc3\xa9".as_slice()),
        Some(token.as_bytes()),
    ];
    for authorization in cases {
        let (status, body) = call_raw(app(&issuer), "/me", authorization).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert_eq!(body["success"], false);
        assert_eq!(body["error"]["code"], "UNAUTHENTICATED", "{authorization:?}");
    }
}

#[tokio::test]
async fn a_customer_on_an_admin_route_gets_403_and_an_admin_gets_through() {
    let issuer = issuer();
    let customer = issuer
        .issue(uuid::Uuid::now_v7(), &[Role::Customer])
        .expect("issue")
        .token;
    let (status, body) = call(app(&issuer), "/admin", Some(&format!("Bearer {customer}"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "FORBIDDEN");

    let admin = issuer
        .issue(uuid::Uuid::now_v7(), &[Role::Customer, Role::Admin])
        .expect("issue")
        .token;
    let (status, _) = call(app(&issuer), "/admin", Some(&format!("bearer {admin}"))).await;
    assert_eq!(status, StatusCode::OK);
}
