//! `refund-payment` against the real MariaDB of the local stack and the simulated gateway:
//! each test authorizes and captures an order of 2,580 EUR cents through the payment
//! functions, then delivers ordering's `order.refund-requested` as the trigger would.

use std::sync::Arc;
use std::time::Duration;

use cloudevents::{Event, EventBuilder, EventBuilderV10};
use events::EventType;
use payment::gateway::{SimulatedGateway, tokens};
use payment::handlers::{AuthorizePayment, CapturePayment, Payments, RefundPayment};
use payment::payments::GatewayPolicy;
use runtime::events::{Delivery, EventHandler, Outcome};
use serde_json::{Value, json};
use sqlx::MySqlPool;
use store::consumer::Runner;
use store::testing::TestDatabase;
use uuid::Uuid;

fn event(ty: &str, data: Value) -> Event {
    let descriptor = events::describe(ty).expect("a platform event type");
    EventBuilderV10::new()
        .id(Uuid::now_v7().to_string())
        .ty(ty)
        .source(format!("commerce/{}/test", descriptor.topic.context))
        .data("application/json", data)
        .build()
        .expect("event")
}

fn refund_requested(order_id: &str, refund_id: &str, amount_minor: i64) -> Event {
    event(
        events::ordering::OrderRefundRequestedV1::NAME,
        json!({"orderId": order_id, "refundId": refund_id, "userId": "u-1",
               "lines": [{"lineNo": 0, "productId": "mug", "quantity": 1, "unitPriceMinor": amount_minor}],
               "amountMinor": amount_minor, "currency": "EUR"}),
    )
}

fn payments() -> Payments<SimulatedGateway> {
    Payments::new(
        Arc::new(SimulatedGateway::new(Duration::ZERO)),
        GatewayPolicy {
            call_timeout: Duration::from_millis(50),
            max_attempts: 3,
        },
    )
}

async fn deliver(handler: &impl EventHandler, event: &Event) -> Outcome {
    handler.handle(event, &Delivery::default()).await
}

/// Authorizes and captures `order_id` (2,580 EUR cents) paid with `token`.
async fn captured(pool: &MySqlPool, order_id: &str, token: &str) {
    let authorize = Runner::new(pool.clone(), AuthorizePayment(payments()));
    let placed = event(
        events::ordering::OrderPlacedV1::NAME,
        json!({"orderId": order_id, "userId": "u-1",
               "lines": [{"productId": "mug", "quantity": 2, "unitPriceMinor": 1290}],
               "totalMinor": 2580, "currency": "EUR", "paymentToken": token}),
    );
    let reserved = event(
        events::inventory::StockReservedV1::NAME,
        json!({"orderId": order_id, "lines": [{"sku": "mug", "quantity": 2}], "expiresAt": "2030-01-01T00:00:00Z"}),
    );
    assert_eq!(deliver(&authorize, &placed).await, Outcome::Ack);
    assert_eq!(deliver(&authorize, &reserved).await, Outcome::Ack);
    let confirmed = event(
        events::ordering::OrderConfirmedV1::NAME,
        json!({"orderId": order_id, "userId": "u-1", "totalMinor": 2580, "currency": "EUR"}),
    );
    let capture = Runner::new(pool.clone(), CapturePayment(payments()));
    assert_eq!(deliver(&capture, &confirmed).await, Outcome::Ack);
}

/// (status, refunded) of the order's payment.
async fn payment_of(pool: &MySqlPool, order_id: &str) -> (String, i64) {
    sqlx::query_as("SELECT status, refunded_minor FROM payment WHERE order_id = ?")
        .bind(order_id)
        .fetch_one(pool)
        .await
        .expect("payment row")
}

/// (kind, amount) of the order's ledger, oldest first.
async fn ledger(pool: &MySqlPool, order_id: &str) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT kind, amount_minor FROM payment_transaction WHERE order_id = ? ORDER BY id")
        .bind(order_id)
        .fetch_all(pool)
        .await
        .expect("ledger")
}

