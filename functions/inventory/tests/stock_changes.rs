//! The stock change log and the availability events, against the real MariaDB of the local
//! stack: every path that changes stock (admin writes, reserve, release, commit, expiry) logs
//! what it did and announces a SKU running out or coming back, and a duplicate event does
//! neither.

use axum::Router;
use axum::http::StatusCode;
use chrono::Utc;
use cloudevents::{Event, EventBuilder, EventBuilderV10};
use events::EventType;
use inventory::handlers::{CommitStock, DEFAULT_RESERVATION_TTL, ReleaseStock, ReserveStock};
use inventory::http::{
    InventoryApi, adjust_stock_routes, get_availability_routes, list_stock_changes_routes, set_stock_routes,
};
use runtime::events::{Delivery, EventHandler, Outcome};
use security::Role;
use serde_json::{Value, json};
use sqlx::MySqlPool;
use store::consumer::Runner;
use testkit::app::TestApp;

async fn spawn_app() -> TestApp {
    TestApp::spawn("inventory", |pool, verifier| {
        let api = InventoryApi::new(pool);
        Router::new()
            .merge(set_stock_routes(api.clone(), verifier.clone()))
            .merge(adjust_stock_routes(api.clone(), verifier.clone()))
            .merge(list_stock_changes_routes(api.clone(), verifier))
            .merge(get_availability_routes(api))
    })
    .await
}

fn order_event(id: &str, ty: &str, order_id: &str, data: Value) -> Event {
    EventBuilderV10::new()
        .id(id)
        .ty(ty)
        .source("commerce/ordering/place-order")
        .subject(order_id)
        .data("application/json", data)
        .build()
        .expect("event")
}

fn placed(event_id: &str, order_id: &str, lines: &[(&str, u32)]) -> Event {
    let lines: Vec<_> = lines
        .iter()
        .map(|(sku, quantity)| json!({"productId": sku, "quantity": quantity, "unitPriceMinor": 100}))
        .collect();
    order_event(
        event_id,
        events::ordering::OrderPlacedV1::NAME,
        order_id,
        json!({"orderId": order_id, "userId": "u-1", "lines": lines, "totalMinor": 100,
               "currency": "EUR", "paymentToken": "tok_approve"}),
    )
}

fn cancelled(event_id: &str, order_id: &str) -> Event {
    order_event(
        event_id,
        events::ordering::OrderCancelledV1::NAME,
        order_id,
        json!({"orderId": order_id, "userId": "u-1", "reason": "payment-declined"}),
    )
}

fn confirmed(event_id: &str, order_id: &str) -> Event {
    order_event(
        event_id,
        events::ordering::OrderConfirmedV1::NAME,
        order_id,
        json!({"orderId": order_id, "userId": "u-1", "totalMinor": 100, "currency": "EUR"}),
    )
}

async fn deliver(handler: &impl EventHandler, event: &Event) -> Outcome {
    handler.handle(event, &Delivery::default()).await
}

fn reserver(pool: &MySqlPool) -> Runner<ReserveStock> {
    Runner::new(
        pool.clone(),
        ReserveStock {
            ttl: DEFAULT_RESERVATION_TTL,
        },
    )
}

