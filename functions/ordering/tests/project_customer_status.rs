//! `project-customer-status` and the place-order check it feeds, against the real MariaDB of
//! the local stack: identity's status events are delivered through the shared runner as the
//! trigger would, and orders are placed through the `place-order` router in-process.

use axum::http::{HeaderValue, StatusCode};
use chrono::{DateTime, Duration, Utc};
use cloudevents::{AttributesReader, Event, EventBuilder, EventBuilderV10};
use events::EventType;
use events::identity::{UserLockedV1, UserUnlockedV1, UserWithdrawnV1};
use ordering::customer_status::ProjectCustomerStatus;
use ordering::http::{OrderingApi, place_order_routes};
use runtime::events::{Delivery, EventHandler, Outcome};
use security::Role;
use serde_json::{Value, json};
use store::consumer::Runner;
use testkit::app::{TestApp, request, send};
use uuid::Uuid;

struct App {
    context: TestApp,
    projection: Runner<ProjectCustomerStatus>,
}

impl App {
    /// `place-order` and the projection on one fresh database whose catalog knows a cup.
    async fn spawn() -> Self {
        let context = TestApp::spawn("ordering", |pool, verifier| {
            place_order_routes(
                OrderingApi {
                    pool,
                    payment_timeout: Duration::minutes(15),
                },
                verifier,
            )
        })
        .await;
        sqlx::query(
            "INSERT INTO product_price (product_id, name, price_minor, currency, orderable, last_event_at)
             VALUES ('cup', 'Espresso cup', 1290, 'EUR', TRUE, NOW(6))",
        )
        .execute(&context.database.pool)
        .await
        .expect("catalog projection");
        let projection = Runner::new(context.database.pool.clone(), ProjectCustomerStatus);
        Self { context, projection }
    }

    async fn place_order(&self, user: Uuid, key: &str) -> (StatusCode, Value) {
        let token = self.context.tokens.token(user, Role::Customer);
        let body = json!({"lines": [{"productId": "cup", "quantity": 1}], "paymentToken": "tok_approve"});
        let mut request = request("POST", "/orders", Some(&token), Some(body));
        request.headers_mut().insert(
            "idempotency-key",
            HeaderValue::from_str(key).expect("a header value"),
        );
        let reply = send(&self.context.router, request).await;
        (reply.status, reply.body)
    }

    async fn deliver(&self, event: &Event) -> Outcome {
        self.projection.handle(event, &Delivery::default()).await
    }

    async fn status_of(&self, user: Uuid) -> Option<String> {
        sqlx::query_scalar("SELECT status FROM customer_status WHERE user_id = ?")
            .bind(user.to_string())
            .fetch_optional(&self.context.database.pool)
            .await
            .expect("select")
    }

    async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(&self.context.database.pool)
            .await
            .expect("count")
    }

    async fn finish(self) {
        drop(self.projection);
        self.context.database.drop().await;
    }
}

/// An identity event as the relay publishes it.
fn identity_event(id: &str, event_type: &str, user: &str, data: Value) -> Event {
    EventBuilderV10::new()
        .id(id)
        .ty(event_type)
        .source("commerce/identity/lock-user")
        .subject(user)
        .data("application/json", data)
        .build()
        .expect("event")
}

fn locked(id: &str, user: Uuid, at: DateTime<Utc>) -> Event {
    identity_event(
        id,
        UserLockedV1::NAME,
        &user.to_string(),
        json!({"userId": user.to_string(), "lockedAt": at}),
    )
}

fn unlocked(id: &str, user: Uuid, at: DateTime<Utc>) -> Event {
    identity_event(
        id,
        UserUnlockedV1::NAME,
        &user.to_string(),
        json!({"userId": user.to_string(), "unlockedAt": at}),
    )
}

fn withdrawn(id: &str, user: Uuid, at: DateTime<Utc>) -> Event {
    identity_event(
        id,
        UserWithdrawnV1::NAME,
        &user.to_string(),
        json!({"userId": user.to_string(), "withdrawnAt": at}),
    )
}

