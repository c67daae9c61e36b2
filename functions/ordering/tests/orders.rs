//! Ordering's use cases and saga functions against the real MariaDB of the local stack: each
//! test gets a fresh database with the ordering migrations and a catalog projection to order
//! from.

use chrono::{Duration, Utc};
use cloudevents::{AttributesWriter, Event, EventBuilder, EventBuilderV10};
use events::EventType;
use ordering::order::{
    IdempotencyKey, OrderLines, PaymentToken, PlaceOrder, PricingError, ProductId, Quantity,
};
use ordering::orders::{self, CancelOrderError, GetOrderError, OrderView, PlaceOrderError, Placed};
use ordering::progress::RecordOrderProgress;
use ordering::saga::{CancelOrder, ConfirmOrder};
use runtime::events::{Delivery, EventHandler, Outcome};
use serde_json::json;
use sqlx::MySqlPool;
use store::consumer::Runner;
use store::outbox::EventContext;
use store::testing::TestDatabase;
use uuid::Uuid;

const PAYMENT_TIMEOUT: Duration = Duration::minutes(15);

async fn with_catalog() -> TestDatabase {
    let database = TestDatabase::with_migrations_of("ordering").await;
    sqlx::query(
        "INSERT INTO product_price (product_id, name, price_minor, currency, orderable, last_event_at) VALUES
         ('cup', 'Espresso cup', 1290, 'EUR', TRUE, NOW(6)),
         ('mug', 'Mug', 990, 'EUR', TRUE, NOW(6)),
         ('old', 'Old mug', 500, 'EUR', FALSE, NOW(6))",
    )
    .execute(&database.pool)
    .await
    .expect("catalog projection");
    database
}

/// The source an event's producer writes: `commerce/<context of its topic>/test`.
fn producer_of(event_type: &str) -> String {
    let descriptor = events::describe(event_type).expect("a platform event type");
    format!("commerce/{}/test", descriptor.topic.context)
}
fn command(user_id: Uuid, key: &str, lines: &[(&str, i64)], token: &str) -> PlaceOrder {
    PlaceOrder {
        user_id,
        idempotency_key: IdempotencyKey::parse(key).expect("key"),
        lines: OrderLines::new(
            lines
                .iter()
                .map(|(product, units)| {
                    (
                        ProductId::parse(product).expect("product"),
                        Quantity::new(*units).expect("quantity"),
                    )
                })
                .collect(),
        )
        .expect("lines"),
        payment_token: PaymentToken::parse(token).expect("token"),
    }
}

async fn place(pool: &MySqlPool, command: &PlaceOrder) -> Result<Placed, PlaceOrderError> {
    orders::place_order(pool, command, PAYMENT_TIMEOUT, &EventContext::default()).await
}

async fn place_new(pool: &MySqlPool, user_id: Uuid, key: &str) -> OrderView {
    match place(pool, &command(user_id, key, &[("cup", 2)], "tok_approve")).await {
        Ok(Placed::New(view)) => view,
        other => panic!("expected a new order, got {other:?}"),
    }
}

async fn count(pool: &MySqlPool, table: &str) -> i64 {
    let sql = match table {
        "orders" => "SELECT COUNT(*) FROM orders",
        "outbox" => "SELECT COUNT(*) FROM outbox",
        "order_idempotency" => "SELECT COUNT(*) FROM order_idempotency",
        other => panic!("no count for {other}"),
    };
    sqlx::query_scalar(sql).fetch_one(pool).await.expect("count")
}

async fn outbox_types(pool: &MySqlPool) -> Vec<String> {
    sqlx::query_scalar("SELECT type FROM outbox ORDER BY id")
        .fetch_all(pool)
        .await
        .expect("outbox")
}

fn saga_event(id: &str, ty: &str, data: serde_json::Value) -> Event {
    EventBuilderV10::new()
        .id(id)
        .ty(ty)
        .source(producer_of(ty))
        .data("application/json", data)
        .build()
        .expect("event")
}

fn authorized(id: &str, order_id: &str) -> Event {
    saga_event(
        id,
        events::payment::PaymentAuthorizedV1::NAME,
        json!({"orderId": order_id, "paymentId": "p-1", "amountMinor": 2580, "currency": "EUR",
               "authorizationId": "a-1"}),
    )
}

fn declined(id: &str, order_id: &str) -> Event {
    saga_event(
        id,
        events::payment::PaymentDeclinedV1::NAME,
        json!({"orderId": order_id, "paymentId": "p-1", "reason": "declined"}),
    )
}

