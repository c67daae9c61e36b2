//! `spawn_app` for the identity integration tests: every identity route in one router,
//! called in-process, on a fresh database of the local stack's MariaDB and its real Redis.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use identity::client::TrustedProxies;
use identity::hashing::PasswordHashing;
use identity::http::{self, Identity};
use identity::limits::{Limit, LoginLimits};
use identity::rate_limit::{AttemptLimiter, CounterKeys, Counters, LoginGuard};
use identity::sessions::Issuing;
use runtime::http::HttpFunction;
use security::{SigningKeys, TokenIssuer};
use store::testing::TestDatabase;

pub const PASSWORD: &str = "a long enough passphrase";

/// The secret naming the test counters' keys.
pub const COUNTER_SECRET: [u8; 32] = [7; 32];

/// What a test app is configured with; the defaults are the production limits, with room for
/// a few concurrent password hashes.
#[derive(Debug, Clone)]
pub struct Settings {
    pub login: LoginLimits,
    pub registrations: Limit,
    pub password_changes: Limit,
    pub hashing_workers: usize,
    pub hashing_queue: usize,
    pub refresh_ttl: Duration,
    pub session_lifetime: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            login: LoginLimits::default(),
            registrations: Limit::new(20, Duration::from_secs(3600)),
            password_changes: Limit::new(5, Duration::from_secs(900)),
            hashing_workers: 2,
            hashing_queue: 64,
            refresh_ttl: Duration::from_secs(3600),
            session_lifetime: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

pub struct TestApp {
    pub database: TestDatabase,
    pub router: Router,
    pub issuer: Arc<TokenIssuer>,
    /// The password hashing of this app, to occupy it in tests of a full queue.
    pub hashing: PasswordHashing,
    /// The Redis key prefix of this app's counters (one per test database).
    pub counter_prefix: String,
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

/// The Redis of the local stack.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6380".to_owned())
}

/// Everything the identity routes need, on `database`, with counters under `counter_prefix`.
pub fn wiring(
    database: &TestDatabase,
    counter_prefix: &str,
    settings: &Settings,
) -> (Identity, Arc<TokenIssuer>) {
    let issuer = Arc::new(TokenIssuer::new(
        SigningKeys::generate("test-key"),
        "https://identity.test",
        "commerce",
        Duration::from_secs(300),
    ));
    let counters = Counters::new(
        &redis_url(),
        counter_prefix,
        CounterKeys::new(&COUNTER_SECRET).expect("a long enough secret"),
    )
    .expect("a Redis URL");
    let identity = Identity {
        pool: database.pool.clone(),
        issuing: Issuing {
            issuer: Arc::clone(&issuer),
            refresh_ttl: settings.refresh_ttl,
            session_lifetime: settings.session_lifetime,
        },
        hashing: PasswordHashing::new(settings.hashing_workers, settings.hashing_queue),
        trusted: TrustedProxies::hops(1),
        login_guard: LoginGuard::new(counters.clone(), settings.login),
        registrations: AttemptLimiter::new(counters.clone(), "registrations-address", settings.registrations),
        password_changes: AttemptLimiter::new(
            counters,
            "password-change-failures-session",
            settings.password_changes,
        ),
    };
    (identity, issuer)
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Settings::default()).await
    }

    pub async fn spawn_with(settings: Settings) -> Self {
        let database = TestDatabase::with_migrations_of("identity").await;
        let counter_prefix = format!("identity-test:{}", database.name);
        let (wired, issuer) = wiring(&database, &counter_prefix, &settings);
        let verifier = Arc::new(issuer.verifier().expect("a verifier of the test keys"));
        let hashing = wired.hashing.clone();
        let router = HttpFunction::new(http::all_routes(wired, verifier))
            .body_limit(http::BODY_LIMIT)
            .into_router();
        let ip = format!("198.51.100.{}", rand_octet());
        Self {
            database,
            router,
            issuer,
            hashing,
            counter_prefix,
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
        self.request_from(&self.ip, method, path, body, bearer).await
    }

    /// A request as the proxy in front of the function forwards it for a client at `ip`: the
    /// proxy's entry last in `X-Forwarded-For`, after one the client wrote itself.
    pub async fn request_from(
        &self,
        ip: &str,
        method: Method,
        path: &str,
        body: Option<Body>,
        bearer: Option<&str>,
    ) -> TestResponse {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("x-forwarded-for", format!("203.0.113.9, {ip}"))
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
        self.login_from(&self.ip, email, password).await
    }

    /// A login by a client at `ip`.
    pub async fn login_from(&self, ip: &str, email: &str, password: &str) -> TestResponse {
        let body = serde_json::json!({"email": email, "password": password});
        self.request_from(
            ip,
            Method::POST,
            http::LOGIN_PATH,
            Some(Body::from(body.to_string())),
            None,
        )
        .await
    }

    /// A password change in the session of `access_token`.
    pub async fn change_password(&self, access_token: &str, current: &str, new: &str) -> TestResponse {
        let body = serde_json::json!({"currentPassword": current, "newPassword": new});
        self.request(
            Method::PUT,
            http::MY_PASSWORD_PATH,
            Some(Body::from(body.to_string())),
            Some(access_token),
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

    /// Withdraws the account of `access_token`, confirming with `password` (none: no field).
    pub async fn withdraw(&self, access_token: &str, password: Option<&str>) -> TestResponse {
        let body = match password {
            Some(password) => serde_json::json!({"password": password}),
            None => serde_json::json!({}),
        };
        self.request(
            Method::DELETE,
            http::WITHDRAW_PATH,
            Some(Body::from(body.to_string())),
            Some(access_token),
        )
        .await
    }

    /// An admin's lock of the user `id` (any text, to try malformed ids too).
    pub async fn lock(&self, admin_token: Option<&str>, id: &str) -> TestResponse {
        self.request(
            Method::POST,
            &format!("/admin/users/{id}/lock"),
            None,
            admin_token,
        )
        .await
    }

    pub async fn unlock(&self, admin_token: Option<&str>, id: &str) -> TestResponse {
        self.request(
            Method::POST,
            &format!("/admin/users/{id}/unlock"),
            None,
            admin_token,
        )
        .await
    }

    /// The public profile of the user `id`, asked without a token.
    pub async fn public_profile(&self, id: &str) -> TestResponse {
        self.request(Method::GET, &format!("/users/{id}/profile"), None, None)
            .await
    }

    /// Registers a fresh user, grants it the admin role and logs it in: (user id, login
    /// response, whose access token carries the role).
    pub async fn logged_in_admin(&self) -> (uuid::Uuid, TestResponse) {
        let email = unique_email();
        let registered = self.register(&email, PASSWORD, "Admin").await;
        assert_eq!(registered.status, StatusCode::CREATED, "{:?}", registered.body);
        let parsed = identity::domain::Email::parse(&email).expect("a valid address");
        let admin_id = identity::use_cases::grant_admin(&self.database.pool, &parsed)
            .await
            .expect("grant admin");
        let login = self.login(&email, PASSWORD).await;
        assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
        (admin_id, login)
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

/// Another address of the documentation range, different from the app's own.
pub fn another_address(index: u8) -> String {
    format!("192.0.2.{index}")
}
