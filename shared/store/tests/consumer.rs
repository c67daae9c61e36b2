//! The consumer runner against the real MariaDB of the local stack: what an event function
//! promises whatever its use case — each event's effect commits once with its inbox row, a
//! failure leaves nothing behind, and the answer to the trigger says whether to try again.

use cloudevents::{AttributesWriter, Event, EventBuilder, EventBuilderV10};
use events::EventType;
use events::ordering::{OrderCancelledV1, OrderPlacedV1};
use runtime::events::{Delivery, EventHandler, Outcome};
use sqlx::{MySqlConnection, MySqlPool};
use store::consumer::{Consumer, Received, Retryable, Runner};
use store::outbox;
use store::testing::TestDatabase;

/// A use case that records each cancelled order as a row and announces it again; the
/// cancellation's `reason` makes it fail the way a test needs.
struct RecordCancellation;

#[derive(Debug, thiserror::Error)]
enum RecordError {
    #[error("the database is having a moment")]
    Transient,
    #[error("order {0} breaks a rule")]
    BrokenRule(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl Retryable for RecordError {
    fn is_retryable(&self) -> bool {
        !matches!(self, Self::BrokenRule(_))
    }
}

impl Consumer for RecordCancellation {
    const NAME: &'static str = "record-cancellation";
    type Event = OrderCancelledV1;
    type Error = RecordError;
    type Prepared = ();

    fn wants(&self, cancelled: &OrderCancelledV1) -> bool {
        cancelled.reason != "not-interesting"
    }

    async fn apply(
        &self,
        transaction: &mut MySqlConnection,
        cancelled: &Received<OrderCancelledV1>,
    ) -> Result<(), RecordError> {
        let order_id = &cancelled.data.order_id;
        sqlx::query("INSERT INTO product_price (product_id, price_minor, currency, last_event_at) VALUES (?, 1, 'EUR', NOW())")
            .bind(order_id)
            .execute(&mut *transaction)
            .await?;
        outbox::append(transaction, &cancelled.origin, &cancelled.data).await?;
        match cancelled.data.reason.as_str() {
            "transient" => Err(RecordError::Transient),
            "broken" => Err(RecordError::BrokenRule(order_id.clone())),
            _ => Ok(()),
        }
    }
}

fn cancelled(event_id: &str, order_id: &str, reason: &str) -> Event {
    EventBuilderV10::new()
        .id(event_id)
        .ty(OrderCancelledV1::NAME)
        .source("commerce/ordering/cancel-order")
        .subject(order_id)
        .extension("correlationid", order_id)
        .data(
            "application/json",
            serde_json::json!({"orderId": order_id, "userId": "u-1", "reason": reason}),
        )
        .build()
        .expect("event")
}

async fn deliver(runner: &Runner<RecordCancellation>, event: &Event) -> Outcome {
    runner.handle(event, &Delivery::default()).await
}

/// (effect rows, outbox rows, inbox rows)
async fn counts(pool: &MySqlPool) -> (i64, i64, i64) {
    let count = |table: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(pool)
            .await
            .expect("count")
    };
    (
        count("product_price").await,
        count("outbox").await,
        count("processed_event").await,
    )
}

#[tokio::test]
async fn an_event_is_applied_once_however_often_it_is_delivered() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let runner = Runner::new(database.pool.clone(), RecordCancellation);
    let event = cancelled("e-1", "o-1", "payment-declined");
    for _ in 0..3 {
        assert_eq!(deliver(&runner, &event).await, Outcome::Ack);
    }
    assert_eq!(counts(&database.pool).await, (1, 1, 1));
    // The two redeliveries are counted as what they were (other tests of this binary add theirs).
    let metrics = telemetry::render_metrics();
    let duplicates: f64 = metrics
        .lines()
        .find(|line| {
            line.starts_with("events_duplicates_total{") && line.contains("function=\"record-cancellation\"")
        })
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0.0);
    assert!(duplicates >= 2.0, "events_duplicates_total: {metrics}");
    let (source, causation, correlation): (String, String, String) =
        sqlx::query_as("SELECT source, causationid, correlationid FROM outbox")
            .fetch_one(&database.pool)
            .await
            .expect("the event it caused");
    assert_eq!(
        (source.as_str(), causation.as_str(), correlation.as_str()),
        ("commerce/ordering/record-cancellation", "e-1", "o-1"),
        "the caused event names its function, its cause and the saga"
    );
    database.drop().await;
}

