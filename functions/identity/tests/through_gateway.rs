//! The whole session flow over real HTTP through the local stack's gateway, against the
//! identity functions `local-stack/up` started from template.yaml:
//! register → login → a protected route → refresh → reuse of the old refresh token → the
//! family is revoked → logout.
//!
//! The gateway's port comes from `GATEWAY_PORT` (exported by `local-stack/test`) or from the
//! stack's `stack.env`, so the test follows a stack started on other ports.

use reqwest::StatusCode;

fn gateway_url() -> String {
    let port = testkit::stack::setting("GATEWAY_PORT");
    format!("http://127.0.0.1:{}", port.as_deref().unwrap_or("8080"))
}

struct Gateway {
    client: reqwest::Client,
    base: String,
}

struct Answer {
    status: StatusCode,
    body: serde_json::Value,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    fn data(&self, field: &str) -> String {
        self.body["data"][field].as_str().unwrap_or_default().to_owned()
    }
}

impl Gateway {
    fn new() -> Self {
        Self {
            client: reqwest::Client::new(),
            base: gateway_url(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
        bearer: Option<&str>,
    ) -> Answer {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = request.send().await.unwrap_or_else(|error| {
            panic!(
                "the gateway at {} answers (is local-stack/up running?): {error}",
                self.base
            )
        });
        let status = response.status();
        let bytes = response.bytes().await.expect("a body");
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        }
    }

    async fn post(&self, path: &str, body: serde_json::Value, bearer: Option<&str>) -> Answer {
        self.send(reqwest::Method::POST, path, Some(body), bearer).await
    }

    async fn my_profile(&self, access_token: &str) -> Answer {
        self.send(reqwest::Method::GET, "/users/me", None, Some(access_token))
            .await
    }
}

#[tokio::test]
async fn register_login_refresh_reuse_and_logout_through_the_gateway() {
    let gateway = Gateway::new();
    let email = format!("e2e-{}@example.com", uuid::Uuid::now_v7().simple());
    let password = "an end-to-end passphrase";

    let registered = gateway
        .post(
            "/auth/register",
            serde_json::json!({"email": email, "password": password, "displayName": "End To End"}),
            None,
        )
        .await;
    assert_eq!(registered.status, StatusCode::CREATED, "{}", registered.body);

    let login = gateway
        .post(
            "/auth/login",
            serde_json::json!({"email": email, "password": password}),
            None,
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let first_access = login.data("accessToken");
    let first_refresh = login.data("refreshToken");

    let profile = gateway.my_profile(&first_access).await;
    assert_eq!(profile.status, StatusCode::OK, "{}", profile.body);
    assert_eq!(profile.data("email"), email);

    let refreshed = gateway
        .post(
            "/auth/refresh",
            serde_json::json!({"refreshToken": first_refresh}),
            None,
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let second_access = refreshed.data("accessToken");
    let second_refresh = refreshed.data("refreshToken");
    assert_eq!(gateway.my_profile(&second_access).await.status, StatusCode::OK);

    let reused = gateway
        .post(
            "/auth/refresh",
            serde_json::json!({"refreshToken": first_refresh}),
            None,
        )
        .await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reused.code(), "REFRESH_TOKEN_REUSED");

    let family_revoked = gateway
        .post(
            "/auth/refresh",
            serde_json::json!({"refreshToken": second_refresh}),
            None,
        )
        .await;
    assert_eq!(family_revoked.code(), "SESSION_REVOKED");
    assert_eq!(gateway.my_profile(&second_access).await.code(), "SESSION_REVOKED");

    // A new session, ended by logout.
    let again = gateway
        .post(
            "/auth/login",
            serde_json::json!({"email": email, "password": password}),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    let logout = gateway
        .post(
            "/auth/logout",
            serde_json::json!({}),
            Some(&again.data("accessToken")),
        )
        .await;
    assert_eq!(logout.status, StatusCode::OK, "{}", logout.body);
    let after_logout = gateway
        .post(
            "/auth/refresh",
            serde_json::json!({"refreshToken": again.data("refreshToken")}),
            None,
        )
        .await;
    assert_eq!(after_logout.code(), "SESSION_REVOKED");
}

#[tokio::test]
async fn the_gateway_serves_the_jwks_and_refuses_protected_routes_without_a_token() {
    let gateway = Gateway::new();
    let jwks = gateway
        .send(reqwest::Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    assert_eq!(jwks.status, StatusCode::OK);
    let keys = jwks.body["keys"].as_array().expect("a key list");
    assert!(!keys.is_empty());
    assert!(keys.iter().all(|key| key.get("d").is_none()), "no private part");

    let anonymous = gateway.send(reqwest::Method::GET, "/users/me", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.code(), "UNAUTHENTICATED");
    let garbled = gateway.my_profile("not.a.token").await;
    assert_eq!(garbled.status, StatusCode::UNAUTHORIZED);
    assert_eq!(garbled.code(), "UNAUTHENTICATED");
}
