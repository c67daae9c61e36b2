//! Helpers for the tests that drive the running platform: publish catalog events to Kafka the
//! way the outbox relay will, and read ordering's projection from MariaDB.

#![allow(dead_code)]

use events::EventType;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cloudevents::{EventBuilder, EventBuilderV10};
use rdkafka::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use sqlx::MySqlPool;
use stackctl::settings::StackSettings;

pub const DEADLINE: Duration = Duration::from_secs(60);

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn stack_home() -> PathBuf {
    std::env::var_os("STACK_HOME").map_or_else(|| repo_root().join("local-stack/var"), PathBuf::from)
}

/// The local URL of a function, derived from template.yaml as the stack derives it.
pub fn function_url(name: &str) -> String {
    let base_port = std::env::var("FUNCTION_BASE_PORT")
        .ok()
        .and_then(|port| port.parse().ok())
        .unwrap_or(8100);
    let registry = template::Registry::load(&repo_root().join("template.yaml")).expect("template.yaml");
    let port = registry
        .local_ports(base_port)
        .into_iter()
        .find(|(function, _)| function.name == name)
        .map(|(_, port)| port)
        .expect("the function is in template.yaml");
    format!("http://127.0.0.1:{port}/")
}

pub fn producer() -> FutureProducer {
    ClientConfig::new()
        .set(
            "bootstrap.servers",
            StackSettings::from_env().kafka_bootstrap_servers,
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

pub async fn admin() -> MySqlPool {
    stackctl::database::connect(&StackSettings::from_env().mariadb_admin_url)
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

/// Polls `check` until it returns true or the deadline passes.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < DEADLINE,
            "{what} did not happen within {DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
