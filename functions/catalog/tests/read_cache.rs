//! The read cache of product and browse pages against the real Redis and MariaDB of the local
//! stack: pages come from Redis after the first read, every change retires what it made stale
//! (HTTP writes and event functions alike), and with Redis unreachable reads still answer from
//! MariaDB while the error counter says so. Each test has a key prefix of its own, so tests
//! running at once on one Redis never see each other's entries or browse generations.

use axum::Router;
use axum::http::StatusCode;
use cache::{ReadCache, Settings};
use catalog::activity::{ProjectStockAvailability, RecordProductSales};
use catalog::cache::{CatalogCache, ForgetsProducts};
use catalog::http::{
    CatalogApi, browse_products_routes, change_price_routes, create_product_routes, get_product_routes,
    manage_likes_routes, review_product_routes,
};
use chrono::Utc;
use cloudevents::{Event, EventBuilder, EventBuilderV10};
use events::EventType;
use runtime::events::{Delivery, EventHandler, Outcome};
use security::Role;
use serde_json::{Value, json};
use store::consumer::Runner;
use testkit::app::{TestApp, request, send};
use uuid::Uuid;

/// A cache on the local stack's Redis under a prefix no other test uses.
fn stack_cache() -> CatalogCache {
    let url =
        std::env::var("REDIS_URL").expect("REDIS_URL of the local stack (source local-stack/var/stack.env)");
    let prefix = format!("test:catalog:{}:", Uuid::now_v7());
    CatalogCache::new(ReadCache::redis(&url, &prefix, Settings::default()).expect("redis url"))
}

/// A cache on a port where nothing listens, as when Redis is down.
fn unreachable_cache() -> CatalogCache {
    CatalogCache::new(
        ReadCache::redis("redis://127.0.0.1:1", "test:down:", Settings::default()).expect("redis url"),
    )
}

async fn spawn_app(cache: &CatalogCache) -> TestApp {
    let cache = cache.clone();
    TestApp::spawn("catalog", move |pool, verifier| {
        let api = CatalogApi::new(pool).with_cache(cache);
        Router::new()
            .merge(create_product_routes(api.clone(), verifier.clone()))
            .merge(change_price_routes(api.clone(), verifier.clone()))
            .merge(review_product_routes(api.clone(), verifier.clone()))
            .merge(manage_likes_routes(api.clone(), verifier))
            .merge(browse_products_routes(api.clone()))
            .merge(get_product_routes(api))
    })
    .await
}