fn reservation_failed(id: &str, order_id: &str) -> Event {
    saga_event(
        id,
        events::inventory::StockReservationFailedV1::NAME,
        json!({"orderId": order_id, "shortLines": [{"sku": "cup", "requested": 2, "available": 0}]}),
    )
}

async fn deliver(handler: &impl EventHandler, event: &Event) -> Outcome {
    handler.handle(event, &Delivery::default()).await
}

async fn status_of(pool: &MySqlPool, user_id: Uuid, order_id: &str) -> (String, Option<String>, usize) {
    let view = orders::get_order(pool, user_id, order_id).await.expect("order");
    (view.status, view.cancel_reason, view.history.len())
}

#[tokio::test]
async fn a_placed_order_is_priced_from_the_catalog_projection_and_announced() {
    let database = with_catalog().await;
    let user = Uuid::now_v7();

    let view = place_new(&database.pool, user, "k-1").await;

    assert_eq!(view.status, "PLACED");
    assert_eq!(view.total_minor, 2 * 1290);
    assert_eq!(view.currency, "EUR");
    assert_eq!(view.lines[0].unit_price_minor, 1290);
    assert_eq!(view.history.len(), 1);
    let (ty, payload, correlation): (String, String, Option<String>) =
        sqlx::query_as("SELECT type, payload, correlationid FROM outbox")
            .fetch_one(&database.pool)
            .await
            .expect("one outbox row");
    assert_eq!(ty, events::ordering::OrderPlacedV1::NAME);
    assert_eq!(correlation.as_deref(), Some(view.order_id.as_str()));
    let placed: events::ordering::OrderPlacedV1 =
        serde_json::from_str(&payload).expect("order.placed payload");
    assert_eq!(placed.total_minor, 2580);
    assert_eq!(placed.user_id, user.to_string());
    assert_eq!(placed.payment_token, "tok_approve");
    database.drop().await;
}

#[tokio::test]
async fn an_order_for_unknown_or_discontinued_products_writes_nothing() {
    let database = with_catalog().await;
    let user = Uuid::now_v7();

    let unknown = place(
        &database.pool,
        &command(user, "k-1", &[("cup", 1), ("ghost", 1)], "tok_approve"),
    )
    .await;
    let discontinued = place(
        &database.pool,
        &command(user, "k-2", &[("old", 1)], "tok_approve"),
    )
    .await;

    assert!(
        matches!(unknown, Err(PlaceOrderError::Pricing(PricingError::UnknownProduct(id))) if id == "ghost")
    );
    assert!(matches!(
        discontinued,
        Err(PlaceOrderError::Pricing(PricingError::NotOrderable(_)))
    ));
    for table in ["orders", "outbox", "order_idempotency"] {
        assert_eq!(count(&database.pool, table).await, 0, "{table}");
    }
    database.drop().await;
}

#[tokio::test]
async fn replaying_a_request_with_its_idempotency_key_returns_the_same_order() {
    let database = with_catalog().await;
    let user = Uuid::now_v7();
    let first = place_new(&database.pool, user, "k-1").await;

    let replay = place(
        &database.pool,
        &command(user, "k-1", &[("cup", 2)], "tok_approve"),
    )
    .await;
    let other_user = place(
        &database.pool,
        &command(Uuid::now_v7(), "k-1", &[("cup", 2)], "tok_approve"),
    )
    .await;

    assert!(matches!(replay, Ok(Placed::Replayed(view)) if view.order_id == first.order_id));
    assert!(matches!(other_user, Ok(Placed::New(_))), "keys are per customer");
    assert_eq!(count(&database.pool, "orders").await, 2);
    database.drop().await;
}

#[tokio::test]
async fn reusing_an_idempotency_key_for_a_different_request_is_refused() {
    let database = with_catalog().await;
    let user = Uuid::now_v7();
    place_new(&database.pool, user, "k-1").await;

    let different = place(
        &database.pool,
        &command(user, "k-1", &[("cup", 3)], "tok_approve"),
    )
    .await;

    assert!(matches!(different, Err(PlaceOrderError::IdempotencyKeyReused)));
    assert_eq!(count(&database.pool, "orders").await, 1);
    database.drop().await;
}

