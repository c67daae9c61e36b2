//! A context's HTTP functions called in-process: the router a binary serves (with the
//! runtime's envelope, probes and fallbacks) driven with `oneshot`, on a throw-away database
//! of the local stack's MariaDB. No port, no network.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use security::{AccessTokenVerifier, Role, SigningKeys, TokenIssuer};
use serde_json::Value;
use sqlx::MySqlPool;
use store::testing::TestDatabase;
use tower::ServiceExt;
use uuid::Uuid;

/// The issuer and audience of test tokens; the verifiers of [`TestTokens`] expect them.
pub const ISSUER: &str = "https://identity.test";
pub const AUDIENCE: &str = "commerce";

/// Access tokens signed with a key pair of the test's own, and the verifier that accepts them.
#[derive(Debug, Clone)]
pub struct TestTokens {
    issuer: TokenIssuer,
}

impl Default for TestTokens {
    fn default() -> Self {
        Self::new()
    }
}

impl TestTokens {
    pub fn new() -> Self {
        Self {
            issuer: TokenIssuer::new(
                SigningKeys::generate("k1"),
                ISSUER,
                AUDIENCE,
                Duration::from_secs(300),
            ),
        }
    }

    /// A verifier of these tokens, as the routers take it.
    pub fn verifier(&self) -> Arc<AccessTokenVerifier> {
        Arc::new(AccessTokenVerifier::new(self.issuer.jwks(), ISSUER, AUDIENCE))
    }

    /// A bearer token of `user` with `role`.
    pub fn token(&self, user: Uuid, role: Role) -> String {
        self.issuer
            .issue(user, &[role])
            .expect("a token signed with the test keys")
            .token
    }
}

/// What a router answered.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The JSON body, or `Null` when there is none.
    pub body: Value,
}

/// A request as a client sends it: an optional bearer token and an optional JSON body.
pub fn request(method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    request.body(body).expect("a valid request")
}

/// Sends `request` to `router` in-process and reads the answer.
pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("a router always answers");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("the whole body")
        .to_bytes();
    Reply {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// A context's routes, served as its binaries serve them, on a fresh database with the
/// context's migrations. Drop the database at the end of the test with
/// `app.database.drop().await`.
#[derive(Debug)]
pub struct TestApp {
    pub database: TestDatabase,
    pub tokens: TestTokens,
    pub router: Router,
}

impl TestApp {
    /// `routes` builds the context's routes on the database's pool, guarded by the verifier of
    /// [`TestApp::tokens`]; merge every function's routes, as the gateway would route them.
    pub async fn spawn(
        context: &str,
        routes: impl FnOnce(MySqlPool, Arc<AccessTokenVerifier>) -> Router,
    ) -> Self {
        let database = TestDatabase::with_migrations_of(context).await;
        let tokens = TestTokens::new();
        let routes = routes(database.pool.clone(), tokens.verifier());
        Self {
            router: runtime::http::HttpFunction::new(routes).into_router(),
            tokens,
            database,
        }
    }

    /// Calls `method path` as a new user with `role` (anonymously without one), with an
    /// optional JSON body; answers the status and the JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        role: Option<Role>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let token = role.map(|role| self.tokens.token(Uuid::now_v7(), role));
        let reply = send(&self.router, request(method, path, token.as_deref(), body)).await;
        (reply.status, reply.body)
    }
}
