//! `spawn_app` for the identity integration tests: every identity route in one router,
//! called in-process, on a fresh database of the local stack's MariaDB and its real Redis.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use identity::http::{self, LoginState};
use identity::rate_limit::{Limit, LoginLimiter};
use identity::sessions::Issuing;
use runtime::http::HttpFunction;
use security::{SigningKeys, TokenIssuer};
use store::testing::TestDatabase;

pub const PASSWORD: &str = "a long enough passphrase";

pub struct TestApp {
    pub database: TestDatabase,
    pub router: Router,
    pub issuer: Arc<TokenIssuer>,
    /// A per-test address, so per-address limits of parallel tests never meet.
    pub ip: String,
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
}

impl TestResponse {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    /// The fields named in `fieldErrors`.
    pub fn bad_fields(&self) -> Vec<String> {
        self.body["error"]["fieldErrors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|error| error["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn data(&self, field: &str) -> String {
        self.body["data"][field].as_str().unwrap_or_default().to_owned()
    }
}

pub fn unique_email() -> String {
    format!("user-{}@example.com", uuid::Uuid::now_v7().simple())
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with_account_limit(10).await
    }

    pub async fn spawn_with_account_limit(per_account: u32) -> Self {
        let database = TestDatabase::with_migrations_of("identity").await;
        let issuer = Arc::new(TokenIssuer::new(
            SigningKeys::generate("test-key"),
            "https://identity.test",
            "commerce",
            Duration::from_secs(300),
        ));
        let verifier = Arc::new(issuer.verifier().expect("a verifier of the test keys"));
        let window = Duration::from_secs(60);
        let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6380".to_owned());
        let limiter = LoginLimiter::new(
            &redis_url,
            &format!("identity-test:{}", database.name),
            Limit {
                max_attempts: per_account,
                window,
            },
            Limit {
                max_attempts: 1_000,
                window,
            },
        )
        .expect("a Redis URL");
        let state = LoginState {
            pool: database.pool.clone(),
            issuing: Issuing {
                issuer: Arc::clone(&issuer),
                refresh_ttl: Duration::from_secs(3600),
            },
            limiter,
        };
        let router = HttpFunction::new(http::all_routes(state, verifier))
            .body_limit(http::BODY_LIMIT)
            .into_router();
        let ip = format!("198.51.100.{}", rand_octet());
        Self {
            database,
            router,
            issuer,
            ip,
        }
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Body>,
        bearer: Option<&str>,
    ) -> TestResponse {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("x-forwarded-for", format!("203.0.113.9, {}", self.ip))
            .header("user-agent", "identity-tests/1.0");
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(body.unwrap_or_else(Body::empty)).expect("request");
        let reply = testkit::app::send(&self.router, request).await;
        TestResponse {
            status: reply.status,
            headers: reply.headers,
            body: reply.body,
        }
    }

    pub async fn post(&self, path: &str, json: serde_json::Value, bearer: Option<&str>) -> TestResponse {
        self.request(Method::POST, path, Some(Body::from(json.to_string())), bearer)
            .await
    }

    pub async fn register(&self, email: &str, password: &str, display_name: &str) -> TestResponse {
        self.post(
            http::REGISTER_PATH,
            serde_json::json!({"email": email, "password": password, "displayName": display_name}),
            None,
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> TestResponse {
        self.post(
            http::LOGIN_PATH,
            serde_json::json!({"email": email, "password": password}),
            None,
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> TestResponse {
        self.post(
            http::REFRESH_PATH,
            serde_json::json!({"refreshToken": refresh_token}),
            None,
        )
        .await
    }

    pub async fn my_profile(&self, access_token: &str) -> TestResponse {
        self.request(Method::GET, http::MY_PROFILE_PATH, None, Some(access_token))
            .await
    }

    /// Registers and logs in a fresh user: (email, login response).
    pub async fn logged_in_user(&self) -> (String, TestResponse) {
        let email = unique_email();
        let registered = self.register(&email, PASSWORD, "Test User").await;
        assert_eq!(registered.status, StatusCode::CREATED, "{:?}", registered.body);
        let login = self.login(&email, PASSWORD).await;
        assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
        (email, login)
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(&self.database.pool)
            .await
            .expect("count")
    }

    pub async fn finish(self) {
        drop(self.router);
        self.database.drop().await;
    }
}

fn rand_octet() -> u8 {
    (uuid::Uuid::new_v4().as_bytes()[0] % 250) + 1
}
