//! `restock-refund` against the real MariaDB of the local stack: refunded units come back on
//! hand once per refund, whatever is redelivered, replayed or delivered at the same time, and
//! a SKU that had run out is announced as restored.

use cloudevents::{Event, EventBuilder, EventBuilderV10};
use events::EventType;
use inventory::handlers::{CommitStock, DEFAULT_RESERVATION_TTL, ReserveStock, RestockRefund};
use runtime::events::{Delivery, EventHandler, Outcome};
use serde_json::{Value, json};
use sqlx::MySqlPool;
use store::consumer::Runner;
use store::testing::TestDatabase;

/// A new event id per event, as a producer's outbox row ids are.
fn next_event_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    format!("e-{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

fn order_event(ty: &str, data: Value) -> Event {
    EventBuilderV10::new()
        .id(next_event_id())
        .ty(ty)
        .source("commerce/ordering/test")
        .data("application/json", data)
        .build()
        .expect("event")
}

fn refunded(order_id: &str, refund_id: &str, lines: &[(&str, u32)]) -> Event {
    let lines: Vec<_> = lines
        .iter()
        .map(|(sku, quantity)| json!({"sku": sku, "quantity": quantity}))
        .collect();
    order_event(
        events::ordering::OrderRefundedV1::NAME,
        json!({"orderId": order_id, "refundId": refund_id, "userId": "u-1", "lines": lines,
               "amountMinor": 100, "currency": "EUR", "status": "PARTIALLY_REFUNDED"}),
    )
}

async fn deliver(handler: &impl EventHandler, event: &Event) -> Outcome {
    handler.handle(event, &Delivery::default()).await
}

/// Sells every unit of `mug` (3) and one `cup` (of 5) to order `o-1`.
async fn sold_out_mugs(pool: &MySqlPool) {
    sqlx::query("INSERT INTO stock (sku, on_hand, reserved) VALUES ('mug', 3, 0), ('cup', 5, 0)")
        .execute(pool)
        .await
        .expect("stock");
    let placed = order_event(
        events::ordering::OrderPlacedV1::NAME,
        json!({"orderId": "o-1", "userId": "u-1",
               "lines": [{"productId": "mug", "quantity": 3, "unitPriceMinor": 100},
                         {"productId": "cup", "quantity": 1, "unitPriceMinor": 100}],
               "totalMinor": 400, "currency": "EUR", "paymentToken": "tok_approve"}),
    );
    let reserve = Runner::new(
        pool.clone(),
        ReserveStock {
            ttl: DEFAULT_RESERVATION_TTL,
        },
    );
    assert_eq!(deliver(&reserve, &placed).await, Outcome::Ack);
    let confirmed = order_event(
        events::ordering::OrderConfirmedV1::NAME,
        json!({"orderId": "o-1", "userId": "u-1", "totalMinor": 400, "currency": "EUR"}),
    );
    assert_eq!(
        deliver(&Runner::new(pool.clone(), CommitStock), &confirmed).await,
        Outcome::Ack
    );
}

async fn on_hand(pool: &MySqlPool, sku: &str) -> i64 {
    sqlx::query_scalar("SELECT on_hand FROM stock WHERE sku = ?")
        .bind(sku)
        .fetch_one(pool)
        .await
        .expect("stock row")
}

async fn refund_changes(pool: &MySqlPool) -> Vec<(String, i64, i64)> {
    sqlx::query_as(
        "SELECT sku, quantity, on_hand_after FROM stock_change WHERE action = 'REFUND' ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .expect("changes")
}

async fn restored(pool: &MySqlPool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE type = ?")
        .bind(events::inventory::StockRestoredV1::NAME)
        .fetch_one(pool)
        .await
        .expect("outbox")
}

#[tokio::test]
async fn refunded_units_come_back_on_hand_once_logged_as_refund_and_a_sold_out_sku_is_restored() {
    let database = TestDatabase::with_migrations_of("inventory").await;
    let pool = &database.pool;
    sold_out_mugs(pool).await;
    assert_eq!(on_hand(pool, "mug").await, 0);
    let restock = Runner::new(pool.clone(), RestockRefund);

    let refund = refunded("o-1", "r-1", &[("mug", 2)]);
    assert_eq!(deliver(&restock, &refund).await, Outcome::Ack);
    assert_eq!(deliver(&restock, &refund).await, Outcome::Ack, "a redelivery");
    let republished = refunded("o-1", "r-1", &[("mug", 2)]);
    assert_eq!(
        deliver(&restock, &republished).await,
        Outcome::Ack,
        "the same refund under another event id"
    );

    assert_eq!(on_hand(pool, "mug").await, 2);
    assert_eq!(refund_changes(pool).await, [("mug".to_owned(), 2, 2)]);
    assert_eq!(restored(pool).await, 1, "mugs can be bought again");

    assert_eq!(
        deliver(&restock, &refunded("o-1", "r-2", &[("mug", 1), ("cup", 1)])).await,
        Outcome::Ack
    );
    assert_eq!((on_hand(pool, "mug").await, on_hand(pool, "cup").await), (3, 5));
    assert_eq!(restored(pool).await, 1, "neither SKU crossed zero this time");
    database.drop().await;
}

#[tokio::test]
async fn concurrent_deliveries_of_one_refund_return_its_units_once() {
    let database = TestDatabase::with_migrations_of("inventory").await;
    let pool = &database.pool;
    sold_out_mugs(pool).await;
    let restock = std::sync::Arc::new(Runner::new(pool.clone(), RestockRefund));

    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let restock = std::sync::Arc::clone(&restock);
            tokio::spawn(async move {
                let refund = refunded("o-1", "r-1", &[("mug", 3), ("cup", 1)]);
                loop {
                    match deliver(restock.as_ref(), &refund).await {
                        Outcome::Retry(_) => continue,
                        outcome => break outcome,
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.expect("task"), Outcome::Ack);
    }
    assert_eq!((on_hand(pool, "mug").await, on_hand(pool, "cup").await), (3, 5));
    assert_eq!(refund_changes(pool).await.len(), 2);
    database.drop().await;
}

#[tokio::test]
async fn a_refund_of_an_unknown_sku_or_without_units_is_rejected_and_changes_nothing() {
    let database = TestDatabase::with_migrations_of("inventory").await;
    let pool = &database.pool;
    sold_out_mugs(pool).await;
    let restock = Runner::new(pool.clone(), RestockRefund);

    for refund in [
        refunded("o-1", "r-1", &[("mug", 1), ("ghost", 1)]),
        refunded("o-1", "r-2", &[("mug", 0)]),
        refunded("o-1", "r-3", &[]),
        refunded("o-1", &"r".repeat(37), &[("mug", 1)]),
    ] {
        assert!(matches!(deliver(&restock, &refund).await, Outcome::Reject(_)));
    }
    assert_eq!(on_hand(pool, "mug").await, 0);
    assert!(refund_changes(pool).await.is_empty());
    database.drop().await;
}
