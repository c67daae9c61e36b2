//! The inventory HTTP functions called in-process against the real MariaDB of the local stack.

use axum::Router;
use axum::http::StatusCode;
use inventory::http::{InventoryApi, adjust_stock_routes, get_availability_routes, set_stock_routes};
use security::Role;
use serde_json::json;
use store::testing::TestDatabase;
use testkit::app::{TestApp, request, send};

async fn spawn_app() -> TestApp {
    TestApp::spawn("inventory", |pool, verifier| {
        let api = InventoryApi::new(pool);
        Router::new()
            .merge(set_stock_routes(api.clone(), verifier.clone()))
            .merge(adjust_stock_routes(api.clone(), verifier))
            .merge(get_availability_routes(api))
    })
    .await
}

#[tokio::test]
async fn an_admin_sets_and_adjusts_stock_and_anyone_sees_what_is_available() {
    let app = spawn_app().await;

    let (status, _) = app
        .call(
            "PUT",
            "/admin/inventory/mug",
            Some(Role::Admin),
            Some(json!({"onHand": 10})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    sqlx::query("UPDATE stock SET reserved = 4 WHERE sku = 'mug'")
        .execute(&app.database.pool)
        .await
        .expect("reserve");
    let (status, body) = app
        .call(
            "POST",
            "/admin/inventory/mug/adjustments",
            Some(Role::Admin),
            Some(json!({"delta": -3})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["onHand"], 7);

    let (status, body) = app.call("GET", "/inventory/mug", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["data"],
        json!({"sku": "mug", "onHand": 7, "reserved": 4, "available": 3})
    );
    app.database.drop().await;
}

#[tokio::test]
async fn stock_cannot_be_taken_below_what_orders_have_reserved() {
    let app = spawn_app().await;
    app.call(
        "PUT",
        "/admin/inventory/mug",
        Some(Role::Admin),
        Some(json!({"onHand": 10})),
    )
    .await;
    sqlx::query("UPDATE stock SET reserved = 4 WHERE sku = 'mug'")
        .execute(&app.database.pool)
        .await
        .expect("reserve");

    let (set, body) = app
        .call(
            "PUT",
            "/admin/inventory/mug",
            Some(Role::Admin),
            Some(json!({"onHand": 3})),
        )
        .await;
    let (adjusted, _) = app
        .call(
            "POST",
            "/admin/inventory/mug/adjustments",
            Some(Role::Admin),
            Some(json!({"delta": -7})),
        )
        .await;

    assert_eq!(
        (set, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("BELOW_RESERVED"))
    );
    assert_eq!(adjusted, StatusCode::CONFLICT);
    let (_, body) = app.call("GET", "/inventory/mug", None, None).await;
    assert_eq!(body["data"]["onHand"], 10);
    app.database.drop().await;
}

#[tokio::test]
async fn only_admins_change_stock_and_bad_input_gets_a_clear_answer() {
    let app = spawn_app().await;

    let cases = [
        (
            "PUT",
            "/admin/inventory/mug",
            None,
            json!({"onHand": 1}),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "PUT",
            "/admin/inventory/mug",
            Some(Role::Customer),
            json!({"onHand": 1}),
            StatusCode::FORBIDDEN,
        ),
        (
            "PUT",
            "/admin/inventory/mug",
            Some(Role::Admin),
            json!({"onHand": -1}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "PUT",
            "/admin/inventory/mug",
            Some(Role::Admin),
            json!({"onHand": "many"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/admin/inventory/ghost/adjustments",
            Some(Role::Admin),
            json!({"delta": 1}),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (method, path, role, body, expected) in cases {
        let (status, answer) = app.call(method, path, role, Some(body.clone())).await;
        assert_eq!(status, expected, "{method} {path} {body} -> {answer}");
    }
    let (status, _) = app.call("GET", "/inventory/mug", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was written");
    app.database.drop().await;
}

#[tokio::test]
async fn the_scheduled_sweep_runs_on_post_run_and_says_how_many_reservations_it_released() {
    let database = TestDatabase::with_migrations_of("inventory").await;
    sqlx::query("INSERT INTO stock (sku, on_hand, reserved) VALUES ('mug', 5, 2)")
        .execute(&database.pool)
        .await
        .expect("stock");
    sqlx::query(
        "INSERT INTO reservation (order_id, status, expires_at) VALUES ('o-1', 'RESERVED', NOW(6) - INTERVAL 1 MINUTE)",
    )
    .execute(&database.pool)
    .await
    .expect("reservation");
    sqlx::query("INSERT INTO reservation_line (order_id, sku, quantity) VALUES ('o-1', 'mug', 2)")
        .execute(&database.pool)
        .await
        .expect("line");
    let job = std::sync::Arc::new(inventory::handlers::ExpireReservations::new(
        database.pool.clone(),
    ));
    let router = runtime::http::HttpFunction::new(runtime::schedule::router(job)).into_router();

    let reply = send(&router, request("POST", "/run", None, None)).await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["data"], json!({"released": 1}));
    let reserved: i64 = sqlx::query_scalar("SELECT reserved FROM stock WHERE sku = 'mug'")
        .fetch_one(&database.pool)
        .await
        .expect("stock");
    assert_eq!(reserved, 0);
    database.drop().await;
}