#[tokio::test]
async fn a_locked_customer_cannot_place_an_order_until_unlocked_and_others_are_unaffected() {
    let app = App::spawn().await;
    let customer = Uuid::now_v7();
    let neighbour = Uuid::now_v7();
    let start = Utc::now();

    assert_eq!(app.deliver(&locked("e-1", customer, start)).await, Outcome::Ack);
    let (status, body) = app.place_order(customer, "k-1").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "ACCOUNT_LOCKED");
    assert_eq!(app.count("orders").await, 0, "nothing is written");
    assert_eq!(app.count("order_idempotency").await, 0);
    assert_eq!(app.count("outbox").await, 0);

    let (status, body) = app.place_order(neighbour, "k-1").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    assert_eq!(
        app.deliver(&unlocked("e-2", customer, start + Duration::seconds(1)))
            .await,
        Outcome::Ack
    );
    // The same key again: the refused attempt left nothing behind to collide with.
    let (status, body) = app.place_order(customer, "k-1").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["status"], "PLACED");
    app.finish().await;
}

#[tokio::test]
async fn a_withdrawn_customer_stays_refused_whatever_comes_later_and_keeps_their_orders() {
    let app = App::spawn().await;
    let customer = Uuid::now_v7();
    let start = Utc::now();
    let (status, body) = app.place_order(customer, "before").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    assert_eq!(
        app.deliver(&withdrawn("e-1", customer, start)).await,
        Outcome::Ack
    );
    let (status, body) = app.place_order(customer, "after").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "ACCOUNT_WITHDRAWN");

    // Nothing identity could send afterwards brings the account back.
    for (index, event) in [
        unlocked("e-2", customer, start + Duration::seconds(1)),
        locked("e-3", customer, start + Duration::seconds(2)),
        unlocked("e-4", customer, start + Duration::seconds(3)),
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(app.deliver(event).await, Outcome::Ack, "event {index}");
    }
    assert_eq!(app.status_of(customer).await.as_deref(), Some("WITHDRAWN"));
    assert_eq!(
        app.count("orders").await,
        1,
        "the books keep the order placed before"
    );
    app.finish().await;
}

#[tokio::test]
async fn redelivered_and_replayed_status_events_never_move_a_customer_back_in_time() {
    let app = App::spawn().await;
    let customer = Uuid::now_v7();
    let start = Utc::now();
    let lock = locked("e-1", customer, start);
    let unlock = unlocked("e-2", customer, start + Duration::seconds(1));

    for event in [&lock, &unlock, &lock, &unlock, &lock] {
        assert_eq!(app.deliver(event).await, Outcome::Ack);
    }
    assert_eq!(app.status_of(customer).await.as_deref(), Some("ACTIVE"));
    // The lock again under a new id, as a replay after the inbox was purged: older than the
    // unlock, so ignored.
    assert_eq!(
        app.deliver(&locked("e-1-replayed", customer, start)).await,
        Outcome::Ack
    );
    assert_eq!(app.status_of(customer).await.as_deref(), Some("ACTIVE"));
    let (status, body) = app.place_order(customer, "k-1").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let inbox: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM processed_event WHERE consumer = 'project-customer-status'")
            .fetch_one(&app.context.database.pool)
            .await
            .expect("count");
    assert_eq!(inbox, 3, "one inbox row per distinct event id");

    // A later lock still applies.
    let relock = locked("e-3", customer, start + Duration::seconds(2));
    assert_eq!(app.deliver(&relock).await, Outcome::Ack);
    assert_eq!(app.status_of(customer).await.as_deref(), Some("LOCKED"));
    app.finish().await;
}

#[tokio::test]
async fn a_status_event_with_a_bad_payload_or_a_forged_source_is_rejected_and_writes_nothing() {
    let app = App::spawn().await;
    let customer = Uuid::now_v7();
    let not_a_user = identity_event(
        "e-1",
        UserLockedV1::NAME,
        "someone",
        json!({"userId": "someone", "lockedAt": Utc::now()}),
    );
    let no_time = identity_event(
        "e-2",
        UserLockedV1::NAME,
        &customer.to_string(),
        json!({"userId": customer.to_string()}),
    );
    let forged = EventBuilderV10::new()
        .id("e-3")
        .ty(UserLockedV1::NAME)
        .source("commerce/ordering/not-identity")
        .data(
            "application/json",
            json!({"userId": customer.to_string(), "lockedAt": Utc::now()}),
        )
        .build()
        .expect("event");
    for event in [&not_a_user, &no_time, &forged] {
        assert!(
            matches!(app.deliver(event).await, Outcome::Reject(_)),
            "{}",
            event.id()
        );
    }
    assert_eq!(app.count("customer_status").await, 0);
    assert_eq!(app.count("processed_event").await, 0);
    // Other identity events pass untouched.
    let registered = identity_event(
        "e-4",
        events::identity::UserRegisteredV1::NAME,
        &customer.to_string(),
        json!({"userId": customer.to_string(), "email": "a@example.com", "displayName": "A",
               "registeredAt": Utc::now()}),
    );
    assert_eq!(app.deliver(&registered).await, Outcome::Ack);
    assert_eq!(app.count("customer_status").await, 0);
    app.finish().await;
}

