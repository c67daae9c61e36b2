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

/// A gateway whose authorizations wait until the test lets them answer (approving), and that
/// records what it was asked: a slow payment provider, held still.
struct HeldGateway {
    asked: tokio::sync::Notify,
    answer: tokio::sync::Semaphore,
    calls: std::sync::Mutex<Vec<String>>,
}

impl Default for HeldGateway {
    fn default() -> Self {
        Self {
            asked: tokio::sync::Notify::new(),
            answer: tokio::sync::Semaphore::new(0),
            calls: std::sync::Mutex::default(),
        }
    }
}

impl HeldGateway {
    fn record(&self, call: String) {
        self.calls.lock().expect("calls").push(call);
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("calls").clone()
    }

    /// Lets one held authorization answer.
    fn release_one(&self) {
        self.answer.add_permits(1);
    }
}

impl payment::gateway::PaymentGateway for HeldGateway {
    async fn authorize(
        &self,
        order_id: &str,
        _amount: payment::domain::Money,
        _token: &payment::domain::PaymentToken,
    ) -> Result<String, payment::gateway::GatewayError> {
        self.record(format!("authorize {order_id}"));
        self.asked.notify_one();
        self.answer.acquire().await.expect("open semaphore").forget();
        Ok(format!("held-auth-{order_id}"))
    }

    async fn capture(
        &self,
        order_id: &str,
        _authorization_id: &str,
        _amount: payment::domain::Money,
    ) -> Result<(), payment::gateway::GatewayError> {
        self.record(format!("capture {order_id}"));
        Ok(())
    }

    async fn void(
        &self,
        order_id: &str,
        authorization_id: &str,
    ) -> Result<(), payment::gateway::GatewayError> {
        self.record(format!("void {order_id} {authorization_id}"));
        Ok(())
    }

    async fn refund(
        &self,
        refund_id: &str,
        _authorization_id: &str,
        _amount: payment::domain::Money,
        _token: &payment::domain::PaymentToken,
    ) -> Result<String, payment::gateway::GatewayError> {
        Ok(format!("held-refund-{refund_id}"))
    }
}

fn held_payments(gateway: &Arc<HeldGateway>) -> Payments<HeldGateway> {
    Payments::new(
        Arc::clone(gateway),
        GatewayPolicy {
            call_timeout: Duration::from_secs(60),
            max_attempts: 3,
        },
    )
}

/// A pool of one connection on `pool`'s database, that gives up waiting for it after 2 s.
async fn one_connection(pool: &MySqlPool) -> MySqlPool {
    sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(2))
        .connect_with(pool.connect_options().as_ref().clone())
        .await
        .expect("a pool of one connection")
}

#[tokio::test]
async fn a_slow_gateway_holds_no_database_connection_while_it_authorizes() {
    let database = TestDatabase::with_migrations_of("payment").await;
    let pool = one_connection(&database.pool).await;
    let gateway = Arc::new(HeldGateway::default());
    let authorize = Arc::new(Runner::new(
        pool.clone(),
        AuthorizePayment(held_payments(&gateway)),
    ));
    assert_eq!(
        deliver(&*authorize, &placed("e-1", "o-1", tokens::APPROVE)).await,
        Outcome::Ack
    );
    let asked = gateway.asked.notified();
    let held = tokio::spawn({
        let authorize = Arc::clone(&authorize);
        async move { deliver(&*authorize, &reserved("e-2", "o-1")).await }
    });
    tokio::time::timeout(Duration::from_secs(30), asked)
        .await
        .expect("o-1's authorization reached the gateway");

    // While the gateway holds o-1, the function's only connection serves another order.
    assert_eq!(
        deliver(&*authorize, &placed("e-3", "o-2", tokens::APPROVE)).await,
        Outcome::Ack,
        "another order's event is handled while the gateway has not answered"
    );
    gateway.release_one();
    assert_eq!(held.await.expect("delivery task"), Outcome::Ack);

    assert_eq!(status(&database.pool, "o-1").await, "AUTHORIZED");
    assert_eq!(status(&database.pool, "o-2").await, "PENDING");
    let types: Vec<_> = outbox(&database.pool)
        .await
        .into_iter()
        .map(|(ty, _)| ty)
        .collect();
    assert_eq!(types, [events::payment::PaymentAuthorizedV1::NAME]);
    pool.close().await;
    database.drop().await;
}

