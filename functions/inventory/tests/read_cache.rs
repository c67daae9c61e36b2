//! The availability cache against the real Redis and MariaDB of the local stack: a SKU's
//! counters come from Redis after the first read, every stock change forgets them (admin writes,
//! reservations through the runner, the expiry sweep), a cart's bulk read mixes cached and
//! fresh SKUs, and with Redis unreachable reads still answer from MariaDB. Each test has a key
//! prefix of its own, so tests running at once on one Redis never share entries.

use axum::Router;
use axum::http::StatusCode;
use cache::{ReadCache, Settings};
use cloudevents::{Event, EventBuilder, EventBuilderV10};
use events::EventType;
use inventory::cache::{ForgetsAvailability, StockCache};
use inventory::handlers::{DEFAULT_RESERVATION_TTL, ExpireReservations, ReleaseStock, ReserveStock};
use inventory::http::{InventoryApi, get_availability_routes, set_stock_routes};
use runtime::events::{Delivery, EventHandler, Outcome};
use runtime::schedule::ScheduledJob;
use security::Role;
use serde_json::{Value, json};
use store::consumer::Runner;
use testkit::app::TestApp;

fn stack_cache() -> StockCache {
    let url =
        std::env::var("REDIS_URL").expect("REDIS_URL of the local stack (source local-stack/var/stack.env)");
    // The process, the time and a count: no two tests of any run share a prefix.
    static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let made = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_nanos();
    let prefix = format!("test:inventory:{}:{now}:{made}:", std::process::id());
    StockCache::new(ReadCache::redis(&url, &prefix, Settings::default()).expect("redis url"))
}

async fn spawn_app(cache: &StockCache) -> TestApp {
    let cache = cache.clone();
    TestApp::spawn("inventory", move |pool, verifier| {
        let api = InventoryApi::new(pool).with_cache(cache);
        Router::new()
            .merge(set_stock_routes(api.clone(), verifier))
            .merge(get_availability_routes(api))
    })
    .await
}