#[tokio::test]
async fn the_inbox_row_keeps_the_hops_of_the_event_for_the_sagas_timeline() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let runner = Runner::new(database.pool.clone(), RecordCancellation);
    let occurred = chrono::DateTime::parse_from_rfc3339("2026-12-03T09:00:00.100Z")
        .expect("time")
        .to_utc();
    let published = occurred + chrono::Duration::milliseconds(7);
    let mut event = cancelled("e-1", "o-1", "payment-declined");
    event.set_time(Some(occurred));
    event.set_extension(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    );
    let delivery = Delivery {
        published_at: Some(published),
        attempt: 2,
        ..Delivery::default()
    };
    assert_eq!(runner.handle(&event, &delivery).await, Outcome::Ack);
    type Row = (
        String,
        String,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
        u16,
        String,
        chrono::DateTime<chrono::Utc>,
    );
    let row: Row = sqlx::query_as(
        "SELECT event_type, correlation_id, occurred_at, published_at, attempt, trace_id, processed_at \
         FROM processed_event WHERE consumer = 'record-cancellation' AND event_id = 'e-1'",
    )
    .fetch_one(&database.pool)
    .await
    .expect("the inbox row");
    assert_eq!(row.0, OrderCancelledV1::NAME);
    assert_eq!(row.1, "o-1", "the saga is the order");
    assert_eq!(
        (row.2, row.3),
        (occurred, published),
        "producer's and relay's times"
    );
    assert_eq!(row.4, 2, "the attempt that got through");
    assert_eq!(row.5, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert!(row.6 > published, "received after it was published: {row:?}");
    database.drop().await;
}

#[tokio::test]
async fn a_transient_failure_leaves_nothing_and_asks_for_a_retry_that_then_works() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let runner = Runner::new(database.pool.clone(), RecordCancellation);
    let outcome = deliver(&runner, &cancelled("e-1", "o-1", "transient")).await;
    assert_eq!(
        outcome,
        Outcome::Retry("the database is having a moment".to_owned())
    );
    assert_eq!(
        counts(&database.pool).await,
        (0, 0, 0),
        "the effect, its event and the inbox row roll back together"
    );

    // The inbox row rolled back too, so the same event id is handled when it comes again.
    assert_eq!(
        deliver(&runner, &cancelled("e-1", "o-1", "payment-declined")).await,
        Outcome::Ack
    );
    assert_eq!(counts(&database.pool).await, (1, 1, 1));
    database.drop().await;
}

#[tokio::test]
async fn a_broken_rule_is_rejected_with_its_reason_and_leaves_nothing() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let runner = Runner::new(database.pool.clone(), RecordCancellation);
    let outcome = deliver(&runner, &cancelled("e-1", "o-1", "broken")).await;
    assert_eq!(outcome, Outcome::Reject("order o-1 breaks a rule".to_owned()));
    assert_eq!(counts(&database.pool).await, (0, 0, 0));
    database.drop().await;
}

#[tokio::test]
async fn data_that_does_not_decode_is_rejected_naming_the_type_and_the_field() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let runner = Runner::new(database.pool.clone(), RecordCancellation);
    let mut event = cancelled("e-1", "o-1", "payment-declined");
    event.set_data(
        "application/json",
        serde_json::json!({"orderId": "o-1", "reason": 7}),
    );
    let Outcome::Reject(reason) = deliver(&runner, &event).await else {
        panic!("bad data must be rejected");
    };
    assert!(reason.starts_with(OrderCancelledV1::NAME), "{reason}");
    assert!(
        reason.contains("userId") || reason.contains("invalid type"),
        "{reason}"
    );
    assert_eq!(counts(&database.pool).await, (0, 0, 0));
    database.drop().await;
}

