//! The running platform end to end: a catalog event published to Kafka is delivered by the
//! trigger dispatcher to `project-catalog-product`, which projects it into MariaDB; replaying
//! the topic re-delivers it without changing anything.

mod support;

use std::process::Command;

use support::*;

#[tokio::test]
async fn a_catalog_event_on_kafka_reaches_the_ordering_projection_through_the_dispatcher() {
    let admin = admin().await;
    let producer = producer();
    let product_id = format!("e2e-{}", uuid::Uuid::new_v4().simple());
    publish_created(&producer, &product_id, 4_200).await;
    eventually("the projection of the new product", || async {
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
    eventually("the five products projected", || async {
        projected_count(&admin, &prefix).await == 5
    })
    .await;

    for _ in 0..2 {
        let replay = Command::new(repo_root().join("target/debug/replay"))
            .args([
                "--function",
                "project-catalog-product",
                "--topic",
                events::topics::CATALOG_PRODUCT.name,
            ])
            .args(["--target", &function_url("project-catalog-product")])
            .args(["--from-time", &since.to_rfc3339()])
            .output()
            .expect("run replay");
        let summary = String::from_utf8_lossy(&replay.stdout);
        assert!(
            replay.status.success(),
            "replay failed: {}",
            String::from_utf8_lossy(&replay.stderr)
        );
        let acknowledged: u64 = summary
            .lines()
            .find_map(|line| line.trim().strip_prefix("acknowledged: "))
            .and_then(|count| count.trim_end_matches(',').parse().ok())
            .unwrap_or_else(|| panic!("no acknowledged count in {summary}"));
        assert!(
            acknowledged >= 5,
            "the five events were delivered again: {summary}"
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
