//! Inventory's event functions against the real MariaDB of the local stack: every test gets a
//! fresh database with the inventory migrations, and calls the handlers in-process with the
//! CloudEvents ordering would publish.

use chrono::{Duration, Utc};
use cloudevents::{Event, EventBuilder, EventBuilderV10};
use events::EventType;
use inventory::handlers::{CommitStock, DEFAULT_RESERVATION_TTL, ReleaseStock, ReserveStock};
use runtime::events::{Delivery, EventHandler, Outcome};
use serde_json::json;
use sqlx::MySqlPool;
use sqlx::mysql::MySqlPoolOptions;
use store::consumer::Runner;
use store::testing::TestDatabase;

fn order_event(id: &str, ty: &str, order_id: &str, data: serde_json::Value) -> Event {
    EventBuilderV10::new()
        .id(id)
        .ty(ty)
        .source("commerce/ordering/place-order")
        .subject(order_id)
        .data("application/json", data)
        .build()
        .expect("event")
}

fn placed(event_id: &str, order_id: &str, lines: &[(&str, u32)]) -> Event {
    let lines: Vec<_> = lines
        .iter()
        .map(|(sku, quantity)| json!({"productId": sku, "quantity": quantity, "unitPriceMinor": 100}))
        .collect();
    order_event(
        event_id,
        events::ordering::OrderPlacedV1::NAME,
        order_id,
        json!({"orderId": order_id, "userId": "u-1", "lines": lines, "totalMinor": 100,
               "currency": "EUR", "paymentToken": "tok_approve"}),
    )
}

fn cancelled(event_id: &str, order_id: &str) -> Event {
    order_event(
        event_id,
        events::ordering::OrderCancelledV1::NAME,
        order_id,
        json!({"orderId": order_id, "userId": "u-1", "reason": "payment-declined"}),
    )
}

fn confirmed(event_id: &str, order_id: &str) -> Event {
    order_event(
        event_id,
        events::ordering::OrderConfirmedV1::NAME,
        order_id,
        json!({"orderId": order_id, "userId": "u-1", "totalMinor": 100, "currency": "EUR"}),
    )
}

async fn stock(pool: &MySqlPool, sku: &str, on_hand: i64) {
    sqlx::query("INSERT INTO stock (sku, on_hand) VALUES (?, ?)")
        .bind(sku)
        .bind(on_hand)
        .execute(pool)
        .await
        .expect("insert stock");
}

/// (on_hand, reserved) of a SKU.
async fn level(pool: &MySqlPool, sku: &str) -> (i64, i64) {
    sqlx::query_as("SELECT on_hand, reserved FROM stock WHERE sku = ?")
        .bind(sku)
        .fetch_one(pool)
        .await
        .expect("stock row")
}

/// The event types in the outbox, oldest first.
async fn outbox_types(pool: &MySqlPool) -> Vec<String> {
    sqlx::query_scalar("SELECT type FROM outbox ORDER BY id")
        .fetch_all(pool)
        .await
        .expect("outbox")
}

async fn deliver(handler: &impl EventHandler, event: &Event) -> Outcome {
    handler.handle(event, &Delivery::default()).await
}

#[tokio::test]
async fn an_order_whose_lines_are_all_in_stock_reserves_every_line() {
    let database = TestDatabase::with_migrations_of("inventory").await;
    stock(&database.pool, "mug", 5).await;
    stock(&database.pool, "cup", 2).await;
    let reserve = Runner::new(
        database.pool.clone(),
        ReserveStock {
            ttl: DEFAULT_RESERVATION_TTL,
        },
    );

    let outcome = deliver(&reserve, &placed("e-1", "o-1", &[("mug", 3), ("cup", 2)])).await;

    assert_eq!(outcome, Outcome::Ack);
    assert_eq!(level(&database.pool, "mug").await, (5, 3));
    assert_eq!(level(&database.pool, "cup").await, (2, 2));
    // The order took the last cups, so buyers also learn that cups ran out.
    assert_eq!(
        outbox_types(&database.pool).await,
        [
            events::inventory::StockReservedV1::NAME,
            events::inventory::StockDepletedV1::NAME
        ]
    );
    let contexts: Vec<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT correlationid, causationid FROM outbox ORDER BY id")
            .fetch_all(&database.pool)
            .await
            .expect("outbox rows");
    for (correlation, causation) in contexts {
        assert_eq!(
            correlation.as_deref(),
            Some("o-1"),
            "the saga is correlated by order id"
        );
        assert_eq!(causation.as_deref(), Some("e-1"));
    }
    database.drop().await;
}