async fn set(app: &TestApp, sku: &str, on_hand: i64) {
    let (status, body) = app
        .call(
            "PUT",
            &format!("/admin/inventory/{sku}"),
            Some(Role::Admin),
            Some(json!({ "onHand": on_hand })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn adjust(app: &TestApp, sku: &str, delta: i64) {
    let (status, body) = app
        .call(
            "POST",
            &format!("/admin/inventory/{sku}/adjustments"),
            Some(Role::Admin),
            Some(json!({ "delta": delta })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The change log of `sku` as an admin reads it with `query`.
async fn changes(app: &TestApp, sku: &str, query: &str) -> Value {
    let (status, body) = app
        .call(
            "GET",
            &format!("/admin/inventory/{sku}/changes{query}"),
            Some(Role::Admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body["data"].clone()
}

/// (action, orderId, quantity, onHandAfter, reservedAfter) of each listed change, in order.
fn rows(page: &Value) -> Vec<(String, Option<String>, i64, i64, i64)> {
    page["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|change| {
            (
                change["action"].as_str().expect("action").to_owned(),
                change["orderId"].as_str().map(str::to_owned),
                change["quantity"].as_i64().expect("quantity"),
                change["onHandAfter"].as_i64().expect("on hand"),
                change["reservedAfter"].as_i64().expect("reserved"),
            )
        })
        .collect()
}

fn row(
    action: &str,
    order_id: Option<&str>,
    quantity: i64,
    on_hand: i64,
    reserved: i64,
) -> (String, Option<String>, i64, i64, i64) {
    (
        action.to_owned(),
        order_id.map(str::to_owned),
        quantity,
        on_hand,
        reserved,
    )
}

/// The availability events in the outbox, oldest first: (type, key) with the payload's SKU
/// checked against the key.
async fn availability_events(pool: &MySqlPool) -> Vec<(String, String)> {
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT type, aggregateid, topic, payload FROM outbox WHERE aggregatetype = 'stock' ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .expect("outbox");
    rows.into_iter()
        .map(|(ty, key, topic, payload)| {
            assert_eq!(topic, "commerce.inventory.stock");
            let payload: Value = serde_json::from_str(&payload).expect("JSON payload");
            assert_eq!(payload, json!({ "sku": key }));
            (ty, key)
        })
        .collect()
}

fn depleted(sku: &str) -> (String, String) {
    (
        events::inventory::StockDepletedV1::NAME.to_owned(),
        sku.to_owned(),
    )
}

fn restored(sku: &str) -> (String, String) {
    (
        events::inventory::StockRestoredV1::NAME.to_owned(),
        sku.to_owned(),
    )
}

#[tokio::test]
async fn every_stock_change_is_logged_once_with_its_order_newest_first() {
    let app = spawn_app().await;
    let pool = &app.database.pool;
    let reserve = reserver(pool);
    let release = Runner::new(pool.clone(), ReleaseStock);
    let commit = Runner::new(pool.clone(), CommitStock);
    let lapsing = Runner::new(
        pool.clone(),
        ReserveStock {
            ttl: chrono::Duration::seconds(-1),
        },
    );

    set(&app, "mug", 10).await;
    adjust(&app, "mug", -3).await;
    assert_eq!(
        deliver(&reserve, &placed("e-1", "o-1", &[("mug", 2)])).await,
        Outcome::Ack
    );
    assert_eq!(deliver(&release, &cancelled("e-2", "o-1")).await, Outcome::Ack);
    assert_eq!(
        deliver(&reserve, &placed("e-3", "o-2", &[("mug", 1)])).await,
        Outcome::Ack
    );
    assert_eq!(deliver(&commit, &confirmed("e-4", "o-2")).await, Outcome::Ack);
    assert_eq!(
        deliver(&lapsing, &placed("e-5", "o-3", &[("mug", 4)])).await,
        Outcome::Ack
    );
    inventory::reservations::expire(pool, Utc::now(), 100)
        .await
        .expect("sweep");
    // Redelivered and re-sent events change no stock, so they log nothing.
    let again = [
        deliver(&reserve, &placed("e-1", "o-1", &[("mug", 2)])).await,
        deliver(&reserve, &placed("e-9", "o-2", &[("mug", 1)])).await,
        deliver(&release, &cancelled("e-2", "o-1")).await,
        deliver(&release, &cancelled("e-10", "o-1")).await,
        deliver(&commit, &confirmed("e-11", "o-2")).await,
    ];
    assert!(again.iter().all(|outcome| *outcome == Outcome::Ack), "{again:?}");

    let page = changes(&app, "mug", "").await;
    assert_eq!(
        rows(&page),
        [
            row("EXPIRE", Some("o-3"), -4, 6, 0),
            row("RESERVE", Some("o-3"), 4, 6, 4),
            row("COMMIT", Some("o-2"), -1, 6, 0),
            row("RESERVE", Some("o-2"), 1, 7, 1),
            row("RELEASE", Some("o-1"), -2, 7, 0),
            row("RESERVE", Some("o-1"), 2, 7, 2),
            row("ADJUST", None, -3, 7, 0),
            row("SET", None, 10, 10, 0),
        ]
    );
    assert_eq!(
        (&page["sku"], &page["page"], &page["size"], &page["total"]),
        (&json!("mug"), &json!(1), &json!(20), &json!(8))
    );

    let second = changes(&app, "mug", "?page=2&size=3").await;
    assert_eq!(
        rows(&second),
        [
            row("RESERVE", Some("o-2"), 1, 7, 1),
            row("RELEASE", Some("o-1"), -2, 7, 0),
            row("RESERVE", Some("o-1"), 2, 7, 2),
        ]
    );
    assert_eq!(second["total"], 8);
    app.database.drop().await;
}

#[tokio::test]
async fn an_admin_narrows_the_log_to_a_period() {
    let app = spawn_app().await;
    set(&app, "mug", 1).await;
    adjust(&app, "mug", 1).await;
    adjust(&app, "mug", 1).await;
    // Spread the three changes over three hours, so the bounds fall between them.
    for (n, hour) in [(1, 10), (2, 11), (3, 12)] {
        sqlx::query(
            "UPDATE stock_change SET created_at = ? WHERE id = (SELECT id FROM
               (SELECT id FROM stock_change ORDER BY id LIMIT 1 OFFSET ?) AS nth)",
        )
        .bind(format!("2026-01-01 {hour}:00:00"))
        .bind(n - 1)
        .execute(&app.database.pool)
        .await
        .expect("move the change in time");
    }
    let on_hand = |page: &Value| -> Vec<i64> { rows(page).iter().map(|row| row.3).collect() };

    assert_eq!(
        on_hand(&changes(&app, "mug", "?from=2026-01-01T11:00:00Z").await),
        [3, 2]
    );
    assert_eq!(
        on_hand(&changes(&app, "mug", "?to=2026-01-01T11:00:00Z").await),
        [1]
    );
    assert_eq!(
        on_hand(&changes(&app, "mug", "?from=2026-01-01T10:30:00Z&to=2026-01-01T12:00:00Z").await),
        [2]
    );
    // 12:30 at +01:00 is 11:30 UTC; the `+` arrives either encoded or as a space.
    assert_eq!(
        on_hand(&changes(&app, "mug", "?from=2026-01-01T12:30:00%2B01:00").await),
        [3]
    );
    assert_eq!(
        on_hand(&changes(&app, "mug", "?from=2026-01-01T12:30:00+01:00").await),
        [3]
    );
    let empty = changes(&app, "mug", "?from=2027-01-01T00:00:00Z").await;
    assert_eq!((rows(&empty).len(), &empty["total"]), (0, &json!(0)));
    app.database.drop().await;
}

#[tokio::test]
async fn the_log_is_for_admins_and_bad_queries_or_unknown_skus_get_a_clear_answer() {
    let app = spawn_app().await;
    set(&app, "mug", 1).await;

    let cases = [
        (
            "/admin/inventory/mug/changes",
            None,
            StatusCode::UNAUTHORIZED,
            None,
        ),
        (
            "/admin/inventory/mug/changes",
            Some(Role::Customer),
            StatusCode::FORBIDDEN,
            None,
        ),
        (
            "/admin/inventory/ghost/changes",
            Some(Role::Admin),
            StatusCode::NOT_FOUND,
            Some("SKU_NOT_FOUND"),
        ),
        (
            "/admin/inventory/mug/changes?from=yesterday",
            Some(Role::Admin),
            StatusCode::BAD_REQUEST,
            Some("VALIDATION_FAILED"),
        ),
        (
            "/admin/inventory/mug/changes?to=2026-13-01T00:00:00Z",
            Some(Role::Admin),
            StatusCode::BAD_REQUEST,
            Some("VALIDATION_FAILED"),
        ),
        (
            "/admin/inventory/mug/changes?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            Some(Role::Admin),
            StatusCode::BAD_REQUEST,
            Some("VALIDATION_FAILED"),
        ),
        (
            "/admin/inventory/mug/changes?size=101",
            Some(Role::Admin),
            StatusCode::BAD_REQUEST,
            Some("VALIDATION_FAILED"),
        ),
        (
            "/admin/inventory/mug/changes?page=0",
            Some(Role::Admin),
            StatusCode::BAD_REQUEST,
            Some("VALIDATION_FAILED"),
        ),
    ];
    for (path, role, status, code) in cases {
        let (answered, body) = app.call("GET", path, role, None).await;
        assert_eq!(answered, status, "{path} -> {body}");
        if let Some(code) = code {
            assert_eq!(body["error"]["code"], code, "{path}");
        }
    }
    let (_, body) = app
        .call(
            "GET",
            "/admin/inventory/mug/changes?from=yesterday",
            Some(Role::Admin),
            None,
        )
        .await;
    assert_eq!(body["error"]["fieldErrors"][0]["field"], "from");
    app.database.drop().await;
}

#[tokio::test]
async fn a_sku_running_out_or_coming_back_is_announced_from_every_path() {
    let app = spawn_app().await;
    let pool = &app.database.pool;
    let reserve = reserver(pool);
    let release = Runner::new(pool.clone(), ReleaseStock);

    // A new SKU with units comes into stock.
    set(&app, "mug", 3).await;
    // Reserving the last units runs it out; a redelivery does not announce it again.
    deliver(&reserve, &placed("e-1", "o-1", &[("mug", 3)])).await;
    deliver(&reserve, &placed("e-1", "o-1", &[("mug", 3)])).await;
    // The cancelled order's units come back.
    deliver(&release, &cancelled("e-2", "o-1")).await;
    // An admin empties the shelf, then finds two more.
    set(&app, "mug", 0).await;
    adjust(&app, "mug", 2).await;
    adjust(&app, "mug", -2).await;

    assert_eq!(
        availability_events(pool).await,
        [
            restored("mug"),
            depleted("mug"),
            restored("mug"),
            depleted("mug"),
            restored("mug"),
            depleted("mug"),
        ]
    );
    app.database.drop().await;
}

#[tokio::test]
async fn changes_on_one_side_of_zero_announce_nothing() {
    let app = spawn_app().await;
    let pool = &app.database.pool;
    sqlx::query("INSERT INTO stock (sku, on_hand) VALUES ('mug', 10), ('cup', 0)")
        .execute(pool)
        .await
        .expect("stock");
    let reserve = reserver(pool);
    let release = Runner::new(pool.clone(), ReleaseStock);
    let commit = Runner::new(pool.clone(), CommitStock);

    set(&app, "mug", 8).await;
    adjust(&app, "mug", 4).await;
    deliver(&reserve, &placed("e-1", "o-1", &[("mug", 5)])).await;
    deliver(&release, &cancelled("e-2", "o-1")).await;
    deliver(&reserve, &placed("e-3", "o-2", &[("mug", 11)])).await;
    // Selling reserved units takes them off the shelf, but they were not available anyway.
    deliver(&commit, &confirmed("e-4", "o-2")).await;
    // An empty SKU set to empty again, and an order refused for it, change nothing for buyers.
    set(&app, "cup", 0).await;
    deliver(&reserve, &placed("e-5", "o-3", &[("cup", 1)])).await;

    let (_, mug) = app.call("GET", "/inventory/mug", None, None).await;
    assert_eq!(
        (&mug["data"]["onHand"], &mug["data"]["available"]),
        (&json!(1), &json!(1)),
        "every step above really happened"
    );
    assert_eq!(availability_events(pool).await, []);
    app.database.drop().await;
}
