//! Payment's event functions against the real MariaDB of the local stack and the simulated
//! gateway: each test gets a fresh database with the payment migrations and calls the
//! handlers in-process with the CloudEvents ordering and inventory would publish.

use events::EventType;
use std::sync::Arc;
use std::time::Duration;
use store::consumer::Runner;

use cloudevents::{Event, EventBuilder, EventBuilderV10};
use payment::gateway::{SimulatedGateway, tokens};
use payment::handlers::{AuthorizePayment, CapturePayment, Payments, VoidPayment};
use payment::payments::GatewayPolicy;
use runtime::events::{Delivery, EventHandler, Outcome};
use serde_json::json;
use sqlx::MySqlPool;
use store::testing::TestDatabase;

/// The source an event's producer writes: `commerce/<context of its topic>/test`.
fn producer_of(event_type: &str) -> String {
    let descriptor = events::describe(event_type).expect("a platform event type");
    format!("commerce/{}/test", descriptor.topic.context)
}
fn event(id: &str, ty: &str, order_id: &str, data: serde_json::Value) -> Event {
    EventBuilderV10::new()
        .id(id)
        .ty(ty)
        .source(producer_of(ty))
        .subject(order_id)
        .data("application/json", data)
        .build()
        .expect("event")
}

fn placed(id: &str, order_id: &str, token: &str) -> Event {
    event(
        id,
        events::ordering::OrderPlacedV1::NAME,
        order_id,
        json!({"orderId": order_id, "userId": "u-1",
               "lines": [{"productId": "mug", "quantity": 2, "unitPriceMinor": 1290}],
               "totalMinor": 2580, "currency": "EUR", "paymentToken": token}),
    )
}

fn reserved(id: &str, order_id: &str) -> Event {
    event(
        id,
        events::inventory::StockReservedV1::NAME,
        order_id,
        json!({"orderId": order_id, "lines": [{"sku": "mug", "quantity": 2}],
               "expiresAt": "2030-01-01T00:00:00Z"}),
    )
}

fn confirmed(id: &str, order_id: &str) -> Event {
    event(
        id,
        events::ordering::OrderConfirmedV1::NAME,
        order_id,
        json!({"orderId": order_id, "userId": "u-1", "totalMinor": 2580, "currency": "EUR"}),
    )
}

fn cancelled(id: &str, order_id: &str) -> Event {
    event(
        id,
        events::ordering::OrderCancelledV1::NAME,
        order_id,
        json!({"orderId": order_id, "userId": "u-1", "reason": "customer-cancelled"}),
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

/// (event type, payload) of every outbox row, oldest first.
async fn outbox(pool: &MySqlPool) -> Vec<(String, serde_json::Value)> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT type, payload FROM outbox ORDER BY id")
        .fetch_all(pool)
        .await
        .expect("outbox");
    rows.into_iter()
        .map(|(ty, payload)| (ty, serde_json::from_str(&payload).expect("json payload")))
        .collect()
}

async fn status(pool: &MySqlPool, order_id: &str) -> String {
    sqlx::query_scalar("SELECT status FROM payment WHERE order_id = ?")
        .bind(order_id)
        .fetch_one(pool)
        .await
        .expect("payment row")
}

#[tokio::test]
async fn a_placed_order_with_reserved_stock_is_authorized_whichever_fact_arrives_first() {
    let database = TestDatabase::with_migrations_of("payment").await;
    let authorize = Runner::new(database.pool.clone(), AuthorizePayment(payments()));

    assert_eq!(
        deliver(&authorize, &placed("e-1", "o-1", tokens::APPROVE)).await,
        Outcome::Ack
    );
    assert_eq!(deliver(&authorize, &reserved("e-2", "o-1")).await, Outcome::Ack);
    assert_eq!(deliver(&authorize, &reserved("e-3", "o-2")).await, Outcome::Ack);
    assert!(outbox(&database.pool).await.len() == 1, "o-2 waits for its order");
    assert_eq!(
        deliver(&authorize, &placed("e-4", "o-2", tokens::APPROVE)).await,
        Outcome::Ack
    );

    let events = outbox(&database.pool).await;
    assert_eq!(events.len(), 2);
    for (ty, payload) in &events {
        assert_eq!(ty, events::payment::PaymentAuthorizedV1::NAME);
        assert_eq!(payload["amountMinor"], 2580);
        assert_eq!(payload["currency"], "EUR");
    }
    assert_eq!(status(&database.pool, "o-1").await, "AUTHORIZED");
    database.drop().await;
}

#[tokio::test]
async fn declined_cards_and_insufficient_funds_decline_the_payment_with_their_reason() {
    let database = TestDatabase::with_migrations_of("payment").await;
    let authorize = Runner::new(database.pool.clone(), AuthorizePayment(payments()));

    for (order_id, token) in [("o-1", tokens::DECLINE), ("o-2", tokens::INSUFFICIENT_FUNDS)] {
        deliver(&authorize, &reserved(&format!("r-{order_id}"), order_id)).await;
        assert_eq!(
            deliver(&authorize, &placed(&format!("p-{order_id}"), order_id, token)).await,
            Outcome::Ack,
            "a decline is a business answer, not a failure"
        );
    }

    let reasons: Vec<_> = outbox(&database.pool)
        .await
        .into_iter()
        .map(|(ty, payload)| (ty, payload["reason"].as_str().unwrap_or_default().to_owned()))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                events::payment::PaymentDeclinedV1::NAME.to_owned(),
                "declined".to_owned()
            ),
            (
                events::payment::PaymentDeclinedV1::NAME.to_owned(),
                "insufficient-funds".to_owned()
            ),
        ]
    );
    database.drop().await;
}