#[tokio::test]
async fn concurrent_requests_with_one_idempotency_key_place_one_order() {
    let database = with_catalog().await;
    let user = Uuid::now_v7();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let pool = database.pool.clone();
            tokio::spawn(
                async move { place(&pool, &command(user, "k-1", &[("cup", 2)], "tok_approve")).await },
            )
        })
        .collect();

    let mut order_ids = std::collections::BTreeSet::new();
    for task in tasks {
        match task.await.expect("task") {
            Ok(Placed::New(view) | Placed::Replayed(view)) => order_ids.insert(view.order_id),
            Err(error) => panic!("{error}"),
        };
    }

    assert_eq!(order_ids.len(), 1);
    assert_eq!(count(&database.pool, "orders").await, 1);
    assert_eq!(count(&database.pool, "outbox").await, 1);
    database.drop().await;
}

#[tokio::test]
async fn a_payment_authorized_for_less_than_the_total_or_claimed_by_another_context_confirms_nothing() {
    let database = with_catalog().await;
    let user = Uuid::now_v7();
    let order = place_new(&database.pool, user, "k-1").await;
    let confirm = Runner::new(database.pool.clone(), ConfirmOrder);
    let paid = |minor: i64, currency: &str| {
        json!({"orderId": order.order_id, "paymentId": "p-1", "amountMinor": minor, "currency": currency,
               "authorizationId": "a-1"})
    };

    // Anyone who reaches confirm-order can post a `payment.authorized` for their own order.
    let underpaid = saga_event("e-1", events::payment::PaymentAuthorizedV1::NAME, paid(1, "EUR"));
    let other_currency = saga_event(
        "e-2",
        events::payment::PaymentAuthorizedV1::NAME,
        paid(2580, "USD"),
    );
    let mut not_from_payment = saga_event(
        "e-3",
        events::payment::PaymentAuthorizedV1::NAME,
        paid(2580, "EUR"),
    );
    not_from_payment.set_source("commerce/ordering/confirm-order");
    for forged in [&underpaid, &other_currency, &not_from_payment] {
        let outcome = deliver(&confirm, forged).await;
        assert!(matches!(outcome, Outcome::Reject(_)), "{outcome:?}");
    }

    assert_eq!(
        status_of(&database.pool, user, &order.order_id).await,
        ("PLACED".to_owned(), None, 1),
        "the order is still waiting for a real payment"
    );
    assert_eq!(
        outbox_types(&database.pool).await,
        [events::ordering::OrderPlacedV1::NAME],
        "and nobody was told it was confirmed"
    );
    database.drop().await;
}

#[tokio::test]
async fn an_authorized_payment_confirms_the_order_once() {
    let database = with_catalog().await;
    let user = Uuid::now_v7();
    let order = place_new(&database.pool, user, "k-1").await;
    let confirm = Runner::new(database.pool.clone(), ConfirmOrder);

    assert_eq!(
        deliver(&confirm, &authorized("e-1", &order.order_id)).await,
        Outcome::Ack
    );
    assert_eq!(
        deliver(&confirm, &authorized("e-1", &order.order_id)).await,
        Outcome::Ack
    );
    assert_eq!(
        deliver(&confirm, &authorized("e-2", &order.order_id)).await,
        Outcome::Ack
    );

    assert_eq!(
        status_of(&database.pool, user, &order.order_id).await,
        ("CONFIRMED".to_owned(), None, 2)
    );
    assert_eq!(
        outbox_types(&database.pool).await,
        [
            events::ordering::OrderPlacedV1::NAME,
            events::ordering::OrderConfirmedV1::NAME
        ]
    );
    database.drop().await;
}

#[tokio::test]
async fn a_failed_reservation_or_a_declined_payment_cancels_the_order_with_its_reason() {
    let database = with_catalog().await;
    let user = Uuid::now_v7();
    let out_of_stock = place_new(&database.pool, user, "k-1").await;
    let unpaid = place_new(&database.pool, user, "k-2").await;
    let cancel = Runner::new(database.pool.clone(), CancelOrder);

    assert_eq!(
        deliver(&cancel, &reservation_failed("e-1", &out_of_stock.order_id)).await,
        Outcome::Ack
    );
    assert_eq!(
        deliver(&cancel, &declined("e-2", &unpaid.order_id)).await,
        Outcome::Ack
    );

    assert_eq!(
        status_of(&database.pool, user, &out_of_stock.order_id).await,
        ("CANCELLED".to_owned(), Some("out-of-stock".to_owned()), 2)
    );
    assert_eq!(
        status_of(&database.pool, user, &unpaid.order_id).await,
        ("CANCELLED".to_owned(), Some("payment-declined".to_owned()), 2)
    );
    assert_eq!(
        outbox_types(&database.pool).await.last().map(String::as_str),
        Some(events::ordering::OrderCancelledV1::NAME)
    );
    database.drop().await;
}

