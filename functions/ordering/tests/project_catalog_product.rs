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

/// What place-order would read for a line of this SKU: `None` if ordering does not know it,
/// else whether it can be ordered and at what price.
async fn orderable(database: &TestDatabase, sku: &str) -> Option<(bool, i64)> {
    let mut connection = database.pool.acquire().await.expect("connection");
    let sku = ordering::order::ProductId::parse(sku).expect("sku");
    ordering::orders::rows::catalog_price(&mut connection, &sku)
        .await
        .expect("read")
        .map(|price| (price.orderable, price.unit_price.minor()))
}

#[tokio::test]
async fn the_skus_of_a_product_with_options_are_sold_and_stopped_and_the_product_id_is_not() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let handler = Runner::new(database.pool.clone(), ProjectCatalogProduct);
    let start = Utc::now();
    let at = |seconds: i64| start + Duration::seconds(seconds);
    let sku = |n: u32, price: i64, colour: &str| {
        json!({"productId": "tee", "sku": format!("tee-{n}"), "name": format!("Tee ({colour})"),
               "priceMinor": price, "currency": "EUR", "options": {"Colour": colour}})
    };
    let script = [
        catalog_event(
            "e-1",
            events::catalog::ProductCreatedV1::NAME,
            at(0),
            json!({"productId": "tee", "name": "Tee", "priceMinor": 1000, "currency": "EUR", "hasOptions": true}),
        ),
        catalog_event(
            "e-2",
            events::catalog::SkuCreatedV1::NAME,
            at(0),
            sku(1, 1000, "Red"),
        ),
        catalog_event(
            "e-3",
            events::catalog::SkuCreatedV1::NAME,
            at(0),
            sku(2, 1100, "Blue"),
        ),
        catalog_event(
            "e-4",
            events::catalog::ProductPriceChangedV1::NAME,
            at(1),
            json!({"productId": "tee", "priceMinor": 2000, "currency": "EUR", "hasOptions": true}),
        ),
        catalog_event(
            "e-5",
            events::catalog::SkuPriceChangedV1::NAME,
            at(1),
            json!({"productId": "tee", "sku": "tee-2", "priceMinor": 2100, "currency": "EUR"}),
        ),
        catalog_event(
            "e-6",
            events::catalog::SkuDeactivatedV1::NAME,
            at(2),
            json!({"productId": "tee", "sku": "tee-1"}),
        ),
    ];
    for event in &script {
        assert_eq!(deliver(&handler, event).await, Outcome::Ack);
    }

    assert_eq!(
        orderable(&database, "tee").await,
        None,
        "the product id itself is not a SKU"
    );
    assert_eq!(
        orderable(&database, "tee-1").await,
        Some((false, 1000)),
        "deactivated"
    );
    assert_eq!(orderable(&database, "tee-2").await, Some((true, 2100)));

    // Discontinuing the product stops every SKU; re-activating it restarts all but the one
    // deactivated for good.
    let discontinued = catalog_event(
        "e-7",
        events::catalog::ProductDiscontinuedV1::NAME,
        at(3),
        json!({"productId": "tee"}),
    );
    deliver(&handler, &discontinued).await;
    assert_eq!(orderable(&database, "tee-2").await, Some((false, 2100)));
    let reactivated = catalog_event(
        "e-8",
        events::catalog::ProductReactivatedV1::NAME,
        at(4),
        json!({"productId": "tee"}),
    );
    deliver(&handler, &reactivated).await;
    assert_eq!(orderable(&database, "tee-1").await, Some((false, 1000)));
    assert_eq!(orderable(&database, "tee-2").await, Some((true, 2100)));

    // Replaying the whole history under new event ids (the inbox purged) changes nothing.
    let before: Vec<(String, Option<String>, i64, bool, bool)> = sqlx::query_as(
        "SELECT product_id, product_of, price_minor, orderable, sku_active FROM product_price ORDER BY product_id",
    )
    .fetch_all(&database.pool)
    .await
    .expect("rows");
    for (n, event) in script.iter().chain([&discontinued, &reactivated]).enumerate() {
        let mut replayed = event.clone();
        cloudevents::event::AttributesWriter::set_id(&mut replayed, format!("replay-{n}"));
        assert_eq!(deliver(&handler, &replayed).await, Outcome::Ack);
    }
    let after: Vec<(String, Option<String>, i64, bool, bool)> = sqlx::query_as(
        "SELECT product_id, product_of, price_minor, orderable, sku_active FROM product_price ORDER BY product_id",
    )
    .fetch_all(&database.pool)
    .await
    .expect("rows");
    assert_eq!(before, after);
    database.drop().await;
}

async fn prices_of_sku(database: &TestDatabase, sku: &str) -> Option<(i64, Option<i64>)> {
    sqlx::query_as("SELECT price_minor, list_price_minor FROM product_price WHERE product_id = ?")
        .bind(sku)
        .fetch_optional(&database.pool)
        .await
        .expect("select")
}

#[tokio::test]
async fn a_skus_list_price_is_kept_beside_its_selling_price_and_older_events_leave_it_unknown() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let handler = Runner::new(database.pool.clone(), ProjectCatalogProduct);
    let start = Utc::now();
    let sku_created = |id: &str, sku: &str, list: Option<i64>| {
        let mut data = json!({"productId": "p-1", "sku": sku, "name": "Cup", "priceMinor": 1290,
                              "currency": "EUR", "options": {}});
        if let Some(list) = list {
            data["listPriceMinor"] = json!(list);
        }
        catalog_event(id, events::catalog::SkuCreatedV1::NAME, start, data)
    };
    assert_eq!(
        deliver(&handler, &sku_created("e-1", "p-1", Some(1500))).await,
        Outcome::Ack
    );
    assert_eq!(
        deliver(&handler, &sku_created("e-2", "p-2", None)).await,
        Outcome::Ack
    );
    assert_eq!(prices_of_sku(&database, "p-1").await, Some((1290, Some(1500))));
    assert_eq!(prices_of_sku(&database, "p-2").await, Some((1290, None)));

    let ended = catalog_event(
        "e-3",
        events::catalog::SkuPriceChangedV1::NAME,
        start + Duration::seconds(1),
        json!({"productId": "p-1", "sku": "p-1", "priceMinor": 1500, "currency": "EUR", "listPriceMinor": 1500}),
    );
    assert_eq!(deliver(&handler, &ended).await, Outcome::Ack);
    assert_eq!(prices_of_sku(&database, "p-1").await, Some((1500, Some(1500))));

    let negative = catalog_event(
        "e-4",
        events::catalog::SkuPriceChangedV1::NAME,
        start + Duration::seconds(2),
        json!({"productId": "p-1", "sku": "p-1", "priceMinor": 1500, "currency": "EUR", "listPriceMinor": -1}),
    );
    assert!(matches!(deliver(&handler, &negative).await, Outcome::Reject(_)));
    assert_eq!(prices_of_sku(&database, "p-1").await, Some((1500, Some(1500))));
    database.drop().await;
}
