//! The running platform end to end: a catalog event published to Kafka is delivered by the
//! trigger dispatcher to `project-catalog-product`, which projects it into MariaDB; replaying
//! the topic re-delivers it without changing anything.

use e2e::platform::replay;
use e2e::projection::{DELIVERY, admin, producer, projected_count, projected_price, publish_created};

#[tokio::test]
async fn a_catalog_event_on_kafka_reaches_the_ordering_projection_through_the_dispatcher() {
    let admin = admin().await;
    let producer = producer();
    let product_id = format!("e2e-{}", uuid::Uuid::new_v4().simple());
    publish_created(&producer, &product_id, 4_200).await;
    DELIVERY
        .eventually("the projection of the new product", || async {
            projected_price(&admin, &product_id).await == Some(4_200)
        })
        .await;
}

#[tokio::test]
async fn replaying_the_catalog_topic_from_a_time_redelivers_and_changes_nothing() {
    let admin = admin().await;
    let producer = producer();
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    let prefix = format!("replay-{}-", uuid::Uuid::new_v4().simple());
    let mut ids = Vec::new();
    for index in 0..5 {
        ids.push(publish_created(&producer, &format!("{prefix}{index}"), 1_000 + index).await);
    }
    DELIVERY
        .eventually("the five products projected", || async {
            projected_count(&admin, &prefix).await == 5
        })
        .await;

    for _ in 0..2 {
        let replayed = replay(
            "project-catalog-product",
            events::topics::CATALOG_PRODUCT.name,
            &["--from-time", &since.to_rfc3339()],
        );
        assert!(
            replayed.acknowledged >= 5,
            "the five events were delivered again: {replayed:?}"
        );
    }

    assert_eq!(projected_count(&admin, &prefix).await, 5);
    for index in 0..5 {
        assert_eq!(
            projected_price(&admin, &format!("{prefix}{index}")).await,
            Some(1_000 + index)
        );
    }
    let mut recorded = 0_i64;
    for id in &ids {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM ordering.processed_event WHERE consumer = 'project-catalog-product' AND event_id = ?",
        )
        .bind(id)
        .fetch_one(&admin)
        .await
        .expect("count");
        recorded += count;
    }
    assert_eq!(
        recorded, 5,
        "each event is recorded once in the inbox, however often it is delivered"
    );
}
