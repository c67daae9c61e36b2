//! `/readyz` of the identity functions as they are served: ready only when what they need
//! answers — the database, and Redis for the functions that keep limits in it (ADR 0031).

use std::process::Command;

use security::SigningKeys;
use store::testing::TestDatabase;
use testkit::serve::ServedBinary;

const UNREACHABLE_DATABASE: &str = "mysql://nobody:nothing@127.0.0.1:1/identity";
const UNREACHABLE_REDIS: &str = "redis://127.0.0.1:1";

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6380".to_owned())
}

/// `login` on a port it picks itself, against `database_url` and `redis_url`.
async fn serve_login(database_url: &str, redis_url: &str) -> ServedBinary {
    let mut command = Command::new(env!("CARGO_BIN_EXE_login"));
    for variable in [
        "JWT_SIGNING_KEYS_FILE",
        "JWT_SIGNING_KEYS_SECRET_ID",
        "JWT_SIGNING_KEYS_PARAMETER",
    ] {
        command.env_remove(variable);
    }
    command
        .env("DATABASE_URL", database_url)
        .env("REDIS_URL", redis_url)
        .env("JWT_ISSUER", "https://identity.test")
        .env("JWT_AUDIENCE", "commerce")
        .env(
            "JWT_SIGNING_KEYS",
            SigningKeys::generate("readiness").to_private_json(),
        )
        .env(
            "RATE_LIMIT_HMAC_KEY",
            "a readiness test secret of at least 32 bytes",
        )
        .env_remove("RATE_LIMIT_HMAC_KEY_FILE");
    ServedBinary::start(command).await
}

/// `/healthz` and `/readyz` of a served binary: (health status, readiness status, readiness body).
async fn probes(function: &ServedBinary) -> (u16, u16, String) {
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/healthz", function.url()))
        .send()
        .await
        .expect("healthz answers");
    let ready = client
        .get(format!("{}/readyz", function.url()))
        .send()
        .await
        .expect("readyz answers");
    let status = ready.status().as_u16();
    (
        health.status().as_u16(),
        status,
        ready.text().await.expect("a body"),
    )
}

#[tokio::test]
async fn login_with_its_database_and_redis_unreachable_is_alive_but_not_ready_and_names_both() {
    let login = serve_login(UNREACHABLE_DATABASE, UNREACHABLE_REDIS).await;
    let (health, ready, body) = probes(&login).await;
    assert_eq!(health, 200, "the process itself is fine");
    assert_eq!(ready, 503, "but it cannot do its work: {body}");
    assert!(body.contains("the database does not answer"), "{body}");
    assert!(body.contains("redis does not answer"), "{body}");
}

#[tokio::test]
async fn login_with_redis_unreachable_is_not_ready_even_though_its_database_answers() {
    let database = TestDatabase::with_migrations_of("identity").await;
    let login = serve_login(&database.url(), UNREACHABLE_REDIS).await;
    let (_, ready, body) = probes(&login).await;
    assert_eq!(ready, 503, "{body}");
    assert!(body.contains("redis does not answer"), "{body}");
    assert!(!body.contains("database"), "only Redis is named: {body}");
    drop(login);
    database.drop().await;
}

#[tokio::test]
async fn login_with_its_database_and_redis_up_is_ready() {
    let database = TestDatabase::with_migrations_of("identity").await;
    let login = serve_login(&database.url(), &redis_url()).await;
    let (health, ready, body) = probes(&login).await;
    assert_eq!((health, ready), (200, 200), "{body}");
    drop(login);
    database.drop().await;
}

#[tokio::test]
async fn a_function_without_redis_is_not_ready_when_its_database_is_unreachable() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_get-my-profile"));
    command
        .env("DATABASE_URL", UNREACHABLE_DATABASE)
        .env("JWT_ISSUER", "https://identity.test")
        .env("JWT_AUDIENCE", "commerce")
        .env("JWT_JWKS", SigningKeys::generate("readiness").jwks().to_json())
        .env_remove("JWT_JWKS_FILE");
    let profile = ServedBinary::start(command).await;
    let (health, ready, body) = probes(&profile).await;
    assert_eq!((health, ready), (200, 503), "{body}");
    assert!(body.contains("the database does not answer"), "{body}");
}