#[tokio::test]
async fn an_order_with_one_short_line_reserves_nothing_and_says_which_line_was_short() {
    let database = TestDatabase::with_migrations_of("inventory").await;
    stock(&database.pool, "mug", 5).await;
    stock(&database.pool, "cup", 1).await;
    let reserve = Runner::new(
        database.pool.clone(),
        ReserveStock {
            ttl: DEFAULT_RESERVATION_TTL,
        },
    );

    let outcome = deliver(
        &reserve,
        &placed("e-1", "o-1", &[("mug", 3), ("cup", 2), ("ghost", 1)]),
    )
    .await;

    assert_eq!(
        outcome,
        Outcome::Ack,
        "a refusal is a business answer, not a failure"
    );
    assert_eq!(level(&database.pool, "mug").await, (5, 0));
    assert_eq!(level(&database.pool, "cup").await, (1, 0));
    assert_eq!(
        outbox_types(&database.pool).await,
        [events::inventory::StockReservationFailedV1::NAME]
    );
    let payload: String = sqlx::query_scalar("SELECT payload FROM outbox")
        .fetch_one(&database.pool)
        .await
        .expect("payload");
    let payload: events::inventory::StockReservationFailedV1 =
        serde_json::from_str(&payload).expect("a reservation-failed payload");
    let short: Vec<(&str, u32, i64)> = payload
        .short_lines
        .iter()
        .map(|line| (line.sku.as_str(), line.requested, line.available))
        .collect();
    assert_eq!(short, [("cup", 2, 1), ("ghost", 1, 0)]);
    database.drop().await;
}

#[tokio::test]
async fn two_hundred_concurrent_orders_for_fifty_units_reserve_exactly_fifty() {
    let database = TestDatabase::with_migrations_of("inventory").await;
    stock(&database.pool, "flash-sale", 50).await;
    // More connections than the helper's pool, so the orders really contend for the row.
    let pool = MySqlPoolOptions::new()
        .max_connections(24)
        .connect(&database.url())
        .await
        .expect("pool");
    let reserve = std::sync::Arc::new(Runner::new(
        pool.clone(),
        ReserveStock {
            ttl: DEFAULT_RESERVATION_TTL,
        },
    ));

    let tasks: Vec<_> = (0..200)
        .map(|n| {
            let reserve = std::sync::Arc::clone(&reserve);
            tokio::spawn(async move {
                let event = placed(&format!("e-{n}"), &format!("o-{n}"), &[("flash-sale", 1)]);
                // A lock wait or deadlock answers Retry; the dispatcher would redeliver.
                loop {
                    match deliver(reserve.as_ref(), &event).await {
                        Outcome::Retry(_) => continue,
                        other => break other,
                    }
                }
            })
        })
        .collect();
    for outcome in futures::future::join_all(tasks).await {
        assert_eq!(outcome.expect("task"), Outcome::Ack);
    }

    assert_eq!(
        level(&pool, "flash-sale").await,
        (50, 50),
        "never more reserved than on hand"
    );
    let types = outbox_types(&pool).await;
    let reserved = types
        .iter()
        .filter(|ty| *ty == events::inventory::StockReservedV1::NAME)
        .count();
    let failed = types
        .iter()
        .filter(|ty| *ty == events::inventory::StockReservationFailedV1::NAME)
        .count();
    assert_eq!((reserved, failed), (50, 150));
    pool.close().await;
    database.drop().await;
}

#[tokio::test]
async fn a_redelivered_or_replayed_order_reserves_only_once() {
    let database = TestDatabase::with_migrations_of("inventory").await;
    stock(&database.pool, "mug", 5).await;
    let reserve = Runner::new(
        database.pool.clone(),
        ReserveStock {
            ttl: DEFAULT_RESERVATION_TTL,
        },
    );
    let event = placed("e-1", "o-1", &[("mug", 2)]);

    assert_eq!(deliver(&reserve, &event).await, Outcome::Ack);
    assert_eq!(deliver(&reserve, &event).await, Outcome::Ack);
    // The same order under another event id (a producer that re-sent it) changes nothing either.
    assert_eq!(
        deliver(&reserve, &placed("e-2", "o-1", &[("mug", 2)])).await,
        Outcome::Ack
    );

    assert_eq!(level(&database.pool, "mug").await, (5, 2));
    assert_eq!(outbox_types(&database.pool).await.len(), 1);
    database.drop().await;
}

#[tokio::test]
async fn a_cancelled_order_gives_its_stock_back_once() {
    let database = TestDatabase::with_migrations_of("inventory").await;
    stock(&database.pool, "mug", 5).await;
    let reserve = Runner::new(
        database.pool.clone(),
        ReserveStock {
            ttl: DEFAULT_RESERVATION_TTL,
        },
    );
    let release = Runner::new(database.pool.clone(), ReleaseStock);
    deliver(&reserve, &placed("e-1", "o-1", &[("mug", 2)])).await;

    assert_eq!(deliver(&release, &cancelled("e-2", "o-1")).await, Outcome::Ack);
    assert_eq!(deliver(&release, &cancelled("e-2", "o-1")).await, Outcome::Ack);
    assert_eq!(deliver(&release, &cancelled("e-3", "o-1")).await, Outcome::Ack);

    assert_eq!(level(&database.pool, "mug").await, (5, 0));
    assert_eq!(
        outbox_types(&database.pool).await,
        [
            events::inventory::StockReservedV1::NAME,
            events::inventory::StockReleasedV1::NAME
        ]
    );
    database.drop().await;
}