#[tokio::test]
async fn other_event_types_and_unwanted_events_are_acknowledged_without_a_transaction() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let runner = Runner::new(database.pool.clone(), RecordCancellation);
    let placed = EventBuilderV10::new()
        .id("e-1")
        .ty(OrderPlacedV1::NAME)
        .source("commerce/ordering/place-order")
        .data("application/json", serde_json::json!({"anything": "at all"}))
        .build()
        .expect("event");
    assert_eq!(deliver(&runner, &placed).await, Outcome::Ack);
    assert_eq!(
        deliver(&runner, &cancelled("e-2", "o-2", "not-interesting")).await,
        Outcome::Ack
    );
    assert_eq!(counts(&database.pool).await, (0, 0, 0), "not even an inbox row");
    database.drop().await;
}

/// [`RecordCancellation`], remembering how many effect rows each `after_commit` found
/// committed.
struct WatchedCancellation {
    seen: std::sync::Arc<std::sync::Mutex<Vec<i64>>>,
}

impl Consumer for WatchedCancellation {
    const NAME: &'static str = "record-cancellation";
    type Event = OrderCancelledV1;
    type Error = RecordError;
    type Prepared = ();

    async fn apply(
        &self,
        transaction: &mut MySqlConnection,
        cancelled: &Received<OrderCancelledV1>,
    ) -> Result<(), RecordError> {
        RecordCancellation.apply(transaction, cancelled).await
    }

    async fn after_commit(&self, pool: &MySqlPool, _cancelled: &Received<OrderCancelledV1>) {
        let committed = counts(pool).await.0;
        self.seen.lock().expect("not poisoned").push(committed);
    }
}

#[tokio::test]
async fn after_commit_sees_the_effect_committed_runs_again_on_redelivery_and_never_after_a_failure() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let seen = std::sync::Arc::default();
    let runner = Runner::new(
        database.pool.clone(),
        WatchedCancellation {
            seen: std::sync::Arc::clone(&seen),
        },
    );
    let handle = |event: Event| {
        let runner = &runner;
        async move { runner.handle(&event, &Delivery::default()).await }
    };
    assert_eq!(
        handle(cancelled("e-1", "o-1", "payment-declined")).await,
        Outcome::Ack
    );
    // Delivered again (the process may have stopped before its after_commit): it runs again.
    assert_eq!(
        handle(cancelled("e-1", "o-1", "payment-declined")).await,
        Outcome::Ack
    );
    assert!(matches!(
        handle(cancelled("e-2", "o-2", "transient")).await,
        Outcome::Retry(_)
    ));
    assert!(matches!(
        handle(cancelled("e-3", "o-3", "broken")).await,
        Outcome::Reject(_)
    ));
    assert_eq!(*seen.lock().expect("not poisoned"), [1, 1]);
    database.drop().await;
}

/// [`WatchedCancellation`] that applies a batch in one transaction.
struct BatchedCancellation(WatchedCancellation);

impl Consumer for BatchedCancellation {
    const NAME: &'static str = "record-cancellation";
    const APPLIES_BATCHES: bool = true;
    type Event = OrderCancelledV1;
    type Error = RecordError;
    type Prepared = ();

    fn wants(&self, cancelled: &OrderCancelledV1) -> bool {
        RecordCancellation.wants(cancelled)
    }

    async fn apply(
        &self,
        transaction: &mut MySqlConnection,
        cancelled: &Received<OrderCancelledV1>,
    ) -> Result<(), RecordError> {
        self.0.apply(transaction, cancelled).await
    }

    async fn after_commit(&self, pool: &MySqlPool, cancelled: &Received<OrderCancelledV1>) {
        self.0.after_commit(pool, cancelled).await;
    }
}

fn batch_of(events: Vec<Event>) -> Vec<(Event, Delivery)> {
    events
        .into_iter()
        .map(|event| (event, Delivery::default()))
        .collect()
}

