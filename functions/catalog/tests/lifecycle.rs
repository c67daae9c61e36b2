//! The product lifecycle through the catalog's HTTP functions, against the real MariaDB of the
//! local stack: DRAFT → ACTIVE ↔ SUSPENDED → DELETED, the original's activation rule, and
//! what each move tells ordering.

use axum::Router;
use axum::http::StatusCode;
use catalog::http::{
    CatalogApi, activate_product_routes, browse_products_routes, change_product_status_routes,
    create_product_routes, discontinue_product_routes, get_product_routes,
};
use events::EventType;
use events::catalog::{ProductDiscontinuedV1, ProductReactivatedV1};
use security::Role;
use serde_json::{Value, json};
use testkit::app::TestApp;

async fn spawn_app() -> TestApp {
    TestApp::spawn("catalog", |pool, verifier| {
        let api = CatalogApi::new(pool);
        Router::new()
            .merge(create_product_routes(api.clone(), verifier.clone()))
            .merge(change_product_status_routes(api.clone(), verifier.clone()))
            .merge(discontinue_product_routes(api.clone(), verifier.clone()))
            .merge(activate_product_routes(api.clone(), verifier))
            .merge(browse_products_routes(api.clone()))
            .merge(get_product_routes(api))
    })
    .await
}

async fn admin(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    app.call(method, path, Some(Role::Admin), body).await
}

/// The order-relevant events in the outbox: what ordering hears about the product's status.
async fn status_events(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT type FROM outbox WHERE type IN (?, ?) ORDER BY occurred_at, id")
        .bind(ProductDiscontinuedV1::NAME)
        .bind(ProductReactivatedV1::NAME)
        .fetch_all(&app.database.pool)
        .await
        .expect("outbox")
}

async fn set_status(app: &TestApp, status: &str) -> (StatusCode, Value) {
    admin(
        app,
        "PATCH",
        "/admin/products/cup/status",
        Some(json!({"status": status})),
    )
    .await
}

#[tokio::test]
async fn a_draft_is_hidden_and_unsold_until_activated_and_a_deleted_product_is_gone_for_good() {
    let app = spawn_app().await;
    let cup =
        json!({"productId": "cup", "name": "Cup", "priceMinor": 900, "currency": "EUR", "status": "DRAFT"});
    let (status, body) = admin(&app, "POST", "/admin/products", Some(cup)).await;
    assert_eq!(
        (status, &body["data"]["status"]),
        (StatusCode::CREATED, &json!("DRAFT"))
    );
    assert_eq!(
        status_events(&app).await,
        [ProductDiscontinuedV1::NAME],
        "ordering may not sell a draft"
    );
    assert_eq!(
        app.call("GET", "/products/cup", None, None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call("GET", "/products", None, None).await.1["data"]["total"],
        0
    );

    let (status, body) = set_status(&app, "SUSPENDED").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::CONFLICT, &json!("INVALID_STATUS_TRANSITION"))
    );
    let (status, body) = set_status(&app, "ACTIVE").await;
    assert_eq!(
        (status, &body["data"]["status"]),
        (StatusCode::OK, &json!("ACTIVE"))
    );
    assert_eq!(
        set_status(&app, "ACTIVE").await.0,
        StatusCode::OK,
        "asking again is no change"
    );
    assert_eq!(
        app.call("GET", "/products", None, None).await.1["data"]["total"],
        1
    );

    let (_, body) = admin(&app, "POST", "/admin/products/cup/discontinue", None).await;
    assert_eq!(body["data"]["status"], "SUSPENDED");
    assert_eq!(
        app.call("GET", "/products/cup", None, None).await.0,
        StatusCode::OK,
        "a suspended page stays"
    );
    assert_eq!(
        admin(&app, "POST", "/admin/products/cup/activate", None).await.0,
        StatusCode::OK
    );

    assert_eq!(
        admin(&app, "DELETE", "/admin/products/cup", None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        admin(&app, "DELETE", "/admin/products/cup", None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.call("GET", "/products/cup", None, None).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, body) = set_status(&app, "ACTIVE").await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::CONFLICT, &json!("INVALID_STATUS_TRANSITION"))
    );
    assert_eq!(
        status_events(&app).await,
        [
            ProductDiscontinuedV1::NAME,
            ProductReactivatedV1::NAME,
            ProductDiscontinuedV1::NAME,
            ProductReactivatedV1::NAME,
            ProductDiscontinuedV1::NAME
        ]
    );
    app.database.drop().await;
}

#[tokio::test]
async fn bad_statuses_are_refused_and_unknown_products_are_404() {
    let app = spawn_app().await;
    let cup = json!({"productId": "cup", "name": "Cup", "priceMinor": 900, "currency": "EUR", "status": "SUSPENDED"});
    let (status, body) = admin(&app, "POST", "/admin/products", Some(cup)).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::BAD_REQUEST, &json!("VALIDATION_FAILED"))
    );
    let cup = json!({"productId": "cup", "name": "Cup", "priceMinor": 900, "currency": "EUR"});
    admin(&app, "POST", "/admin/products", Some(cup)).await;
    let (status, _) = set_status(&app, "GONE").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = set_status(&app, "DRAFT").await;
    assert_eq!(status, StatusCode::CONFLICT, "nothing goes back to draft");
    let (missing, _) = admin(
        &app,
        "PATCH",
        "/admin/products/nope/status",
        Some(json!({"status": "ACTIVE"})),
    )
    .await;
    assert_eq!(missing, StatusCode::NOT_FOUND);
    let (customer, _) = app
        .call("DELETE", "/admin/products/cup", Some(Role::Customer), None)
        .await;
    assert_eq!(customer, StatusCode::FORBIDDEN);
    app.database.drop().await;
}