#[tokio::test]
async fn an_order_cancelled_while_the_gateway_authorizes_it_has_that_authorization_voided() {
    let database = TestDatabase::with_migrations_of("payment").await;
    let gateway = Arc::new(HeldGateway::default());
    let authorize = Arc::new(Runner::new(
        database.pool.clone(),
        AuthorizePayment(held_payments(&gateway)),
    ));
    let void = Runner::new(database.pool.clone(), VoidPayment(held_payments(&gateway)));
    deliver(&*authorize, &placed("e-1", "o-1", tokens::APPROVE)).await;
    let asked = gateway.asked.notified();
    let held = tokio::spawn({
        let authorize = Arc::clone(&authorize);
        async move { deliver(&*authorize, &reserved("e-2", "o-1")).await }
    });
    tokio::time::timeout(Duration::from_secs(30), asked)
        .await
        .expect("o-1's authorization reached the gateway");

    // The cancellation overtakes the gateway's answer: nothing is recorded as authorized yet.
    assert_eq!(deliver(&void, &cancelled("e-3", "o-1")).await, Outcome::Ack);
    assert_eq!(status(&database.pool, "o-1").await, "CANCELLED");
    gateway.release_one();
    assert_eq!(held.await.expect("delivery task"), Outcome::Ack);

    assert_eq!(status(&database.pool, "o-1").await, "VOIDED");
    assert_eq!(
        gateway.calls(),
        ["authorize o-1", "void o-1 held-auth-o-1"],
        "the authorization the gateway made is released"
    );
    let types: Vec<_> = outbox(&database.pool)
        .await
        .into_iter()
        .map(|(ty, _)| ty)
        .collect();
    assert_eq!(types, [events::payment::PaymentVoidedV1::NAME]);
    // A redelivery finds the payment settled and asks the gateway nothing more.
    assert_eq!(deliver(&*authorize, &reserved("e-2", "o-1")).await, Outcome::Ack);
    assert_eq!(gateway.calls().len(), 2);
    database.drop().await;
}

#[tokio::test]
async fn when_both_facts_arrive_at_once_and_neither_delivery_asked_the_gateway_the_second_asks_on_its_retry()
{
    use payment::payments::{Fact, GatewayAnswer, PaymentError, prepare_authorization, record_authorization};
    use store::outbox::{EventContext, Origin};
    let database = TestDatabase::with_migrations_of("payment").await;
    let gateway = SimulatedGateway::new(Duration::ZERO);
    let policy = GatewayPolicy::default();
    let order = Fact::OrderPlaced {
        amount: payment::domain::amount_to_charge(2580, "EUR").expect("money"),
        token: payment::domain::PaymentToken::parse(tokens::APPROVE).expect("token"),
    };
    let cause = placed("e-1", "o-1", tokens::APPROVE);
    let origin = Origin::new("authorize-payment", EventContext::caused_by(&cause));

    // Each delivery decides before the other's fact is committed: both wait.
    let order_answer = prepare_authorization(&database.pool, &gateway, policy, "o-1", &order).await;
    let stock_answer =
        prepare_authorization(&database.pool, &gateway, policy, "o-1", &Fact::StockReserved).await;
    assert_eq!(order_answer.expect("prepared"), GatewayAnswer::NotAsked);
    assert_eq!(stock_answer.expect("prepared"), GatewayAnswer::NotAsked);

    let mut first = database.pool.begin().await.expect("transaction");
    record_authorization(
        &mut first,
        &gateway,
        policy,
        &origin,
        "o-1",
        &order,
        &GatewayAnswer::NotAsked,
    )
    .await
    .expect("the order is recorded");
    first.commit().await.expect("commit");
    let mut second = database.pool.begin().await.expect("transaction");
    let outcome = record_authorization(
        &mut second,
        &gateway,
        policy,
        &origin,
        "o-1",
        &Fact::StockReserved,
        &GatewayAnswer::NotAsked,
    )
    .await;
    second.rollback().await.expect("rollback");
    assert!(
        matches!(outcome, Err(PaymentError::NotAskedYet { .. })),
        "the delivery that completes the pair without an answer must retry, not wait: {outcome:?}"
    );

    // Its retry finds both facts, asks the gateway and authorizes.
    let authorize = Runner::new(database.pool.clone(), AuthorizePayment(payments()));
    assert_eq!(deliver(&authorize, &reserved("e-2", "o-1")).await, Outcome::Ack);
    assert_eq!(status(&database.pool, "o-1").await, "AUTHORIZED");
    database.drop().await;
}