#[tokio::test]
async fn a_batch_commits_its_events_together_and_skips_one_handled_before() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let seen = std::sync::Arc::default();
    let runner = Runner::new(
        database.pool.clone(),
        BatchedCancellation(WatchedCancellation {
            seen: std::sync::Arc::clone(&seen),
        }),
    );
    assert!(runner.applies_batches());
    let first = cancelled("e-1", "o-1", "payment-declined");
    assert_eq!(deliver_to(&runner, &first).await, Outcome::Ack);
    let batch = batch_of(vec![
        first,
        cancelled("e-2", "o-2", "payment-declined"),
        cancelled("e-3", "o-3", "not-interesting"),
        cancelled("e-4", "o-4", "payment-declined"),
    ]);
    assert_eq!(runner.handle_batch(&batch).await, vec![Outcome::Ack; 4]);
    // e-1 once; e-2 and e-4 each once; e-3 is not wanted and leaves no row.
    assert_eq!(counts(&database.pool).await, (3, 3, 3));
    // The single delivery saw its own row; every after_commit of the batch saw both of the
    // batch's rows already committed: they committed together.
    assert_eq!(*seen.lock().expect("not poisoned"), [1, 3, 3, 3]);
    database.drop().await;
}

async fn deliver_to<C: Consumer>(runner: &Runner<C>, event: &Event) -> Outcome {
    runner.handle(event, &Delivery::default()).await
}

#[tokio::test]
async fn a_failure_in_a_batch_leaves_each_event_its_own_outcome_and_the_ones_after_it_untried() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let runner = Runner::new(
        database.pool.clone(),
        BatchedCancellation(WatchedCancellation {
            seen: std::sync::Arc::default(),
        }),
    );
    let batch = batch_of(vec![
        cancelled("e-1", "o-1", "payment-declined"),
        cancelled("e-2", "o-2", "broken"),
        cancelled("e-3", "o-3", "payment-declined"),
    ]);
    let outcomes = runner.handle_batch(&batch).await;
    assert_eq!(outcomes[0], Outcome::Ack);
    assert_eq!(outcomes[1], Outcome::Reject("order o-2 breaks a rule".to_owned()));
    assert!(
        matches!(&outcomes[2], Outcome::Retry(reason) if reason.contains("not tried")),
        "{outcomes:?}"
    );
    // The batch's transaction rolled back; e-1 then committed on its own, e-2 left nothing,
    // and e-3 waits for its own delivery.
    assert_eq!(counts(&database.pool).await, (1, 1, 1));
    assert_eq!(deliver_to(&runner, &batch[2].0).await, Outcome::Ack);
    assert_eq!(counts(&database.pool).await, (2, 2, 2));

    // Data that does not decode ends the batch before any I/O; what came before it commits.
    let mut undecodable = cancelled("e-5", "o-5", "payment-declined");
    undecodable.set_data("application/json", serde_json::json!({"orderId": 7}));
    let batch = batch_of(vec![
        cancelled("e-4", "o-4", "payment-declined"),
        undecodable,
        cancelled("e-6", "o-6", "payment-declined"),
    ]);
    let outcomes = runner.handle_batch(&batch).await;
    assert_eq!(outcomes[0], Outcome::Ack);
    assert!(matches!(outcomes[1], Outcome::Reject(_)), "{outcomes:?}");
    assert!(matches!(outcomes[2], Outcome::Retry(_)), "{outcomes:?}");
    assert_eq!(counts(&database.pool).await, (3, 3, 3));
    database.drop().await;
}

#[tokio::test]
async fn a_consumer_without_batches_handles_a_batch_one_event_at_a_time_up_to_a_failure() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    let seen = std::sync::Arc::default();
    let runner = Runner::new(
        database.pool.clone(),
        WatchedCancellation {
            seen: std::sync::Arc::clone(&seen),
        },
    );
    assert!(!runner.applies_batches());
    let batch = batch_of(vec![
        cancelled("e-1", "o-1", "payment-declined"),
        cancelled("e-2", "o-2", "payment-declined"),
        cancelled("e-3", "o-3", "transient"),
        cancelled("e-4", "o-4", "payment-declined"),
    ]);
    let outcomes = runner.handle_batch(&batch).await;
    assert_eq!(outcomes[..2], [Outcome::Ack, Outcome::Ack]);
    assert!(matches!(outcomes[2], Outcome::Retry(_)), "{outcomes:?}");
    assert!(
        matches!(&outcomes[3], Outcome::Retry(reason) if reason.contains("not tried")),
        "{outcomes:?}"
    );
    // Each committed on its own: the first after_commit saw one row, the second two.
    assert_eq!(*seen.lock().expect("not poisoned"), [1, 2]);
    assert_eq!(counts(&database.pool).await, (2, 2, 2));
    database.drop().await;
}
