//! The catalog HTTP functions called in-process (the routers the binaries serve) against the
//! real MariaDB of the local stack.

use axum::Router;
use axum::http::StatusCode;
use catalog::http::{
    CatalogApi, activate_product_routes, browse_products_routes, change_price_routes, create_category_routes,
    create_product_routes, discontinue_product_routes, get_product_routes, list_categories_routes,
};
use events::EventType;
use security::Role;
use serde_json::{Value, json};
use testkit::app::TestApp;

async fn spawn_app() -> TestApp {
    TestApp::spawn("catalog", |pool, verifier| {
        let api = CatalogApi::new(pool);
        // Every function's routes in one router, as the gateway would route them.
        Router::new()
            .merge(create_product_routes(api.clone(), verifier.clone()))
            .merge(change_price_routes(api.clone(), verifier.clone()))
            .merge(discontinue_product_routes(api.clone(), verifier.clone()))
            .merge(activate_product_routes(api.clone(), verifier.clone()))
            .merge(create_category_routes(api.clone(), verifier))
            .merge(browse_products_routes(api.clone()))
            .merge(get_product_routes(api.clone()))
            .merge(list_categories_routes(api))
    })
    .await
}

async fn admin(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    app.call(method, path, Some(Role::Admin), body).await
}

async fn create_product(app: &TestApp, id: &str, category: &str, price: i64) {
    let (status, body) = admin(
        app,
        "POST",
        "/admin/products",
        Some(
            json!({"productId": id, "name": format!("Product {id}"), "categoryId": category,
                    "priceMinor": price, "currency": "EUR"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn outbox(app: &TestApp) -> Vec<(String, Value)> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT type, payload FROM outbox ORDER BY id")
        .fetch_all(&app.database.pool)
        .await
        .expect("outbox");
    rows.into_iter()
        .map(|(ty, payload)| (ty, serde_json::from_str(&payload).expect("json")))
        .collect()
}

#[tokio::test]
async fn an_admin_creates_a_product_and_ordering_can_read_the_event() {
    let app = spawn_app().await;
    admin(
        &app,
        "POST",
        "/admin/categories",
        Some(json!({"categoryId": "cups", "name": "Cups"})),
    )
    .await;

    create_product(&app, "espresso-cup", "cups", 1290).await;

    let (status, body) = app.call("GET", "/products/espresso-cup", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["priceMinor"], 1290);
    assert_eq!(body["data"]["status"], "ACTIVE");
    let events = outbox(&app).await;
    assert_eq!(events.len(), 2, "the product and its one SKU");
    assert_eq!(events[0].0, events::catalog::ProductCreatedV1::NAME);
    assert_eq!(events[1].0, events::catalog::SkuCreatedV1::NAME);
    let created: events::catalog::ProductCreatedV1 =
        serde_json::from_value(events[0].1.clone()).expect("the payload ordering's projection reads");
    assert_eq!(
        (created.product_id.as_str(), created.price_minor),
        ("espresso-cup", 1290)
    );
    app.database.drop().await;
}

#[tokio::test]
async fn only_admins_change_the_catalog() {
    let app = spawn_app().await;
    let product = json!({"productId": "cup", "name": "Cup", "priceMinor": 100, "currency": "EUR"});

    let (anonymous, _) = app
        .call("POST", "/admin/products", None, Some(product.clone()))
        .await;
    let (customer, body) = app
        .call("POST", "/admin/products", Some(Role::Customer), Some(product))
        .await;

    assert_eq!(anonymous, StatusCode::UNAUTHORIZED);
    assert_eq!(customer, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "FORBIDDEN");
    assert!(outbox(&app).await.is_empty());
    app.database.drop().await;
}

#[tokio::test]
async fn invalid_products_are_refused_field_by_field_and_nothing_is_written() {
    let app = spawn_app().await;

    let (status, body) = admin(
        &app,
        "POST",
        "/admin/products",
        Some(json!({"productId": "a b", "name": " ", "priceMinor": 0, "currency": "EUR"})),
    )
    .await;
    let (unknown_category, _) = admin(
        &app,
            "POST",
            "/admin/products",
            Some(json!({"productId": "cup", "name": "Cup", "categoryId": "nope", "priceMinor": 1, "currency": "EUR"})),
        )
        .await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    let fields: Vec<&str> = body["error"]["fieldErrors"]
        .as_array()
        .expect("field errors")
        .iter()
        .filter_map(|field| field["field"].as_str())
        .collect();
    assert_eq!(fields, ["productId", "name", "priceMinor"]);
    assert_eq!(unknown_category, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(outbox(&app).await.is_empty());
    app.database.drop().await;
}

#[tokio::test]
async fn browsing_filters_by_a_category_and_its_subcategories_sorts_and_pages() {
    let app = spawn_app().await;
    for category in [
        json!({"categoryId": "kitchen", "name": "Kitchen"}),
        json!({"categoryId": "cups", "name": "Cups", "parentId": "kitchen"}),
        json!({"categoryId": "garden", "name": "Garden"}),
    ] {
        assert_eq!(
            admin(&app, "POST", "/admin/categories", Some(category)).await.0,
            StatusCode::CREATED
        );
    }
    create_product(&app, "pan", "kitchen", 3000).await;
    create_product(&app, "cup", "cups", 1000).await;
    create_product(&app, "mug", "cups", 2000).await;
    create_product(&app, "rake", "garden", 500).await;
    admin(&app, "POST", "/admin/products/mug/discontinue", None).await;

    let (status, body) = app
        .call(
            "GET",
            "/products?category=kitchen&sort=price_asc&size=1&page=2",
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["total"], 2,
        "pan and cup; the mug is discontinued, the rake elsewhere"
    );
    assert_eq!(body["data"]["products"][0]["productId"], "pan");

    let (_, body) = app.call("GET", "/products?sort=price_desc", None, None).await;
    let ids: Vec<&str> = body["data"]["products"]
        .as_array()
        .expect("products")
        .iter()
        .filter_map(|product| product["productId"].as_str())
        .collect();
    assert_eq!(ids, ["pan", "cup", "rake"]);

    let (status, body) = app
        .call("GET", "/products?sort=random&size=500", None, None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["fieldErrors"].as_array().map(Vec::len), Some(2));

    let (_, tree) = app.call("GET", "/categories", None, None).await;
    assert_eq!(tree["data"][1]["categoryId"], "kitchen");
    assert_eq!(tree["data"][1]["children"][0]["categoryId"], "cups");
    app.database.drop().await;
}

#[tokio::test]
async fn price_changes_discontinuing_and_reactivating_are_announced_once_each() {
    let app = spawn_app().await;
    admin(
        &app,
        "POST",
        "/admin/categories",
        Some(json!({"categoryId": "cups", "name": "Cups"})),
    )
    .await;
    create_product(&app, "cup", "cups", 1000).await;

    for _ in 0..2 {
        let (status, body) = admin(
            &app,
            "PUT",
            "/admin/products/cup/price",
            Some(json!({"priceMinor": 1200, "currency": "EUR"})),
        )
        .await;
        assert_eq!(
            (status, &body["data"]["priceMinor"]),
            (StatusCode::OK, &json!(1200))
        );
        admin(&app, "POST", "/admin/products/cup/discontinue", None).await;
    }
    let (_, body) = admin(&app, "POST", "/admin/products/cup/activate", None).await;
    assert_eq!(body["data"]["status"], "ACTIVE");
    let (missing, _) = admin(&app, "POST", "/admin/products/nope/activate", None).await;
    assert_eq!(missing, StatusCode::NOT_FOUND);

    let types: Vec<String> = outbox(&app).await.into_iter().map(|(ty, _)| ty).collect();
    assert_eq!(
        types,
        [
            events::catalog::ProductCreatedV1::NAME,
            events::catalog::SkuCreatedV1::NAME,
            events::catalog::ProductPriceChangedV1::NAME,
            events::catalog::SkuPriceChangedV1::NAME,
            events::catalog::ProductDiscontinuedV1::NAME,
            events::catalog::ProductReactivatedV1::NAME,
        ]
    );
    app.database.drop().await;
}