#[tokio::test]
async fn a_cancellation_that_overtakes_its_order_keeps_the_order_from_reserving() {
    let database = TestDatabase::with_migrations_of("inventory").await;
    stock(&database.pool, "mug", 5).await;
    let reserve = Runner::new(
        database.pool.clone(),
        ReserveStock {
            ttl: DEFAULT_RESERVATION_TTL,
        },
    );
    let release = Runner::new(database.pool.clone(), ReleaseStock);

    assert_eq!(deliver(&release, &cancelled("e-2", "o-1")).await, Outcome::Ack);
    assert_eq!(
        deliver(&reserve, &placed("e-1", "o-1", &[("mug", 2)])).await,
        Outcome::Ack
    );

    assert_eq!(level(&database.pool, "mug").await, (5, 0));
    assert!(outbox_types(&database.pool).await.is_empty());
    database.drop().await;
}

#[tokio::test]
async fn a_confirmed_order_turns_its_reservation_into_a_sale() {
    let database = TestDatabase::with_migrations_of("inventory").await;
    stock(&database.pool, "mug", 5).await;
    let reserve = Runner::new(
        database.pool.clone(),
        ReserveStock {
            ttl: DEFAULT_RESERVATION_TTL,
        },
    );
    let commit = Runner::new(database.pool.clone(), CommitStock);
    let release = Runner::new(database.pool.clone(), ReleaseStock);
    deliver(&reserve, &placed("e-1", "o-1", &[("mug", 2)])).await;

    assert_eq!(deliver(&commit, &confirmed("e-2", "o-1")).await, Outcome::Ack);
    assert_eq!(deliver(&commit, &confirmed("e-3", "o-1")).await, Outcome::Ack);
    // A late cancellation cannot give back stock that was sold.
    assert_eq!(deliver(&release, &cancelled("e-4", "o-1")).await, Outcome::Ack);

    assert_eq!(level(&database.pool, "mug").await, (3, 0));
    assert_eq!(
        outbox_types(&database.pool).await,
        [
            events::inventory::StockReservedV1::NAME,
            events::inventory::StockCommittedV1::NAME
        ]
    );
    database.drop().await;
}

#[tokio::test]
async fn confirming_an_order_without_reserved_stock_is_rejected_for_a_person_to_look_at() {
    let database = TestDatabase::with_migrations_of("inventory").await;
    let commit = Runner::new(database.pool.clone(), CommitStock);

    let outcome = deliver(&commit, &confirmed("e-1", "o-unknown")).await;

    assert!(matches!(outcome, Outcome::Reject(reason) if reason.contains("missing")));
    database.drop().await;
}

#[tokio::test]
async fn malformed_order_events_are_rejected_and_change_nothing() {
    let database = TestDatabase::with_migrations_of("inventory").await;
    stock(&database.pool, "mug", 5).await;
    let reserve = Runner::new(
        database.pool.clone(),
        ReserveStock {
            ttl: DEFAULT_RESERVATION_TTL,
        },
    );

    for event in [
        order_event(
            "e-1",
            events::ordering::OrderPlacedV1::NAME,
            "o-1",
            json!({"orderId": "o-1"}),
        ),
        placed("e-2", "o-2", &[("mug", 0)]),
        placed("e-3", "o-3", &[("bad sku", 1)]),
        placed("e-4", "o-4", &[]),
    ] {
        assert!(matches!(deliver(&reserve, &event).await, Outcome::Reject(_)));
    }

    assert_eq!(level(&database.pool, "mug").await, (5, 0));
    assert!(outbox_types(&database.pool).await.is_empty());
    database.drop().await;
}

#[tokio::test]
async fn lapsed_reservations_are_released_by_the_sweep_and_live_ones_are_kept() {
    let database = TestDatabase::with_migrations_of("inventory").await;
    stock(&database.pool, "mug", 5).await;
    let lapsing = Runner::new(
        database.pool.clone(),
        ReserveStock {
            ttl: Duration::seconds(-1),
        },
    );
    let live = Runner::new(
        database.pool.clone(),
        ReserveStock {
            ttl: DEFAULT_RESERVATION_TTL,
        },
    );
    deliver(&lapsing, &placed("e-1", "o-1", &[("mug", 2)])).await;
    deliver(&live, &placed("e-2", "o-2", &[("mug", 1)])).await;

    let released = inventory::reservations::expire(&database.pool, Utc::now(), 100)
        .await
        .expect("sweep");

    assert_eq!(released, 1);
    assert_eq!(level(&database.pool, "mug").await, (5, 1));
    assert_eq!(
        outbox_types(&database.pool).await.last().map(String::as_str),
        Some(events::inventory::StockReleasedV1::NAME)
    );
    database.drop().await;
}
