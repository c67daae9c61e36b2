//! The event binaries (`project-catalog-product`, `project-customer-status`) as Knative and
//! the local dispatcher run them: without the Lambda variable each serves HTTP on `$PORT` and
//! takes CloudEvent POSTs.

use events::EventType;
use std::process::Command;

use store::testing::TestDatabase;
use testkit::serve::ServedBinary;

/// The function binary on a port it picks itself, against `database_url`.
async fn serve(database_url: &str) -> ServedBinary {
    let mut command = Command::new(env!("CARGO_BIN_EXE_project-catalog-product"));
    command.env("DATABASE_URL", database_url);
    ServedBinary::start(command).await
}

#[tokio::test]
async fn the_binary_serves_cloud_event_posts_on_its_port_and_maps_outcomes_to_statuses() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let function = serve(&database.url()).await;
    let client = reqwest::Client::new();

    let binary = client
        .post(format!("{}/", function.url()))
        .header("ce-specversion", "1.0")
        .header("ce-id", "0196f6a0-0000-7000-8000-000000000001")
        .header("ce-source", "commerce/catalog")
        .header("ce-type", events::catalog::ProductCreatedV1::NAME)
        .header("ce-time", "2026-11-25T10:00:00Z")
        .header("ce-partitionkey", "p-1")
        .header("content-type", "application/json")
        .body(r#"{"productId":"p-1","name":"Cup","priceMinor":1290,"currency":"EUR"}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(binary.status(), 200, "binary mode is acknowledged");

    let structured = serde_json::json!({
        "specversion": "1.0", "id": "0196f6a0-0000-7000-8000-000000000002", "source": "commerce/catalog",
        "type": events::catalog::ProductPriceChangedV1::NAME, "time": "2026-11-25T10:00:01Z",
        "datacontenttype": "application/json",
        "data": {"productId": "p-1", "priceMinor": 1190, "currency": "EUR"}
    });
    let response = client
        .post(format!("{}/", function.url()))
        .header("content-type", "application/cloudevents+json")
        .body(structured.to_string())
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 200, "structured mode is acknowledged");

    let rejected = client
        .post(format!("{}/", function.url()))
        .header("ce-specversion", "1.0")
        .header("ce-id", "0196f6a0-0000-7000-8000-000000000003")
        .header("ce-source", "commerce/catalog")
        .header("ce-type", events::catalog::ProductPriceChangedV1::NAME)
        .header("content-type", "application/json")
        .body(r#"{"productId":"p-1","priceMinor":-5,"currency":"EUR"}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(rejected.status(), 422, "a broken rule is final");

    let garbage = client
        .post(format!("{}/", function.url()))
        .body("hello")
        .send()
        .await
        .expect("post");
    assert_eq!(garbage.status(), 400, "not a CloudEvent");

    let price: i64 = sqlx::query_scalar("SELECT price_minor FROM product_price WHERE product_id = 'p-1'")
        .fetch_one(&database.pool)
        .await
        .expect("row");
    assert_eq!(price, 1190);
    // The function's connections must be gone before its database can be dropped.
    drop(function);
    database.drop().await;
}

#[tokio::test]
async fn with_the_database_down_events_are_answered_with_503_so_they_are_retried() {
    let function = serve("mysql://nobody:nothing@127.0.0.1:1/ordering").await;
    let response = reqwest::Client::new()
        .post(format!("{}/", function.url()))
        .header("ce-specversion", "1.0")
        .header("ce-id", "0196f6a0-0000-7000-8000-000000000009")
        .header("ce-source", "commerce/catalog")
        .header("ce-type", events::catalog::ProductDiscontinuedV1::NAME)
        .header("content-type", "application/json")
        .body(r#"{"productId":"p-1"}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 503);
}

/// `/healthz` and `/readyz` of a served binary: (health status, readiness status, readiness body).
async fn probes(function: &ServedBinary) -> (u16, u16, serde_json::Value) {
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
    let body = ready.bytes().await.expect("a body");
    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    (health.status().as_u16(), status, body)
}

#[tokio::test]
async fn with_the_database_unreachable_a_function_is_alive_but_not_ready_and_says_why() {
    let unreachable = "mysql://nobody:nothing@127.0.0.1:1/ordering";
    let event_function = serve(unreachable).await;
    let mut command = Command::new(env!("CARGO_BIN_EXE_expire-orders"));
    command.env("DATABASE_URL", unreachable);
    let scheduled_function = ServedBinary::start(command).await;

    for function in [&event_function, &scheduled_function] {
        let (health, ready, body) = probes(function).await;
        assert_eq!(health, 200, "the process itself is fine");
        assert_eq!(ready, 503, "but it cannot do its work: {body}");
        assert!(
            body.to_string().contains("the database does not answer"),
            "the answer names the dependency: {body}"
        );
    }
}

#[tokio::test]
async fn with_its_database_up_a_function_is_ready() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let function = serve(&database.url()).await;
    let (health, ready, body) = probes(&function).await;
    assert_eq!((health, ready), (200, 200), "{body}");
    drop(function);
    database.drop().await;
}

#[tokio::test]
async fn the_customer_status_binary_takes_identity_events_as_the_dispatcher_posts_them() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let mut command = Command::new(env!("CARGO_BIN_EXE_project-customer-status"));
    command.env("DATABASE_URL", database.url());
    let function = ServedBinary::start(command).await;
    let user = uuid::Uuid::now_v7().to_string();
    let post = |id: &'static str, body: String| {
        reqwest::Client::new()
            .post(format!("{}/", function.url()))
            .header("ce-specversion", "1.0")
            .header("ce-id", id)
            .header("ce-source", "commerce/identity/lock-user")
            .header("ce-type", events::identity::UserLockedV1::NAME)
            .header("ce-partitionkey", user.as_str())
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let locked = post(
        "0196f6a0-0000-7000-8000-000000000101",
        format!(r#"{{"userId":"{user}","lockedAt":"2026-12-02T10:00:00Z"}}"#),
    )
    .await
    .expect("post");
    assert_eq!(locked.status(), 200, "acknowledged");
    let broken = post(
        "0196f6a0-0000-7000-8000-000000000102",
        r#"{"userId":"nobody","lockedAt":"2026-12-02T10:00:01Z"}"#.to_owned(),
    )
    .await
    .expect("post");
    assert_eq!(broken.status(), 422, "a user id that is no id is final");

    let status: String = sqlx::query_scalar("SELECT status FROM customer_status WHERE user_id = ?")
        .bind(&user)
        .fetch_one(&database.pool)
        .await
        .expect("row");
    assert_eq!(status, "LOCKED");
    drop(function);
    database.drop().await;
}
