//! Catalog's SKUs in inventory, against the real MariaDB of the local stack: `open-sku-stock`
//! opening the stock of every announced SKU, and the cart's bulk availability lookup
//! (`POST /inventory/availability`).

use axum::Router;
use axum::http::StatusCode;
use cloudevents::{Event, EventBuilder, EventBuilderV10};
use events::EventType;
use inventory::handlers::OpenSkuStock;
use inventory::http::{InventoryApi, get_availability_routes, set_stock_routes};
use runtime::events::{Delivery, EventHandler, Outcome};
use security::Role;
use serde_json::{Value, json};
use sqlx::MySqlPool;
use store::consumer::Runner;
use store::testing::TestDatabase;
use testkit::app::TestApp;

/// `sku-created` as catalog publishes it for one SKU of `product_id`.
fn sku_created(event_id: &str, product_id: &str, sku: &str) -> Event {
    EventBuilderV10::new()
        .id(event_id)
        .ty(events::catalog::SkuCreatedV1::NAME)
        .source("commerce/catalog/create-product")
        .subject(product_id)
        .data(
            "application/json",
            json!({"productId": product_id, "sku": sku, "name": "T-shirt (Red, L)", "priceMinor": 1990,
                   "currency": "EUR", "options": {"Colour": "Red", "Size": "L"}}),
        )
        .build()
        .expect("event")
}

async fn deliver(handler: &impl EventHandler, event: &Event) -> Outcome {
    handler.handle(event, &Delivery::default()).await
}

/// Everything a replay could change, as text: the stock rows, the change log and the outbox.
async fn snapshot(pool: &MySqlPool) -> Vec<String> {
    let stock: Vec<(String, i64, i64)> =
        sqlx::query_as("SELECT sku, on_hand, reserved FROM stock ORDER BY sku")
            .fetch_all(pool)
            .await
            .expect("stock");
    let changes: Vec<(i64, String, String, i64)> =
        sqlx::query_as("SELECT id, sku, action, quantity FROM stock_change ORDER BY id")
            .fetch_all(pool)
            .await
            .expect("changes");
    let outbox: Vec<String> = sqlx::query_scalar("SELECT id FROM outbox ORDER BY id")
        .fetch_all(pool)
        .await
        .expect("outbox");
    let mut rows: Vec<String> = stock.iter().map(|row| format!("stock {row:?}")).collect();
    rows.extend(changes.iter().map(|row| format!("change {row:?}")));
    rows.extend(outbox.iter().map(|row| format!("outbox {row}")));
    rows
}

#[tokio::test]
async fn an_announced_sku_gets_stock_at_zero_once_however_often_the_topic_is_replayed() {
    let database = TestDatabase::with_migrations_of("inventory").await;
    let open = Runner::new(database.pool.clone(), OpenSkuStock);

    let outcome = deliver(&open, &sku_created("e-1", "tee", "tee-red-l")).await;

    assert_eq!(outcome, Outcome::Ack);
    let level: (i64, i64) = sqlx::query_as("SELECT on_hand, reserved FROM stock WHERE sku = 'tee-red-l'")
        .fetch_one(&database.pool)
        .await
        .expect("the SKU has a stock row");
    assert_eq!(level, (0, 0));
    let logged: Vec<(String, Option<String>, i64, i64, i64)> = sqlx::query_as(
        "SELECT action, order_id, quantity, on_hand_after, reserved_after FROM stock_change WHERE sku = 'tee-red-l'",
    )
    .fetch_all(&database.pool)
    .await
    .expect("changes");
    assert_eq!(logged, [("INITIALIZE".to_owned(), None, 0, 0, 0)]);
    let announced: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(&database.pool)
        .await
        .expect("outbox");
    assert_eq!(
        announced, 0,
        "a SKU opened at zero was never available, so nothing ran out"
    );

    let before = snapshot(&database.pool).await;
    // The same record delivered again, and the same fact under a new event id (a replay of
    // the topic from its start, or catalog announcing again).
    assert_eq!(
        deliver(&open, &sku_created("e-1", "tee", "tee-red-l")).await,
        Outcome::Ack
    );
    assert_eq!(
        deliver(&open, &sku_created("e-2", "tee", "tee-red-l")).await,
        Outcome::Ack
    );
    assert_eq!(snapshot(&database.pool).await, before);
    database.drop().await;
}

#[tokio::test]
async fn stock_an_admin_set_before_the_announcement_arrived_is_kept() {
    let database = TestDatabase::with_migrations_of("inventory").await;
    sqlx::query("INSERT INTO stock (sku, on_hand, reserved) VALUES ('mug', 7, 2)")
        .execute(&database.pool)
        .await
        .expect("stock");
    let open = Runner::new(database.pool.clone(), OpenSkuStock);

    assert_eq!(
        deliver(&open, &sku_created("e-1", "mug", "mug")).await,
        Outcome::Ack
    );

    let level: (i64, i64) = sqlx::query_as("SELECT on_hand, reserved FROM stock WHERE sku = 'mug'")
        .fetch_one(&database.pool)
        .await
        .expect("stock");
    assert_eq!(level, (7, 2));
    let logged: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM stock_change")
        .fetch_one(&database.pool)
        .await
        .expect("changes");
    assert_eq!(logged, 0);
    database.drop().await;
}