#[tokio::test]
async fn a_gateway_that_never_answers_is_retried_then_the_payment_is_declined() {
    let database = TestDatabase::with_migrations_of("payment").await;
    let authorize = Runner::new(database.pool.clone(), AuthorizePayment(payments()));
    deliver(&authorize, &placed("e-1", "o-1", tokens::TIMEOUT)).await;
    let stock_reserved = reserved("e-2", "o-1");

    // Three attempts: the first two failures ask for the event again, the third declines
    // on the spot instead of waiting for a fourth delivery that may never come.
    for _ in 0..2 {
        assert!(matches!(
            deliver(&authorize, &stock_reserved).await,
            Outcome::Retry(_)
        ));
        assert!(outbox(&database.pool).await.is_empty());
    }
    assert_eq!(deliver(&authorize, &stock_reserved).await, Outcome::Ack);
    let attempts: i32 = sqlx::query_scalar("SELECT gateway_attempts FROM payment WHERE order_id = 'o-1'")
        .fetch_one(&database.pool)
        .await
        .expect("payment row");
    assert_eq!(
        attempts, 3,
        "every failed gateway call is counted, the last one too"
    );
    assert_eq!(status(&database.pool, "o-1").await, "DECLINED");
    // A redelivery after the decline changes nothing.
    assert_eq!(deliver(&authorize, &stock_reserved).await, Outcome::Ack);

    let events = outbox(&database.pool).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, events::payment::PaymentDeclinedV1::NAME);
    assert_eq!(events[0].1["reason"], "gateway-unavailable");
    database.drop().await;
}

#[tokio::test]
async fn a_flaky_gateway_is_retried_until_it_authorizes() {
    let database = TestDatabase::with_migrations_of("payment").await;
    let authorize = Runner::new(database.pool.clone(), AuthorizePayment(payments()));
    deliver(&authorize, &placed("e-1", "o-1", tokens::FLAKY)).await;
    let stock_reserved = reserved("e-2", "o-1");

    assert!(matches!(
        deliver(&authorize, &stock_reserved).await,
        Outcome::Retry(_)
    ));
    assert!(matches!(
        deliver(&authorize, &stock_reserved).await,
        Outcome::Retry(_)
    ));
    assert_eq!(deliver(&authorize, &stock_reserved).await, Outcome::Ack);

    let types: Vec<_> = outbox(&database.pool)
        .await
        .into_iter()
        .map(|(ty, _)| ty)
        .collect();
    assert_eq!(types, [events::payment::PaymentAuthorizedV1::NAME]);
    database.drop().await;
}