#[tokio::test]
async fn a_late_authorization_leaves_a_cancelled_order_cancelled() {
    let database = with_catalog().await;
    let user = Uuid::now_v7();
    let order = place_new(&database.pool, user, "k-1").await;
    orders::cancel_order(&database.pool, user, &order.order_id, &EventContext::default())
        .await
        .expect("cancel");

    let outcome = deliver(
        &Runner::new(database.pool.clone(), ConfirmOrder),
        &authorized("e-1", &order.order_id),
    )
    .await;

    assert_eq!(outcome, Outcome::Ack);
    assert_eq!(
        status_of(&database.pool, user, &order.order_id).await.0,
        "CANCELLED"
    );
    database.drop().await;
}

#[tokio::test]
async fn saga_events_for_unknown_orders_or_contradicting_the_status_are_rejected() {
    let database = with_catalog().await;
    let user = Uuid::now_v7();
    let order = place_new(&database.pool, user, "k-1").await;
    deliver(
        &Runner::new(database.pool.clone(), ConfirmOrder),
        &authorized("e-1", &order.order_id),
    )
    .await;
    let cancel = Runner::new(database.pool.clone(), CancelOrder);

    assert!(matches!(
        deliver(&cancel, &declined("e-2", &order.order_id)).await,
        Outcome::Reject(_)
    ));
    assert!(matches!(
        deliver(&cancel, &declined("e-3", "no-such-order")).await,
        Outcome::Reject(_)
    ));
    assert_eq!(
        status_of(&database.pool, user, &order.order_id).await.0,
        "CONFIRMED"
    );
    database.drop().await;
}

#[tokio::test]
async fn customers_cancel_only_their_own_unconfirmed_orders() {
    let database = with_catalog().await;
    let user = Uuid::now_v7();
    let open = place_new(&database.pool, user, "k-1").await;
    let confirmed = place_new(&database.pool, user, "k-2").await;
    deliver(
        &Runner::new(database.pool.clone(), ConfirmOrder),
        &authorized("e-1", &confirmed.order_id),
    )
    .await;
    let context = EventContext::default();

    let stranger = orders::cancel_order(&database.pool, Uuid::now_v7(), &open.order_id, &context).await;
    let too_late = orders::cancel_order(&database.pool, user, &confirmed.order_id, &context).await;
    let cancelled = orders::cancel_order(&database.pool, user, &open.order_id, &context).await;
    let again = orders::cancel_order(&database.pool, user, &open.order_id, &context).await;

    assert!(matches!(stranger, Err(CancelOrderError::NotFound)));
    assert!(matches!(
        too_late,
        Err(CancelOrderError::NotCancellable("CONFIRMED"))
    ));
    assert!(matches!(cancelled, Ok(view) if view.cancel_reason.as_deref() == Some("customer-cancelled")));
    assert!(matches!(again, Ok(view) if view.status == "CANCELLED" && view.history.len() == 2));
    let cancellations = outbox_types(&database.pool)
        .await
        .into_iter()
        .filter(|ty| ty == events::ordering::OrderCancelledV1::NAME)
        .count();
    assert_eq!(cancellations, 1);
    database.drop().await;
}

#[tokio::test]
async fn customers_see_and_list_only_their_own_orders() {
    let database = with_catalog().await;
    let user = Uuid::now_v7();
    let stranger = Uuid::now_v7();
    let first = place_new(&database.pool, user, "k-1").await;
    let second = place_new(&database.pool, user, "k-2").await;
    place_new(&database.pool, stranger, "k-1").await;

    let mine = orders::list_orders(&database.pool, user, 10, 0)
        .await
        .expect("list");
    let page = orders::list_orders(&database.pool, user, 1, 1)
        .await
        .expect("page");

    let ids: Vec<_> = mine.iter().map(|order| order.order_id.as_str()).collect();
    assert_eq!(
        ids,
        [second.order_id.as_str(), first.order_id.as_str()],
        "newest first"
    );
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].order_id, first.order_id);
    assert!(matches!(
        orders::get_order(&database.pool, stranger, &first.order_id).await,
        Err(GetOrderError::NotFound)
    ));
    database.drop().await;
}