async fn set_stock(app: &TestApp, sku: &str, on_hand: i64) {
    let (status, body) = app
        .call(
            "PUT",
            &format!("/admin/inventory/{sku}"),
            Some(Role::Admin),
            Some(json!({"onHand": on_hand})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn available(app: &TestApp, sku: &str) -> Value {
    let (status, body) = app.call("GET", &format!("/inventory/{sku}"), None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"]["available"].clone()
}

fn order_event(id: &str, ty: &str, data: Value) -> Event {
    EventBuilderV10::new()
        .id(id)
        .ty(ty)
        .source("commerce/ordering/place-order")
        .data("application/json", data)
        .build()
        .expect("event")
}

#[tokio::test]
async fn availability_comes_from_redis_until_the_stock_changes() {
    let cache = stack_cache();
    let app = spawn_app(&cache).await;
    set_stock(&app, "mug", 5).await;

    assert_eq!(available(&app, "mug").await, 5);
    // Changed behind the cache's back: still the cached figure, so it came from Redis.
    sqlx::query("UPDATE stock SET on_hand = 99 WHERE sku = 'mug'")
        .execute(&app.database.pool)
        .await
        .expect("update");
    assert_eq!(available(&app, "MUG").await, 5, "SKUs compare without case");
    assert_eq!(cache.read_cache().counts().hits, 1);

    set_stock(&app, "mug", 7).await;
    assert_eq!(available(&app, "mug").await, 7);

    // An order reserves 3 through the runner, then is cancelled.
    let reserve = Runner::new(
        app.database.pool.clone(),
        ForgetsAvailability::new(
            ReserveStock {
                ttl: DEFAULT_RESERVATION_TTL,
            },
            cache.clone(),
        ),
    );
    let placed = order_event(
        "e-1",
        events::ordering::OrderPlacedV1::NAME,
        json!({"orderId": "o-1", "userId": "u-1", "totalMinor": 300, "currency": "EUR", "paymentToken": "tok",
               "lines": [{"productId": "mug", "quantity": 3, "unitPriceMinor": 100}]}),
    );
    assert_eq!(reserve.handle(&placed, &Delivery::default()).await, Outcome::Ack);
    assert_eq!(available(&app, "mug").await, 4);
    let release = Runner::new(
        app.database.pool.clone(),
        ForgetsAvailability::new(ReleaseStock, cache.clone()),
    );
    let cancelled = order_event(
        "e-2",
        events::ordering::OrderCancelledV1::NAME,
        json!({"orderId": "o-1", "userId": "u-1", "reason": "payment-declined"}),
    );
    assert_eq!(
        release.handle(&cancelled, &Delivery::default()).await,
        Outcome::Ack
    );
    assert_eq!(available(&app, "mug").await, 7);

    // A reservation that runs out is released by the sweep, which forgets it too.
    let placed = order_event(
        "e-3",
        events::ordering::OrderPlacedV1::NAME,
        json!({"orderId": "o-2", "userId": "u-1", "totalMinor": 200, "currency": "EUR", "paymentToken": "tok",
               "lines": [{"productId": "mug", "quantity": 2, "unitPriceMinor": 100}]}),
    );
    assert_eq!(reserve.handle(&placed, &Delivery::default()).await, Outcome::Ack);
    assert_eq!(available(&app, "mug").await, 5);
    sqlx::query("UPDATE reservation SET expires_at = NOW(6) - INTERVAL 1 MINUTE WHERE order_id = 'o-2'")
        .execute(&app.database.pool)
        .await
        .expect("age the reservation");
    let sweep = ExpireReservations::new(app.database.pool.clone()).with_cache(cache.clone());
    assert_eq!(sweep.run().await.expect("sweep")["released"], 1);
    assert_eq!(available(&app, "mug").await, 7);

    assert_eq!(cache.read_cache().counts().errors, 0);
    app.database.drop().await;
}

#[tokio::test]
async fn a_cart_reads_cached_and_fresh_skus_together_and_unknown_ones_are_never_cached() {
    let cache = stack_cache();
    let app = spawn_app(&cache).await;
    set_stock(&app, "mug", 5).await;
    set_stock(&app, "cup", 2).await;
    assert_eq!(available(&app, "mug").await, 5);

    let cart = json!({"skus": ["cup", "MUG", "plate"]});
    let expected = json!({
        "items": [
            {"sku": "cup", "onHand": 2, "reserved": 0, "available": 2},
            {"sku": "MUG", "onHand": 5, "reserved": 0, "available": 5},
        ],
        "unknown": ["plate"],
    });
    for _ in 0..2 {
        let (status, body) = app
            .call("POST", "/inventory/availability", None, Some(cart.clone()))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["data"], expected);
    }
    // The first cart found mug cached; the second found cup too. Plate missed both times.
    let counts = cache.read_cache().counts();
    assert_eq!((counts.hits, counts.misses), (3, 4), "{counts:?}");

    // A SKU opened after it was asked about is seen at once.
    set_stock(&app, "plate", 1).await;
    let (_, body) = app
        .call("POST", "/inventory/availability", None, Some(cart))
        .await;
    assert_eq!(body["data"]["unknown"], json!([]));
    app.database.drop().await;
}

#[tokio::test]
async fn availability_answers_from_mariadb_when_redis_is_unreachable() {
    let cache = StockCache::new(
        ReadCache::redis("redis://127.0.0.1:1", "test:down:", Settings::default()).expect("redis url"),
    );
    let app = spawn_app(&cache).await;
    set_stock(&app, "mug", 5).await;
    assert_eq!(available(&app, "mug").await, 5);
    set_stock(&app, "mug", 6).await;
    assert_eq!(available(&app, "mug").await, 6);
    let (status, body) = app
        .call(
            "POST",
            "/inventory/availability",
            None,
            Some(json!({"skus": ["mug"]})),
        )
        .await;
    assert_eq!(
        (status, &body["data"]["items"][0]["available"]),
        (StatusCode::OK, &json!(6))
    );
    let counts = cache.read_cache().counts();
    assert_eq!(counts.errors, 3, "{counts:?}");
    assert_eq!(counts.invalidation_failures, 2, "{counts:?}");
    app.database.drop().await;
}