async fn create(app: &TestApp, id: &str, price: i64) {
    let body = json!({"productId": id, "name": id, "priceMinor": price, "currency": "EUR"});
    let (status, reply) = app
        .call("POST", "/admin/products", Some(Role::Admin), Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
}

async fn product(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.call("GET", &format!("/products/{id}"), None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].clone()
}

async fn browse(app: &TestApp, query: &str) -> Vec<String> {
    let (status, body) = app.call("GET", &format!("/products?{query}"), None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"]["products"]
        .as_array()
        .expect("products")
        .iter()
        .map(|product| product["productId"].as_str().expect("id").to_owned())
        .collect()
}

/// An event as its producer writes it: the source names the context that owns its type.
fn event(id: &str, ty: &str, data: Value) -> Event {
    let context = events::describe(ty).map_or("unknown", |descriptor| descriptor.topic.context);
    EventBuilderV10::new()
        .id(id)
        .ty(ty)
        .source(format!("commerce/{context}/test"))
        .time(Utc::now())
        .data("application/json", data)
        .build()
        .expect("event")
}

#[tokio::test]
async fn a_product_page_comes_from_redis_until_a_change_retires_it() {
    let cache = stack_cache();
    let app = spawn_app(&cache).await;
    create(&app, "mug", 500).await;
    let counts = || cache.read_cache().counts();

    let first = product(&app, "mug").await;
    assert_eq!(counts().misses, 1);
    // Changed behind the cache's back: the next read still shows the cached page, so it came
    // from Redis, byte for byte what the database gave.
    sqlx::query("UPDATE product SET name = 'renamed behind the cache' WHERE product_id = 'mug'")
        .execute(&app.database.pool)
        .await
        .expect("update");
    assert_eq!(product(&app, "MUG").await, first, "ids compare without case");
    assert_eq!(counts().hits, 1);

    // A price change retires the page: the next read shows it (and the name from the database).
    let (status, _) = app
        .call(
            "PUT",
            "/admin/products/mug/price",
            Some(Role::Admin),
            Some(json!({"priceMinor": 650, "currency": "EUR"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let page = product(&app, "mug").await;
    assert_eq!(
        (&page["priceMinor"], &page["name"]),
        (&json!(650), &json!("renamed behind the cache"))
    );

    // A like.
    assert_eq!(product(&app, "mug").await["likeCount"], 0);
    let (status, _) = app
        .call("PUT", "/products/mug/like", Some(Role::Customer), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(product(&app, "mug").await["likeCount"], 1);

    // A sale, arriving as an event and committed by the runner.
    let buyer = Uuid::now_v7();
    let sales = Runner::new(
        app.database.pool.clone(),
        ForgetsProducts::new(RecordProductSales, cache.clone()),
    );
    assert_eq!(product(&app, "mug").await["salesCount"], 0);
    let confirmed = event(
        "sale-1",
        events::ordering::OrderConfirmedV1::NAME,
        json!({"orderId": "o-1", "userId": buyer.to_string(), "totalMinor": 650, "currency": "EUR",
               "lines": [{"productId": "mug", "quantity": 2, "unitPriceMinor": 650}]}),
    );
    assert_eq!(sales.handle(&confirmed, &Delivery::default()).await, Outcome::Ack);
    assert_eq!(product(&app, "mug").await["salesCount"], 2);

    // A review by that buyer.
    let token = app.tokens.token(buyer, Role::Customer);
    let review = json!({"orderId": "o-1", "rating": 4, "title": "Holds tea"});
    let reply = send(
        &app.router,
        request("POST", "/products/mug/reviews", Some(&token), Some(review)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let page = product(&app, "mug").await;
    assert_eq!(
        (&page["reviewCount"], &page["averageRating"]),
        (&json!(1), &json!(4.0))
    );

    // Stock coming back, from inventory's event.
    let stock = Runner::new(
        app.database.pool.clone(),
        ForgetsProducts::new(ProjectStockAvailability, cache.clone()),
    );
    assert_eq!(product(&app, "mug").await["available"], false);
    let restored = event(
        "stock-1",
        events::inventory::StockRestoredV1::NAME,
        json!({"sku": "mug"}),
    );
    assert_eq!(stock.handle(&restored, &Delivery::default()).await, Outcome::Ack);
    assert_eq!(product(&app, "mug").await["available"], true);

    assert_eq!(counts().errors, 0);
    app.database.drop().await;
}

#[tokio::test]
async fn browse_pages_come_from_redis_and_see_a_new_product_at_once() {
    let cache = stack_cache();
    let app = spawn_app(&cache).await;
    create(&app, "mug", 500).await;

    assert_eq!(browse(&app, "sort=price_asc&size=10").await, ["mug"]);
    // The same query in another order is the same page, now from Redis.
    assert_eq!(browse(&app, "size=10&sort=price_asc").await, ["mug"]);
    assert_eq!(cache.read_cache().counts().hits, 1);

    create(&app, "cup", 300).await;
    assert_eq!(browse(&app, "sort=price_asc&size=10").await, ["cup", "mug"]);
    assert_eq!(browse(&app, "maxPrice=400").await, ["cup"]);

    // Keyword searches are not cached: they touch no counter.
    let before = cache.read_cache().counts();
    browse(&app, "q=mug").await;
    assert_eq!(cache.read_cache().counts(), before);
    assert_eq!(cache.read_cache().counts().errors, 0);
    app.database.drop().await;
}

#[tokio::test]
async fn reads_answer_from_mariadb_when_redis_is_unreachable_and_the_errors_are_counted() {
    let cache = unreachable_cache();
    let app = spawn_app(&cache).await;
    create(&app, "mug", 500).await;

    for _ in 0..3 {
        assert_eq!(product(&app, "mug").await["priceMinor"], 500);
        assert_eq!(browse(&app, "sort=name").await, ["mug"]);
    }
    let counts = cache.read_cache().counts();
    assert_eq!(counts.errors, 6, "every read counted as an error: {counts:?}");
    assert_eq!((counts.hits, counts.misses), (0, 0));
    // The write's invalidation failed too, and was counted; the write itself succeeded.
    assert!(counts.invalidation_failures >= 1, "{counts:?}");

    // What `/metrics` serves: the process-wide counter by cache and result.
    let text = telemetry::render_metrics();
    assert!(
        text.lines().any(|line| line.starts_with("cache_requests_total{")
            && line.contains("cache=\"product\"")
            && line.contains("result=\"error\"")),
        "{text}"
    );
    app.database.drop().await;
}