#[tokio::test]
async fn unpaid_orders_past_their_deadline_are_cancelled_by_the_sweep() {
    let database = with_catalog().await;
    let user = Uuid::now_v7();
    let order = place_new(&database.pool, user, "k-1").await;

    let too_early = orders::expire_unpaid(&database.pool, Utc::now(), 100)
        .await
        .expect("sweep");
    let expired = orders::expire_unpaid(
        &database.pool,
        Utc::now() + PAYMENT_TIMEOUT + Duration::seconds(1),
        100,
    )
    .await
    .expect("sweep");

    assert_eq!((too_early, expired), (0, 1));
    assert_eq!(
        status_of(&database.pool, user, &order.order_id).await,
        ("CANCELLED".to_owned(), Some("payment-expired".to_owned()), 2)
    );
    database.drop().await;
}

fn released(id: &str, order_id: &str, reason: &str) -> Event {
    saga_event(
        id,
        events::inventory::StockReleasedV1::NAME,
        json!({"orderId": order_id, "lines": [{"sku": "cup", "quantity": 2}], "reason": reason}),
    )
}

#[tokio::test]
async fn a_lapsed_reservation_cancels_a_placed_order_and_a_release_it_caused_itself_changes_nothing() {
    let database = with_catalog().await;
    let user = Uuid::now_v7();
    let lapsed = place_new(&database.pool, user, "k-1").await;
    let confirmed = place_new(&database.pool, user, "k-2").await;
    deliver(
        &Runner::new(database.pool.clone(), ConfirmOrder),
        &authorized("e-0", &confirmed.order_id),
    )
    .await;
    let cancel = Runner::new(database.pool.clone(), CancelOrder);

    assert_eq!(
        deliver(&cancel, &released("e-1", &lapsed.order_id, "expired")).await,
        Outcome::Ack
    );
    assert_eq!(
        deliver(&cancel, &released("e-2", &confirmed.order_id, "order-cancelled")).await,
        Outcome::Ack
    );

    assert_eq!(
        status_of(&database.pool, user, &lapsed.order_id).await,
        ("CANCELLED".to_owned(), Some("reservation-expired".to_owned()), 2)
    );
    assert_eq!(
        status_of(&database.pool, user, &confirmed.order_id).await.0,
        "CONFIRMED"
    );
    database.drop().await;
}

fn reserved(id: &str, order_id: &str) -> Event {
    saga_event(
        id,
        events::inventory::StockReservedV1::NAME,
        json!({"orderId": order_id, "lines": [{"sku": "cup", "quantity": 2}],
               "expiresAt": "2026-12-02T12:15:00Z"}),
    )
}

/// `event` as its producer says it happened at `at`.
fn at(mut event: Event, at: &str) -> Event {
    event.set_time(Some(
        chrono::DateTime::parse_from_rfc3339(at).expect("a time").to_utc(),
    ));
    event
}

#[tokio::test]
async fn the_reservation_and_the_authorization_show_on_the_order_with_their_times_once() {
    let database = with_catalog().await;
    let user = Uuid::now_v7();
    let order = place_new(&database.pool, user, "k-1").await;
    assert!(order.steps.is_empty(), "nothing happened elsewhere yet");
    let record = Runner::new(database.pool.clone(), RecordOrderProgress);

    let reservation = at(reserved("e-1", &order.order_id), "2026-12-02T12:00:01.250Z");
    let authorization = at(authorized("e-2", &order.order_id), "2026-12-02T12:00:02.500Z");
    // Payment's answer may be read first: the steps still list in the order they happened.
    assert_eq!(deliver(&record, &authorization).await, Outcome::Ack);
    assert_eq!(deliver(&record, &reservation).await, Outcome::Ack);
    assert_eq!(deliver(&record, &reservation).await, Outcome::Ack, "a redelivery");
    let replayed = at(reserved("e-3", &order.order_id), "2026-12-02T13:00:00Z");
    assert_eq!(
        deliver(&record, &replayed).await,
        Outcome::Ack,
        "a second reservation event"
    );

    let view = orders::get_order(&database.pool, user, &order.order_id)
        .await
        .expect("order");
    let steps: Vec<_> = view
        .steps
        .iter()
        .map(|step| (step.step.as_str(), step.at.to_rfc3339()))
        .collect();
    assert_eq!(
        steps,
        [
            ("STOCK_RESERVED", "2026-12-02T12:00:01.250+00:00".to_owned()),
            ("PAYMENT_AUTHORIZED", "2026-12-02T12:00:02.500+00:00".to_owned()),
        ],
        "each step once, at the time its context gave, the first event kept"
    );
    assert_eq!(view.status, "PLACED", "steps inform; confirm-order confirms");
    assert_eq!(
        outbox_types(&database.pool).await,
        [events::ordering::OrderPlacedV1::NAME]
    );
    database.drop().await;
}
