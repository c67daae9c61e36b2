//! Catalog events published to Kafka the way the outbox relay publishes them, and ordering's
//! projection of catalog prices (`ordering.product_price`) read back from MariaDB.

use events::EventType;
use std::time::Duration;

use cloudevents::{EventBuilder, EventBuilderV10};
use rdkafka::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sqlx::MySqlPool;
use sqlx::mysql::MySqlPoolOptions;
use testkit::poll::Polling;
use testkit::stack;

/// How long a published event may take to reach the projection through the dispatcher.
pub const DELIVERY: Polling = Polling::new(Duration::from_secs(60), Duration::from_millis(100));

pub fn producer() -> FutureProducer {
    ClientConfig::new()
        .set(
            "bootstrap.servers",
            stack::setting("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|| "127.0.0.1:9092".to_owned()),
        )
        .set("enable.idempotence", "true")
        .create()
        .expect("producer")
}

/// Publishes a catalog event as the relay would: binary-mode CloudEvent keyed by product id.
pub async fn publish_product(
    producer: &FutureProducer,
    product_id: &str,
    ty: &str,
    data: serde_json::Value,
) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    let event = EventBuilderV10::new()
        .id(id.clone())
        .ty(ty)
        .source("commerce/catalog/test")
        .subject(product_id)
        .time(chrono::Utc::now())
        .extension(events::kafka::PARTITION_KEY, product_id)
        .data("application/json", data)
        .build()
        .expect("event");
    let record = events::kafka::encode_binary(&event);
    let mut headers = OwnedHeaders::new();
    for header in &record.headers {
        headers = headers.insert(Header {
            key: &header.key,
            value: header.value.as_deref(),
        });
    }
    let key = record.key.clone().unwrap_or_default();
    let payload = record.payload.clone().unwrap_or_default();
    producer
        .send(
            FutureRecord::to(events::topics::CATALOG_PRODUCT.name)
                .key(&key)
                .payload(&payload)
                .headers(headers),
            Duration::from_secs(30),
        )
        .await
        .expect("the broker acknowledged the event");
    id
}

pub async fn publish_created(producer: &FutureProducer, product_id: &str, price_minor: i64) -> String {
    publish_product(
        producer,
        product_id,
        events::catalog::ProductCreatedV1::NAME,
        serde_json::json!({"productId": product_id, "name": "Test product", "priceMinor": price_minor, "currency": "EUR"}),
    )
    .await
}

/// The stack's administrative account, which may read every schema.
pub async fn admin() -> MySqlPool {
    let url = stack::setting("STACK_MARIADB_ADMIN_URL")
        .unwrap_or_else(|| "mysql://stack_admin:local-admin@127.0.0.1:3307".to_owned());
    MySqlPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&url)
        .await
        .expect("MariaDB of the local stack")
}

pub async fn projected_price(admin: &MySqlPool, product_id: &str) -> Option<i64> {
    sqlx::query_scalar("SELECT price_minor FROM ordering.product_price WHERE product_id = ?")
        .bind(product_id)
        .fetch_optional(admin)
        .await
        .expect("select")
}

pub async fn projected_count(admin: &MySqlPool, prefix: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM ordering.product_price WHERE product_id LIKE CONCAT(?, '%')")
        .bind(prefix)
        .fetch_one(admin)
        .await
        .expect("count")
}