#[tokio::test]
async fn other_catalog_events_and_broken_announcements_open_no_stock() {
    let database = TestDatabase::with_migrations_of("inventory").await;
    let open = Runner::new(database.pool.clone(), OpenSkuStock);
    let product_created = EventBuilderV10::new()
        .id("e-1")
        .ty(events::catalog::ProductCreatedV1::NAME)
        .source("commerce/catalog/create-product")
        .data(
            "application/json",
            json!({"productId": "mug", "name": "Mug", "priceMinor": 900, "currency": "EUR"}),
        )
        .build()
        .expect("event");

    assert_eq!(deliver(&open, &product_created).await, Outcome::Ack);
    assert!(matches!(
        deliver(&open, &sku_created("e-2", "tee", "not a sku")).await,
        Outcome::Reject(_)
    ));

    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM stock")
        .fetch_one(&database.pool)
        .await
        .expect("stock");
    assert_eq!(rows, 0);
    database.drop().await;
}

async fn spawn_app() -> TestApp {
    TestApp::spawn("inventory", |pool, verifier| {
        let api = InventoryApi::new(pool);
        Router::new()
            .merge(set_stock_routes(api.clone(), verifier))
            .merge(get_availability_routes(api))
    })
    .await
}

async fn lookup(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.call("POST", "/inventory/availability", None, Some(body))
        .await
}

/// The fields named by a `VALIDATION_FAILED` answer.
fn bad_fields(body: &Value) -> Vec<String> {
    assert_eq!(body["error"]["code"], "VALIDATION_FAILED", "{body}");
    body["error"]["fieldErrors"]
        .as_array()
        .expect("field errors")
        .iter()
        .map(|error| error["field"].as_str().expect("field").to_owned())
        .collect()
}

#[tokio::test]
async fn a_cart_learns_what_is_available_of_all_its_skus_at_once_without_signing_in() {
    let app = spawn_app().await;
    app.call(
        "PUT",
        "/admin/inventory/mug",
        Some(Role::Admin),
        Some(json!({"onHand": 10})),
    )
    .await;
    sqlx::query("INSERT INTO stock (sku, on_hand, reserved) VALUES ('cup', 3, 3)")
        .execute(&app.database.pool)
        .await
        .expect("stock");

    let (status, body) = lookup(&app, json!({"skus": ["cup", "ghost", "mug", "MUG"]})).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"],
        json!({
            "items": [
                {"sku": "cup", "onHand": 3, "reserved": 3, "available": 0},
                {"sku": "mug", "onHand": 10, "reserved": 0, "available": 10},
                // SKU ids are matched without regard to case, as everywhere in inventory.
                {"sku": "MUG", "onHand": 10, "reserved": 0, "available": 10},
            ],
            "unknown": ["ghost"],
        })
    );
    app.database.drop().await;
}

#[tokio::test]
async fn a_full_cart_of_skus_inventory_has_never_heard_of_is_answered_not_failed() {
    let app = spawn_app().await;
    let skus: Vec<String> = (0..100).map(|n| format!("ghost-{n}")).collect();

    let (status, body) = lookup(&app, json!({ "skus": skus })).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["items"], json!([]));
    assert_eq!(body["data"]["unknown"], json!(skus));
    app.database.drop().await;
}

#[tokio::test]
async fn a_bad_sku_list_is_refused_naming_every_bad_entry() {
    let app = spawn_app().await;
    let too_many: Vec<String> = (0..101).map(|n| format!("sku-{n}")).collect();

    let cases = [
        (json!({"skus": []}), vec!["skus"]),
        (json!({}), vec!["skus"]),
        (json!({ "skus": too_many }), vec!["skus"]),
        (json!({"skus": ["mug", "cup", "mug"]}), vec!["skus[2]"]),
        (
            json!({"skus": ["mug", "not a sku", 7, "x".repeat(65)]}),
            vec!["skus[1]", "skus[2]", "skus[3]"],
        ),
    ];
    for (request, fields) in cases {
        let (status, body) = lookup(&app, request.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{request} -> {body}");
        assert_eq!(bad_fields(&body), fields, "{request}");
    }
    app.database.drop().await;
}

#[tokio::test]
async fn a_sku_called_availability_can_still_be_read_on_its_own() {
    let app = spawn_app().await;
    sqlx::query("INSERT INTO stock (sku, on_hand) VALUES ('availability', 4)")
        .execute(&app.database.pool)
        .await
        .expect("stock");

    let (status, body) = app.call("GET", "/inventory/availability", None, None).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["available"], 4);
    app.database.drop().await;
}
