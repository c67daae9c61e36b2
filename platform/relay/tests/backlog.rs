//! The backlog watch against a real MariaDB: the age of the oldest unpublished outbox row is
//! what a stalled relay cannot hide (its publish-time lag gauge freezes; this keeps growing).

use chrono::{Duration, Utc};
use store::testing::TestDatabase;

async fn insert_row(database: &TestDatabase, occurred_at: chrono::DateTime<Utc>) {
    sqlx::query(
        "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, topic, source, occurred_at) \
         VALUES (?, 'order', 'o-1', 'commerce.ordering.order.placed.v1', '{}', 'commerce.ordering.order', 'test', ?)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(occurred_at)
    .execute(&database.pool)
    .await
    .expect("an outbox row");
}

#[tokio::test]
async fn the_backlog_is_as_old_as_the_oldest_row_still_in_the_outbox_and_zero_when_it_is_empty() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let schemas = vec![database.name.clone()];
    let now = Utc::now();

    let empty = relay::backlog::ages(&database.pool, &schemas, now)
        .await
        .expect("ages");
    assert_eq!(
        empty,
        vec![(database.name.clone(), 0.0)],
        "nothing waiting, no backlog"
    );

    insert_row(&database, now - Duration::seconds(42)).await;
    insert_row(&database, now - Duration::seconds(3)).await;
    let waiting = relay::backlog::ages(&database.pool, &schemas, now)
        .await
        .expect("ages");
    assert_eq!(waiting.len(), 1);
    assert!(
        (waiting[0].1 - 42.0).abs() < 0.01,
        "the oldest waiting row sets the age: {waiting:?}"
    );

    // Later, with nothing published, the same backlog is older: the gauge cannot freeze.
    let later = relay::backlog::ages(&database.pool, &schemas, now + Duration::seconds(10))
        .await
        .expect("ages");
    assert!((later[0].1 - 52.0).abs() < 0.01, "{later:?}");
    database.drop().await;
}