/// The refund answers in the outbox, oldest first: (type, refund id, reason or amount).
async fn answers(pool: &MySqlPool) -> Vec<(String, String, String)> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT type, CAST(payload AS CHAR) FROM outbox WHERE type IN (?, ?) ORDER BY id")
            .bind(events::payment::PaymentRefundedV1::NAME)
            .bind(events::payment::PaymentRefundFailedV1::NAME)
            .fetch_all(pool)
            .await
            .expect("outbox");
    rows.into_iter()
        .map(|(ty, payload)| {
            let payload: Value = serde_json::from_str(&payload).expect("json");
            let detail = payload
                .get("reason")
                .and_then(Value::as_str)
                .map_or_else(|| payload["amountMinor"].to_string(), str::to_owned);
            (
                ty,
                payload["refundId"].as_str().expect("refund id").to_owned(),
                detail,
            )
        })
        .collect()
}

#[tokio::test]
async fn refunds_partially_cancel_the_capture_until_nothing_is_left_each_once_in_the_ledger() {
    let database = TestDatabase::with_migrations_of("payment").await;
    let pool = &database.pool;
    captured(pool, "o-1", tokens::APPROVE).await;
    let refund = Runner::new(pool.clone(), RefundPayment(payments()));

    let first = refund_requested("o-1", "r-1", 990);
    assert_eq!(deliver(&refund, &first).await, Outcome::Ack);
    assert_eq!(deliver(&refund, &first).await, Outcome::Ack, "a redelivery");
    let replayed = refund_requested("o-1", "r-1", 990);
    assert_eq!(
        deliver(&refund, &replayed).await,
        Outcome::Ack,
        "the same refund under another event id"
    );
    assert_eq!(
        payment_of(pool, "o-1").await,
        ("PARTIALLY_CANCELED".to_owned(), 990)
    );

    assert_eq!(
        deliver(&refund, &refund_requested("o-1", "r-2", 1590)).await,
        Outcome::Ack
    );
    assert_eq!(payment_of(pool, "o-1").await, ("FULLY_CANCELED".to_owned(), 2580));
    assert_eq!(
        ledger(pool, "o-1").await,
        [
            ("AUTHORIZE".to_owned(), 2580),
            ("CAPTURE".to_owned(), 2580),
            ("PARTIAL_CANCEL".to_owned(), 990),
            ("CANCEL".to_owned(), 1590),
        ]
    );
    let refunded = events::payment::PaymentRefundedV1::NAME.to_owned();
    assert_eq!(
        answers(pool).await,
        [
            (refunded.clone(), "r-1".to_owned(), "990".to_owned()),
            (refunded, "r-2".to_owned(), "1590".to_owned()),
        ]
    );

    // Nothing is left to refund; a redelivered confirmation does not capture again either.
    assert_eq!(
        deliver(&refund, &refund_requested("o-1", "r-3", 1)).await,
        Outcome::Ack
    );
    assert_eq!(answers(pool).await[2].2, "exceeds-captured");
    assert_eq!(payment_of(pool, "o-1").await, ("FULLY_CANCELED".to_owned(), 2580));
    let capture = Runner::new(pool.clone(), CapturePayment(payments()));
    let confirmed = event(
        events::ordering::OrderConfirmedV1::NAME,
        json!({"orderId": "o-1", "userId": "u-1", "totalMinor": 2580, "currency": "EUR"}),
    );
    assert_eq!(deliver(&capture, &confirmed).await, Outcome::Ack);
    assert_eq!(ledger(pool, "o-1").await.len(), 4);
    database.drop().await;
}

