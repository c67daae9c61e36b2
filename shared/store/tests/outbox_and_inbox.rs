//! The outbox and the inbox against the real MariaDB of the local stack, on a throw-away
//! database with a context's migrations (so no relay ever reads what these tests write).

use events::EventType;
use events::ordering::OrderCancelledV1;
use store::inbox::{self, Claim};
use store::outbox::{self, EventContext, Origin};
use store::testing::TestDatabase;

async fn outbox_count(database: &TestDatabase) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(&database.pool)
        .await
        .expect("count")
}

fn order_cancelled(order_id: &str) -> OrderCancelledV1 {
    OrderCancelledV1 {
        order_id: order_id.to_owned(),
        user_id: "u-1".to_owned(),
        reason: "customer-cancelled".to_owned(),
    }
}

fn origin(order_id: &str) -> Origin {
    let context = EventContext {
        traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()),
        tracestate: None,
        correlation_id: None,
        causation_id: Some("request-1".to_owned()),
    };
    Origin::new("customer-cancel-order", context.correlated(order_id))
}

#[tokio::test]
async fn events_are_stored_with_the_state_change_when_it_commits() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let event = order_cancelled("o-1");
    let mut transaction = database.pool.begin().await.expect("begin");
    sqlx::query("INSERT INTO product_price (product_id, price_minor, currency, last_event_at) VALUES ('p', 1, 'EUR', NOW())")
        .execute(&mut *transaction)
        .await
        .expect("state change");
    let id = outbox::append(&mut transaction, &origin("o-1"), &event)
        .await
        .expect("append");
    transaction.commit().await.expect("commit");

    type OutboxRow = (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let row: OutboxRow = sqlx::query_as(
        "SELECT id, aggregatetype, aggregateid, type, payload, topic, source, traceparent, correlationid, causationid
         FROM outbox",
    )
    .fetch_one(&database.pool)
    .await
    .expect("one outbox row");
    assert_eq!(row.0, id.to_string());
    assert_eq!(id.get_version_num(), 7, "ids are UUIDv7");
    assert_eq!(
        (row.1.as_str(), row.2.as_str(), row.3.as_str()),
        ("order", "o-1", "commerce.ordering.order.cancelled.v1")
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&row.4).expect("JSON"),
        serde_json::to_value(&event).expect("JSON")
    );
    // Topic, type and source come from the payload's type, never from the producer.
    assert_eq!(row.5, OrderCancelledV1::TOPIC.name);
    assert_eq!(row.6, "commerce/ordering/customer-cancel-order");
    assert_eq!(row.7, origin("o-1").context.traceparent);
    assert_eq!(
        (row.8.as_deref(), row.9.as_deref()),
        (Some("o-1"), Some("request-1"))
    );
    database.drop().await;
}

#[tokio::test]
async fn a_rolled_back_state_change_leaves_no_event() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let mut transaction = database.pool.begin().await.expect("begin");
    for order_id in ["o-1", "o-2"] {
        outbox::append(&mut transaction, &origin(order_id), &order_cancelled(order_id))
            .await
            .expect("append");
    }
    transaction.rollback().await.expect("rollback");
    assert_eq!(outbox_count(&database).await, 0);
    database.drop().await;
}

#[tokio::test]
async fn a_concurrent_second_delivery_waits_for_the_first_and_then_does_nothing() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let Claim::New(first) = inbox::claim(&database.pool, "reserve-stock", "e-1", &inbox::Arrival::default())
        .await
        .expect("claim")
    else {
        panic!("the first delivery is new");
    };
    let pool = database.pool.clone();
    let second =
        tokio::spawn(
            async move { inbox::claim(&pool, "reserve-stock", "e-1", &inbox::Arrival::default()).await },
        );
    // The second claim cannot finish while the first holds the row: it either waits on the
    // row lock or has not run yet. Either way it can only see the outcome of the first.
    assert!(
        !second.is_finished(),
        "the second delivery must not finish before the first commits"
    );
    first.commit().await.expect("commit");
    let outcome = second.await.expect("task").expect("claim");
    assert!(matches!(outcome, Claim::AlreadyProcessed), "{outcome:?}");
    database.drop().await;
}

#[tokio::test]
async fn when_the_first_delivery_rolls_back_the_second_one_does_the_work() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let Claim::New(first) = inbox::claim(&database.pool, "reserve-stock", "e-1", &inbox::Arrival::default())
        .await
        .expect("claim")
    else {
        panic!("the first delivery is new");
    };
    first.rollback().await.expect("rollback");
    let second = inbox::claim(&database.pool, "reserve-stock", "e-1", &inbox::Arrival::default())
        .await
        .expect("claim");
    assert!(matches!(second, Claim::New(_)));
    // The open transaction holds a connection; the pool cannot close until it is gone.
    drop(second);
    database.drop().await;
}
