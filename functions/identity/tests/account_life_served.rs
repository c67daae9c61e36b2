//! The account's life as deployed: the binaries `withdraw-account`, `lock-user`,
//! `unlock-user` and `get-public-profile`, each served on its own port with the environment
//! template.yaml gives it, behind the local gateway routing the paths template.yaml declares
//! for them — over real HTTP, against MariaDB and Redis. The users and their sessions come
//! from the other identity routes, in-process, on the same database.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use reqwest::{Method, StatusCode};
use runtime::http::HttpFunction;
use support::{PASSWORD, TestApp};
use testkit::serve::ServedBinary;

/// The functions this test serves, with their binaries.
const FUNCTIONS: [(&str, &str); 4] = [
    ("withdraw-account", env!("CARGO_BIN_EXE_withdraw-account")),
    ("lock-user", env!("CARGO_BIN_EXE_lock-user")),
    ("unlock-user", env!("CARGO_BIN_EXE_unlock-user")),
    ("get-public-profile", env!("CARGO_BIN_EXE_get-public-profile")),
];

fn registry() -> template::Registry {
    template::Registry::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml"))
        .expect("template.yaml reads")
}

/// Each function's binary on a port of its own, configured like the stack configures it,
/// trusting the app's signing key.
async fn serve_functions(app: &TestApp) -> BTreeMap<&'static str, ServedBinary> {
    let mut served = BTreeMap::new();
    for (name, binary) in FUNCTIONS {
        let mut command = Command::new(binary);
        command
            .env("DATABASE_URL", app.database.url())
            .env("JWT_ISSUER", "https://identity.test")
            .env("JWT_AUDIENCE", "commerce")
            .env("JWT_JWKS", app.issuer.jwks().to_json())
            .env("REDIS_URL", support::redis_url())
            .env(
                "RATE_LIMIT_HMAC_KEY",
                "a rate-limit key of at least thirty-two bytes",
            )
            .env("PASSWORD_HASHING_WORKERS", "1")
            .env_remove("JWT_JWKS_FILE")
            .env_remove("RATE_LIMIT_HMAC_KEY_FILE");
        served.insert(name, ServedBinary::start(command).await);
    }
    served
}

/// The local gateway with template.yaml's routes of the served functions. Answers its base URL.
async fn gateway(served: &BTreeMap<&'static str, ServedBinary>) -> String {
    let registry = registry();
    let targets: Vec<gateway::Target> = served
        .iter()
        .flat_map(|(name, binary)| {
            let function = registry
                .function(name)
                .unwrap_or_else(|| panic!("{name} is in template.yaml"));
            function.routes.iter().map(|route| gateway::Target {
                method: route.method.clone(),
                path: route.path.clone(),
                function: (*name).to_owned(),
                base_url: binary.url(),
            })
        })
        .collect();
    let router = HttpFunction::new(gateway::router(&targets).expect("routes")).into_router();
    format!("http://{}", testkit::serve::router(router).await)
}

struct Answer {
    status: StatusCode,
    body: serde_json::Value,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

async fn send(
    base: &str,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> Answer {
    let mut request = reqwest::Client::new().request(method, format!("{base}{path}"));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("the gateway answers");
    let status = response.status();
    let bytes = response.bytes().await.expect("a body");
    Answer {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    }
}

#[test]
fn template_yaml_routes_each_function_where_the_readme_says() {
    let registry = registry();
    let route = |name: &str| {
        let function = registry.function(name).expect("in template.yaml");
        assert_eq!(function.context.as_deref(), Some("identity"), "{name}");
        function
            .routes
            .iter()
            .map(|route| format!("{} {}", route.method, route.path))
            .collect::<Vec<_>>()
    };
    assert_eq!(route("withdraw-account"), ["DELETE /users/me"]);
    assert_eq!(route("lock-user"), ["POST /admin/users/{id}/lock"]);
    assert_eq!(route("unlock-user"), ["POST /admin/users/{id}/unlock"]);
    assert_eq!(route("get-public-profile"), ["GET /users/{id}/profile"]);
    // Next to `/users/me` (GET, PATCH, DELETE) and `/users/me/password`, the gateway routes
    // every path of the template without a conflict (axum refuses conflicting routes).
    let everything = gateway::targets(&registry, "127.0.0.1", 9000);
    assert!(gateway::router(&everything).is_ok());
}

#[tokio::test]
async fn the_served_functions_lock_unlock_withdraw_and_show_profiles_through_the_gateway() {
    let app = TestApp::spawn().await;
    let served = serve_functions(&app).await;
    let base = gateway(&served).await;
    let (_, admin) = app.logged_in_admin().await;
    let admin_token = admin.data("accessToken");
    let (email, customer) = app.logged_in_user().await;
    let customer_token = customer.data("accessToken");
    let customer_id = app.my_profile(&customer_token).await.data("id");

    let profile = send(
        &base,
        Method::GET,
        &format!("/users/{customer_id}/profile"),
        None,
        None,
    )
    .await;
    assert_eq!(profile.status, StatusCode::OK, "{}", profile.body);
    assert_eq!(profile.body["data"]["displayName"], "Test User");
    assert!(!profile.body.to_string().contains(&email));

    let lock_path = format!("/admin/users/{customer_id}/lock");
    let refused = send(&base, Method::POST, &lock_path, Some(&customer_token), None).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::FORBIDDEN, "FORBIDDEN")
    );
    let locked = send(&base, Method::POST, &lock_path, Some(&admin_token), None).await;
    assert_eq!(locked.status, StatusCode::OK, "{}", locked.body);
    assert_eq!(locked.body["data"]["status"], "LOCKED");
    let unlock_path = format!("/admin/users/{customer_id}/unlock");
    let unlocked = send(&base, Method::POST, &unlock_path, Some(&admin_token), None).await;
    assert_eq!(unlocked.status, StatusCode::OK, "{}", unlocked.body);
    assert_eq!(unlocked.body["data"]["status"], "ACTIVE");

    // The lock ended the customer's session: a new one withdraws.
    let session = app.login(&email, PASSWORD).await.data("accessToken");
    let wrong = send(
        &base,
        Method::DELETE,
        "/users/me",
        Some(&session),
        Some(serde_json::json!({"password": "not the password at all"})),
    )
    .await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::FORBIDDEN, "WRONG_PASSWORD")
    );
    let withdrawn = send(
        &base,
        Method::DELETE,
        "/users/me",
        Some(&session),
        Some(serde_json::json!({"password": PASSWORD})),
    )
    .await;
    assert_eq!(withdrawn.status, StatusCode::NO_CONTENT, "{}", withdrawn.body);
    let gone = send(
        &base,
        Method::GET,
        &format!("/users/{customer_id}/profile"),
        None,
        None,
    )
    .await;
    assert_eq!(
        (gone.status, gone.code()),
        (StatusCode::NOT_FOUND, "USER_NOT_FOUND")
    );

    // The functions' connections must be gone before the database can be dropped.
    drop(served);
    app.finish().await;
}