#[tokio::test]
async fn concurrent_refunds_never_take_back_more_than_was_captured() {
    let database = TestDatabase::with_migrations_of("payment").await;
    let pool = &database.pool;
    captured(pool, "o-1", tokens::APPROVE).await;
    let refund = Arc::new(Runner::new(pool.clone(), RefundPayment(payments())));

    let tasks: Vec<_> = (0..6)
        .map(|n| {
            let refund = Arc::clone(&refund);
            tokio::spawn(async move {
                let request = refund_requested("o-1", &format!("r-{n}"), 1000);
                loop {
                    match deliver(refund.as_ref(), &request).await {
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

    let answers = answers(pool).await;
    let made = answers
        .iter()
        .filter(|(ty, ..)| ty == events::payment::PaymentRefundedV1::NAME)
        .count();
    assert_eq!(
        made, 2,
        "two refunds of 1000 fit in 2580, a third does not: {answers:?}"
    );
    assert_eq!(answers.len(), 6, "every refund is answered once");
    assert!(
        answers
            .iter()
            .filter(|(ty, ..)| ty == events::payment::PaymentRefundFailedV1::NAME)
            .all(|(_, _, reason)| reason == "exceeds-captured")
    );
    assert_eq!(
        payment_of(pool, "o-1").await,
        ("PARTIALLY_CANCELED".to_owned(), 2000)
    );
    database.drop().await;
}

#[tokio::test]
async fn a_refused_refund_or_one_of_an_uncaptured_payment_fails_with_its_reason_and_changes_nothing() {
    let database = TestDatabase::with_migrations_of("payment").await;
    let pool = &database.pool;
    captured(pool, "o-1", tokens::REFUND_DECLINE).await;
    let refund = Runner::new(pool.clone(), RefundPayment(payments()));

    assert_eq!(
        deliver(&refund, &refund_requested("o-1", "r-1", 990)).await,
        Outcome::Ack
    );
    assert_eq!(
        deliver(&refund, &refund_requested("o-2", "r-2", 990)).await,
        Outcome::Ack
    );

    let failed = events::payment::PaymentRefundFailedV1::NAME.to_owned();
    assert_eq!(
        answers(pool).await,
        [
            (failed.clone(), "r-1".to_owned(), "refund-declined".to_owned()),
            (failed, "r-2".to_owned(), "not-captured".to_owned()),
        ]
    );
    assert_eq!(payment_of(pool, "o-1").await, ("CAPTURED".to_owned(), 0));
    assert_eq!(ledger(pool, "o-1").await.len(), 2, "authorize and capture only");
    database.drop().await;
}

#[tokio::test]
async fn a_refund_the_gateway_never_answers_is_retried_then_fails_as_gateway_unavailable() {
    let database = TestDatabase::with_migrations_of("payment").await;
    let pool = &database.pool;
    captured(pool, "o-1", tokens::REFUND_TIMEOUT).await;
    let refund = Runner::new(pool.clone(), RefundPayment(payments()));
    let request = refund_requested("o-1", "r-1", 990);

    for _ in 0..2 {
        assert!(matches!(deliver(&refund, &request).await, Outcome::Retry(_)));
        assert!(answers(pool).await.is_empty());
    }
    assert_eq!(deliver(&refund, &request).await, Outcome::Ack);
    let attempts: i32 =
        sqlx::query_scalar("SELECT gateway_attempts FROM payment_refund WHERE refund_id = 'r-1'")
            .fetch_one(pool)
            .await
            .expect("refund row");
    assert_eq!(attempts, 3);
    assert_eq!(
        answers(pool).await,
        [(
            events::payment::PaymentRefundFailedV1::NAME.to_owned(),
            "r-1".to_owned(),
            "gateway-unavailable".to_owned()
        )]
    );
    assert_eq!(payment_of(pool, "o-1").await, ("CAPTURED".to_owned(), 0));
    database.drop().await;
}

#[tokio::test]
async fn a_refund_request_with_a_nonsense_amount_is_rejected_for_a_person_to_look_at() {
    let database = TestDatabase::with_migrations_of("payment").await;
    let pool = &database.pool;
    captured(pool, "o-1", tokens::APPROVE).await;
    let refund = Runner::new(pool.clone(), RefundPayment(payments()));

    assert!(matches!(
        deliver(&refund, &refund_requested("o-1", "r-1", -5)).await,
        Outcome::Reject(_)
    ));
    assert!(matches!(
        deliver(&refund, &refund_requested("o-1", &"r".repeat(37), 990)).await,
        Outcome::Reject(_)
    ));
    assert!(answers(pool).await.is_empty());
    assert_eq!(payment_of(pool, "o-1").await, ("CAPTURED".to_owned(), 0));
    database.drop().await;
}