/// A cart line and an address of a customer, written as the shopping functions write them.
async fn fill_cart_and_addresses(pool: &sqlx::MySqlPool, customer: Uuid) -> Uuid {
    let address = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO cart_line (user_id, product_id, quantity, added_at) VALUES (?, 'cup', 2, NOW(6))",
    )
    .bind(customer.to_string())
    .execute(pool)
    .await
    .expect("cart line");
    sqlx::query(
        "INSERT INTO address (address_id, user_id, recipient, phone, line1, city, postal_code, country,
                              is_default, created_at, default_of)
         VALUES (?, ?, 'Ada', '+82 10-1234-5678', '1 Main St', 'Seoul', '04524', 'KR', TRUE, NOW(6), ?)",
    )
    .bind(address.to_string())
    .bind(customer.to_string())
    .bind(customer.to_string())
    .execute(pool)
    .await
    .expect("address");
    address
}

async fn rows_of(pool: &sqlx::MySqlPool, table: &str, customer: Uuid) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM {table} WHERE user_id = ?"
    )))
    .bind(customer.to_string())
    .fetch_one(pool)
    .await
    .expect("count")
}

#[tokio::test]
async fn a_withdrawal_erases_that_customers_cart_and_addresses_and_no_one_elses() {
    let app = App::spawn().await;
    let pool = app.context.database.pool.clone();
    let (customer, neighbour) = (Uuid::now_v7(), Uuid::now_v7());
    fill_cart_and_addresses(&pool, customer).await;
    fill_cart_and_addresses(&pool, neighbour).await;

    assert_eq!(
        app.deliver(&withdrawn("e-1", customer, Utc::now())).await,
        Outcome::Ack
    );
    assert_eq!(
        rows_of(&pool, "cart_line", customer).await,
        0,
        "the cart is erased"
    );
    assert_eq!(
        rows_of(&pool, "address", customer).await,
        0,
        "the addresses are erased"
    );
    assert_eq!(
        rows_of(&pool, "cart_line", neighbour).await,
        1,
        "another cart stays"
    );
    assert_eq!(
        rows_of(&pool, "address", neighbour).await,
        1,
        "another address stays"
    );
    app.finish().await;
}

#[tokio::test]
async fn a_locked_customer_cannot_check_out_a_cart_and_it_is_kept() {
    let app = App::spawn().await;
    let pool = app.context.database.pool.clone();
    let customer = Uuid::now_v7();
    let address = fill_cart_and_addresses(&pool, customer).await;
    assert_eq!(
        app.deliver(&locked("e-1", customer, Utc::now())).await,
        Outcome::Ack
    );
    let checkout = runtime::http::HttpFunction::new(ordering::shop_http::checkout_routes(
        ordering::shop_http::ShopApi {
            pool: pool.clone(),
            shipping: ordering::shopping::ShippingRule::DEFAULT,
            payment_timeout: Duration::minutes(15),
            inventory: std::sync::Arc::new(ordering::availability::NoInventory),
        },
        app.context.tokens.verifier(),
    ))
    .into_router();
    let token = app.context.tokens.token(customer, Role::Customer);
    let body =
        json!({"addressId": address.to_string(), "paymentToken": "tok_approve", "expectedTotalMinor": 5580});
    let mut request = request("POST", "/cart/checkout", Some(&token), Some(body));
    request
        .headers_mut()
        .insert("idempotency-key", HeaderValue::from_static("co-1"));
    let reply = send(&checkout, request).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert_eq!(reply.body["error"]["code"], "ACCOUNT_LOCKED");
    assert_eq!(app.count("orders").await, 0, "nothing is placed");
    assert_eq!(rows_of(&pool, "cart_line", customer).await, 1, "the cart is kept");
    app.finish().await;
}