#[tokio::test]
async fn redelivered_and_replayed_events_authorize_and_capture_only_once() {
    let database = TestDatabase::with_migrations_of("payment").await;
    let authorize = Runner::new(database.pool.clone(), AuthorizePayment(payments()));
    let capture = Runner::new(database.pool.clone(), CapturePayment(payments()));
    let order_placed = placed("e-1", "o-1", tokens::APPROVE);
    let stock_reserved = reserved("e-2", "o-1");

    for event in [&order_placed, &stock_reserved, &order_placed, &stock_reserved] {
        assert_eq!(deliver(&authorize, event).await, Outcome::Ack);
    }
    // The same facts under new event ids (re-sent by a producer) do not authorize again.
    assert_eq!(deliver(&authorize, &reserved("e-9", "o-1")).await, Outcome::Ack);
    for id in ["e-3", "e-3", "e-4"] {
        assert_eq!(deliver(&capture, &confirmed(id, "o-1")).await, Outcome::Ack);
    }

    let types: Vec<_> = outbox(&database.pool)
        .await
        .into_iter()
        .map(|(ty, _)| ty)
        .collect();
    assert_eq!(
        types,
        [
            events::payment::PaymentAuthorizedV1::NAME,
            events::payment::PaymentCapturedV1::NAME
        ]
    );
    assert_eq!(status(&database.pool, "o-1").await, "CAPTURED");
    database.drop().await;
}

#[tokio::test]
async fn confirming_an_order_without_an_authorized_payment_is_rejected() {
    let database = TestDatabase::with_migrations_of("payment").await;
    let capture = Runner::new(database.pool.clone(), CapturePayment(payments()));

    let outcome = deliver(&capture, &confirmed("e-1", "o-1")).await;

    assert!(matches!(outcome, Outcome::Reject(reason) if reason.contains("missing")));
    assert!(outbox(&database.pool).await.is_empty());
    database.drop().await;
}

#[tokio::test]
async fn a_cancelled_order_voids_its_authorization() {
    let database = TestDatabase::with_migrations_of("payment").await;
    let authorize = Runner::new(database.pool.clone(), AuthorizePayment(payments()));
    let void = Runner::new(database.pool.clone(), VoidPayment(payments()));
    deliver(&authorize, &placed("e-1", "o-1", tokens::APPROVE)).await;
    deliver(&authorize, &reserved("e-2", "o-1")).await;

    assert_eq!(deliver(&void, &cancelled("e-3", "o-1")).await, Outcome::Ack);
    assert_eq!(deliver(&void, &cancelled("e-4", "o-1")).await, Outcome::Ack);

    let types: Vec<_> = outbox(&database.pool)
        .await
        .into_iter()
        .map(|(ty, _)| ty)
        .collect();
    assert_eq!(
        types,
        [
            events::payment::PaymentAuthorizedV1::NAME,
            events::payment::PaymentVoidedV1::NAME
        ]
    );
    assert_eq!(status(&database.pool, "o-1").await, "VOIDED");
    database.drop().await;
}

#[tokio::test]
async fn an_order_cancelled_before_payment_saw_it_is_never_authorized() {
    let database = TestDatabase::with_migrations_of("payment").await;
    let authorize = Runner::new(database.pool.clone(), AuthorizePayment(payments()));
    let void = Runner::new(database.pool.clone(), VoidPayment(payments()));

    assert_eq!(deliver(&void, &cancelled("e-3", "o-1")).await, Outcome::Ack);
    deliver(&authorize, &placed("e-1", "o-1", tokens::APPROVE)).await;
    deliver(&authorize, &reserved("e-2", "o-1")).await;

    assert!(outbox(&database.pool).await.is_empty());
    assert_eq!(status(&database.pool, "o-1").await, "CANCELLED");
    database.drop().await;
}

#[tokio::test]
async fn malformed_events_are_rejected() {
    let database = TestDatabase::with_migrations_of("payment").await;
    let authorize = Runner::new(database.pool.clone(), AuthorizePayment(payments()));

    for bad in [
        event(
            "e-1",
            events::ordering::OrderPlacedV1::NAME,
            "o-1",
            json!({"orderId": "o-1"}),
        ),
        event(
            "e-2",
            events::ordering::OrderPlacedV1::NAME,
            "o-2",
            json!({"orderId": "o-2", "userId": "u", "lines": [], "totalMinor": -1,
                   "currency": "EUR", "paymentToken": "tok_approve"}),
        ),
    ] {
        assert!(matches!(deliver(&authorize, &bad).await, Outcome::Reject(_)));
    }
    database.drop().await;
}
