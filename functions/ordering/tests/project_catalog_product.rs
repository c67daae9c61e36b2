//! `project-catalog-product` against the real MariaDB of the local stack: each test gets a
//! fresh database with the ordering migrations applied.

use chrono::{DateTime, Duration, Utc};
use cloudevents::{Event, EventBuilder, EventBuilderV10};
use events::EventType;
use ordering::catalog_projection::ProjectCatalogProduct;
use runtime::events::{Delivery, EventHandler, Outcome};
use serde_json::json;
use sqlx::mysql::MySqlPoolOptions;
use store::consumer::Runner;
use store::testing::TestDatabase;

async fn price_of(database: &TestDatabase, product_id: &str) -> Option<(Option<String>, i64, String, bool)> {
    sqlx::query_as("SELECT name, price_minor, currency, orderable FROM product_price WHERE product_id = ?")
        .bind(product_id)
        .fetch_optional(&database.pool)
        .await
        .expect("select")
}

fn catalog_event(id: &str, ty: &str, at: DateTime<Utc>, data: serde_json::Value) -> Event {
    EventBuilderV10::new()
        .id(id)
        .ty(ty)
        .source("commerce/catalog")
        .subject("p-1")
        .time(at)
        .data("application/json", data)
        .build()
        .expect("event")
}

fn created(id: &str, at: DateTime<Utc>, price: i64) -> Event {
    catalog_event(
        id,
        events::catalog::ProductCreatedV1::NAME,
        at,
        json!({"productId": "p-1", "name": "Espresso cup", "priceMinor": price, "currency": "EUR"}),
    )
}

fn price_changed(id: &str, at: DateTime<Utc>, price: i64) -> Event {
    catalog_event(
        id,
        events::catalog::ProductPriceChangedV1::NAME,
        at,
        json!({"productId": "p-1", "priceMinor": price, "currency": "EUR"}),
    )
}

async fn deliver(handler: &Runner<ProjectCatalogProduct>, event: &Event) -> Outcome {
    handler.handle(event, &Delivery::default()).await
}

#[tokio::test]
async fn a_created_product_and_its_price_changes_are_projected() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let handler = Runner::new(database.pool.clone(), ProjectCatalogProduct);
    let start = Utc::now();

    assert_eq!(
        deliver(&handler, &created("e-1", start, 1290)).await,
        Outcome::Ack
    );
    assert_eq!(
        deliver(
            &handler,
            &price_changed("e-2", start + Duration::seconds(1), 1190)
        )
        .await,
        Outcome::Ack
    );

    assert_eq!(
        price_of(&database, "p-1").await,
        Some((Some("Espresso cup".to_owned()), 1190, "EUR".to_owned(), true))
    );
    database.drop().await;
}

#[tokio::test]
async fn redelivered_and_replayed_events_change_nothing() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let handler = Runner::new(database.pool.clone(), ProjectCatalogProduct);
    let start = Utc::now();
    let first = price_changed("e-1", start, 1190);
    let second = price_changed("e-2", start + Duration::seconds(1), 1090);

    for event in [
        &created("e-0", start - Duration::seconds(1), 1290),
        &first,
        &second,
        &first,
        &second,
    ] {
        assert_eq!(deliver(&handler, event).await, Outcome::Ack);
    }
    // An older change with a new id (a replay after the inbox was purged) is ignored too.
    assert_eq!(
        deliver(
            &handler,
            &price_changed("e-old", start - Duration::seconds(5), 990)
        )
        .await,
        Outcome::Ack
    );

    assert_eq!(price_of(&database, "p-1").await.map(|row| row.1), Some(1090));
    let inbox: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM processed_event WHERE consumer = 'project-catalog-product'")
            .fetch_one(&database.pool)
            .await
            .expect("count");
    assert_eq!(inbox, 4, "one inbox row per distinct event id");
    database.drop().await;
}

#[tokio::test]
async fn a_discontinued_product_can_no_longer_be_ordered() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let handler = Runner::new(database.pool.clone(), ProjectCatalogProduct);
    let start = Utc::now();
    deliver(&handler, &created("e-1", start, 1290)).await;
    let discontinued = catalog_event(
        "e-2",
        events::catalog::ProductDiscontinuedV1::NAME,
        start + Duration::seconds(1),
        json!({"productId": "p-1"}),
    );
    assert_eq!(deliver(&handler, &discontinued).await, Outcome::Ack);
    assert_eq!(price_of(&database, "p-1").await.map(|row| row.3), Some(false));
    database.drop().await;
}

#[tokio::test]
async fn an_event_with_a_bad_payload_is_rejected_and_writes_nothing() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let handler = Runner::new(database.pool.clone(), ProjectCatalogProduct);
    let bad = catalog_event(
        "e-1",
        events::catalog::ProductCreatedV1::NAME,
        Utc::now(),
        json!({"productId": "p-1", "name": "Cup", "priceMinor": 12.5, "currency": "EUR"}),
    );
    assert!(matches!(deliver(&handler, &bad).await, Outcome::Reject(_)));
    assert_eq!(price_of(&database, "p-1").await, None);
    let inbox: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM processed_event")
        .fetch_one(&database.pool)
        .await
        .expect("count");
    assert_eq!(inbox, 0, "a rejected event is not recorded as processed");
    database.drop().await;
}

#[tokio::test]
async fn an_unreachable_database_asks_for_a_retry() {
    let pool = MySqlPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_secs(1))
        .connect_lazy("mysql://nobody:nothing@127.0.0.1:1/ordering")
        .expect("lazy pool");
    let handler = Runner::new(pool, ProjectCatalogProduct);
    assert!(matches!(
        deliver(&handler, &created("e-1", Utc::now(), 1290)).await,
        Outcome::Retry(_)
    ));
}
