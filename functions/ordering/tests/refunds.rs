//! The refund saga's ordering side against the real MariaDB of the local stack: the owner asks
//! for refunds through `request-refund` (called in-process, with the runtime's envelope and
//! the security extractors), and `settle-refund` takes payment's answers through the shared
//! runner, as the trigger would deliver them.

use axum::Router;
use axum::http::{HeaderValue, StatusCode};
use cloudevents::{Event, EventBuilder, EventBuilderV10};
use events::EventType;
use ordering::http::{OrderingApi, get_order_routes, place_order_routes};
use ordering::refund_http::request_refund_routes;
use ordering::refund_saga::SettleRefund;
use ordering::saga::ConfirmOrder;
use runtime::events::{Delivery, EventHandler, Outcome};
use security::Role;
use serde_json::{Value, json};
use sqlx::MySqlPool;
use store::consumer::Runner;
use testkit::app::{TestApp, request, send};
use uuid::Uuid;

struct App {
    context: TestApp,
}

impl App {
    async fn spawn() -> Self {
        let context = TestApp::spawn("ordering", |pool, verifier| {
            let api = OrderingApi {
                pool,
                payment_timeout: chrono::Duration::minutes(15),
            };
            Router::new()
                .merge(place_order_routes(api.clone(), verifier.clone()))
                .merge(get_order_routes(api.clone(), verifier.clone()))
                .merge(request_refund_routes(api, verifier))
        })
        .await;
        sqlx::query(
            "INSERT INTO product_price (product_id, name, price_minor, currency, orderable, last_event_at) VALUES
             ('cup', 'Espresso cup', 1290, 'EUR', TRUE, NOW(6)), ('mug', 'Mug', 990, 'EUR', TRUE, NOW(6))",
        )
        .execute(&context.database.pool)
        .await
        .expect("catalog projection");
        Self { context }
    }

    fn pool(&self) -> &MySqlPool {
        &self.context.database.pool
    }

    fn token(&self, user: Uuid) -> String {
        self.context.tokens.token(user, Role::Customer)
    }

    /// Places two cups (line 0) and a mug (line 1), and confirms the order as payment would.
    async fn confirmed_order(&self, user: Uuid) -> String {
        self.confirmed_order_keyed(user, "place-1").await
    }

    /// [`Self::confirmed_order`] under an idempotency key of the caller's, for several orders.
    async fn confirmed_order_keyed(&self, user: Uuid, key: &str) -> String {
        let body = json!({"lines": [{"productId": "cup", "quantity": 2}, {"productId": "mug", "quantity": 1}],
                          "paymentToken": "tok_approve"});
        let mut place = request("POST", "/orders", Some(&self.token(user)), Some(body));
        place.headers_mut().insert(
            "idempotency-key",
            HeaderValue::from_str(key).expect("a header value"),
        );
        let reply = send(&self.context.router, place).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let order_id = reply.body["data"]["orderId"]
            .as_str()
            .expect("order id")
            .to_owned();
        let authorized = event(
            events::payment::PaymentAuthorizedV1::NAME,
            json!({"orderId": order_id, "paymentId": "p-1", "amountMinor": 2 * 1290 + 990, "currency": "EUR",
                   "authorizationId": "a-1"}),
        );
        let confirm = Runner::new(self.pool().clone(), ConfirmOrder);
        assert_eq!(deliver(&confirm, &authorized).await, Outcome::Ack);
        order_id
    }

    async fn refund(
        &self,
        user: Uuid,
        order_id: &str,
        key: Option<&str>,
        body: Value,
    ) -> (StatusCode, Value) {
        let path = format!("/orders/{order_id}/refunds");
        let mut refund = request("POST", &path, Some(&self.token(user)), Some(body));
        if let Some(key) = key {
            let key = HeaderValue::from_str(key).expect("a header value");
            refund.headers_mut().insert("idempotency-key", key);
        }
        let reply = send(&self.context.router, refund).await;
        (reply.status, reply.body)
    }

    async fn order(&self, user: Uuid, order_id: &str) -> Value {
        let path = format!("/orders/{order_id}");
        let reply = send(
            &self.context.router,
            request("GET", &path, Some(&self.token(user)), None),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["data"].clone()
    }

    async fn rows(&self) -> (i64, i64) {
        let refunds = sqlx::query_scalar("SELECT COUNT(*) FROM order_refund")
            .fetch_one(self.pool())
            .await
            .expect("count");
        let outbox = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(self.pool())
            .await
            .expect("count");
        (refunds, outbox)
    }

    async fn outbox_of(&self, event_type: &str) -> Vec<Value> {
        let payloads: Vec<String> =
            sqlx::query_scalar("SELECT CAST(payload AS CHAR) FROM outbox WHERE type = ? ORDER BY id")
                .bind(event_type)
                .fetch_all(self.pool())
                .await
                .expect("outbox");
        payloads
            .iter()
            .map(|payload| serde_json::from_str(payload).expect("json"))
            .collect()
    }
}

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

fn refunded(order_id: &str, refund_id: &str, amount_minor: i64) -> Event {
    event(
        events::payment::PaymentRefundedV1::NAME,
        json!({"orderId": order_id, "paymentId": "p-1", "refundId": refund_id, "amountMinor": amount_minor,
               "currency": "EUR", "refundedTotalMinor": amount_minor, "reference": "r-1"}),
    )
}

fn refund_failed(order_id: &str, refund_id: &str, reason: &str) -> Event {
    event(
        events::payment::PaymentRefundFailedV1::NAME,
        json!({"orderId": order_id, "refundId": refund_id, "reason": reason}),
    )
}

async fn deliver(handler: &impl EventHandler, event: &Event) -> Outcome {
    handler.handle(event, &Delivery::default()).await
}

fn line_statuses(order: &Value) -> Vec<String> {
    order["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|line| line["status"].as_str().expect("status").to_owned())
        .collect()
}

#[tokio::test]
async fn an_owner_refunds_a_line_and_payments_answer_makes_it_refunded_and_the_order_partially_refunded() {
    let app = App::spawn().await;
    let user = Uuid::now_v7();
    let order_id = app.confirmed_order(user).await;

    let (status, body) = app
        .refund(user, &order_id, Some("r-1"), json!({"lines": [0]}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["data"]["status"], "REQUESTED");
    assert_eq!(body["data"]["amountMinor"], 2 * 1290);
    let refund_id = body["data"]["refundId"].as_str().expect("refund id").to_owned();
    assert_eq!(
        line_statuses(&app.order(user, &order_id).await),
        ["REFUND_REQUESTED", "ORDERED"]
    );
    let requested = app
        .outbox_of(events::ordering::OrderRefundRequestedV1::NAME)
        .await;
    assert_eq!(requested.len(), 1);
    assert_eq!(requested[0]["amountMinor"], 2580);
    assert_eq!(requested[0]["lines"][0]["productId"], "cup");

    let settle = Runner::new(app.pool().clone(), SettleRefund);
    let answer = refunded(&order_id, &refund_id, 2580);
    assert_eq!(deliver(&settle, &answer).await, Outcome::Ack);
    assert_eq!(
        deliver(&settle, &answer).await,
        Outcome::Ack,
        "a redelivery changes nothing"
    );

    let order = app.order(user, &order_id).await;
    assert_eq!(order["status"], "PARTIALLY_REFUNDED");
    assert_eq!(line_statuses(&order), ["REFUNDED", "ORDERED"]);
    assert_eq!(order["refunds"][0]["status"], "SUCCEEDED");
    let last = order["history"]
        .as_array()
        .expect("history")
        .last()
        .expect("a move")
        .clone();
    assert_eq!(
        (last["from"].clone(), last["to"].clone()),
        (json!("CONFIRMED"), json!("PARTIALLY_REFUNDED"))
    );
    let announced = app.outbox_of(events::ordering::OrderRefundedV1::NAME).await;
    assert_eq!(announced.len(), 1, "announced once");
    assert_eq!(announced[0]["lines"], json!([{"sku": "cup", "quantity": 2}]));
    assert_eq!(announced[0]["status"], "PARTIALLY_REFUNDED");

    let (status, body) = app
        .refund(user, &order_id, Some("r-1"), json!({"lines": [0]}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "a replay answers the same refund");
    assert_eq!(body["data"]["refundId"], refund_id.as_str());
    assert_eq!(body["data"]["status"], "SUCCEEDED");

    let (status, body) = app
        .refund(user, &order_id, Some("r-2"), json!({"lines": [0]}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("LINE_ALREADY_REFUNDED"))
    );

    let (status, body) = app
        .refund(user, &order_id, Some("r-3"), json!({"lines": [1]}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let second = body["data"]["refundId"].as_str().expect("refund id").to_owned();
    assert_eq!(
        deliver(&settle, &refunded(&order_id, &second, 990)).await,
        Outcome::Ack
    );
    let order = app.order(user, &order_id).await;
    assert_eq!(order["status"], "REFUNDED");
    assert_eq!(line_statuses(&order), ["REFUNDED", "REFUNDED"]);

    let (status, body) = app
        .refund(user, &order_id, Some("r-4"), json!({"lines": [1]}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("ORDER_NOT_REFUNDABLE"))
    );
    app.context.database.drop().await;
}

#[tokio::test]
async fn a_failed_refund_leaves_its_lines_refundable_and_says_why() {
    let app = App::spawn().await;
    let user = Uuid::now_v7();
    let order_id = app.confirmed_order(user).await;
    let (_, body) = app
        .refund(user, &order_id, Some("r-1"), json!({"lines": [0, 1]}))
        .await;
    let refund_id = body["data"]["refundId"].as_str().expect("refund id").to_owned();

    let (status, body) = app
        .refund(user, &order_id, Some("r-2"), json!({"lines": [1]}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("REFUND_IN_PROGRESS"))
    );

    let settle = Runner::new(app.pool().clone(), SettleRefund);
    let failed = refund_failed(&order_id, &refund_id, "refund-declined");
    assert_eq!(deliver(&settle, &failed).await, Outcome::Ack);
    // A late success of a refund that already failed is not believed.
    assert_eq!(
        deliver(&settle, &refunded(&order_id, &refund_id, 3570)).await,
        Outcome::Ack
    );

    let order = app.order(user, &order_id).await;
    assert_eq!(order["status"], "CONFIRMED");
    assert_eq!(line_statuses(&order), ["ORDERED", "ORDERED"]);
    assert_eq!(order["refunds"][0]["status"], "FAILED");
    assert_eq!(order["refunds"][0]["failureReason"], "refund-declined");
    assert!(
        app.outbox_of(events::ordering::OrderRefundedV1::NAME)
            .await
            .is_empty()
    );

    let (status, _) = app
        .refund(user, &order_id, Some("r-3"), json!({"lines": [1]}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "the line can be asked for again");
    app.context.database.drop().await;
}

#[tokio::test]
async fn concurrent_refunds_of_one_line_take_it_once() {
    let app = App::spawn().await;
    let user = Uuid::now_v7();
    let order_id = app.confirmed_order(user).await;

    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let router = app.context.router.clone();
            let path = format!("/orders/{order_id}/refunds");
            let mut refund = request("POST", &path, Some(&app.token(user)), Some(json!({"lines": [0]})));
            let key = HeaderValue::from_str(&format!("race-{n}")).expect("a header value");
            refund.headers_mut().insert("idempotency-key", key);
            tokio::spawn(async move {
                let reply = send(&router, refund).await;
                (reply.status, reply.body)
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("task"));
    }

    let accepted = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::ACCEPTED)
        .count();
    assert_eq!(accepted, 1, "{answers:?}");
    for (status, body) in answers
        .iter()
        .filter(|(status, _)| *status != StatusCode::ACCEPTED)
    {
        assert_eq!(
            (*status, body["error"]["code"].clone()),
            (StatusCode::CONFLICT, json!("REFUND_IN_PROGRESS"))
        );
    }
    assert_eq!(app.rows().await.0, 1);
    assert_eq!(
        app.outbox_of(events::ordering::OrderRefundRequestedV1::NAME)
            .await
            .len(),
        1
    );
    app.context.database.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_read_while_its_refund_settles_shows_the_refund_wholly_or_not_at_all() {
    const ORDERS: usize = 12;
    let app = App::spawn().await;
    let user = Uuid::now_v7();
    let mut refunds = Vec::with_capacity(ORDERS);
    for n in 0..ORDERS {
        let order_id = app.confirmed_order_keyed(user, &format!("place-{n}")).await;
        let (status, body) = app
            .refund(
                user,
                &order_id,
                Some(&format!("whole-{n}")),
                json!({"lines": [0, 1]}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let refund_id = body["data"]["refundId"].as_str().expect("refund id").to_owned();
        refunds.push((order_id, refund_id));
    }

    // Readers ask for each order over and over while the answers are settled one by one.
    let readers: Vec<_> = refunds
        .iter()
        .map(|(order_id, _)| {
            let router = app.context.router.clone();
            let (path, token) = (format!("/orders/{order_id}"), app.token(user));
            tokio::spawn(async move {
                let mut seen = Vec::new();
                loop {
                    let reply = send(&router, request("GET", &path, Some(&token), None)).await;
                    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
                    let order = &reply.body["data"];
                    let refund = order["refunds"][0]["status"].as_str().expect("refund").to_owned();
                    seen.push((
                        order["status"].as_str().expect("status").to_owned(),
                        line_statuses(order),
                        refund.clone(),
                    ));
                    if refund != "REQUESTED" {
                        return seen;
                    }
                }
            })
        })
        .collect();
    let settle = Runner::new(app.pool().clone(), SettleRefund);
    for (order_id, refund_id) in &refunds {
        assert_eq!(
            deliver(&settle, &refunded(order_id, refund_id, 2 * 1290 + 990)).await,
            Outcome::Ack
        );
    }

    let before = ("CONFIRMED", ["REFUND_REQUESTED", "REFUND_REQUESTED"], "REQUESTED");
    let after = ("REFUNDED", ["REFUNDED", "REFUNDED"], "SUCCEEDED");
    for reader in readers {
        for (status, lines, refund) in reader.await.expect("a reader") {
            let read = (
                status.as_str(),
                [lines[0].as_str(), lines[1].as_str()],
                refund.as_str(),
            );
            assert!(read == before || read == after, "a torn read: {read:?}");
        }
    }
    app.context.database.drop().await;
}

/// Who asks, for which order, under which key, with which body; the status and code expected.
type BadRequest<'a> = (Uuid, &'a str, Option<&'a str>, Value, StatusCode, &'a str);

#[tokio::test]
async fn bad_refund_requests_are_refused_with_stable_codes_and_write_nothing() {
    let app = App::spawn().await;
    let owner = Uuid::now_v7();
    let order_id = app.confirmed_order(owner).await;
    let before = app.rows().await;

    let cases: Vec<BadRequest> = vec![
        (
            owner,
            order_id.as_str(),
            None,
            json!({"lines": [0]}),
            StatusCode::BAD_REQUEST,
            "IDEMPOTENCY_KEY_REQUIRED",
        ),
        (
            owner,
            order_id.as_str(),
            Some("k"),
            json!({"lines": []}),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            owner,
            order_id.as_str(),
            Some("k"),
            json!({"lines": [-1]}),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            owner,
            order_id.as_str(),
            Some("k"),
            json!({"lines": [0, 0]}),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            owner,
            order_id.as_str(),
            Some("k k"),
            json!({"lines": [0]}),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            owner,
            order_id.as_str(),
            Some("k"),
            json!({"lines": [9]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "UNKNOWN_ORDER_LINE",
        ),
        (
            owner,
            "no-such-order",
            Some("k"),
            json!({"lines": [0]}),
            StatusCode::NOT_FOUND,
            "ORDER_NOT_FOUND",
        ),
        (
            owner,
            "%C3%A9t%C3%A9",
            Some("k"),
            json!({"lines": [0]}),
            StatusCode::NOT_FOUND,
            "ORDER_NOT_FOUND",
        ),
        (
            Uuid::now_v7(),
            order_id.as_str(),
            Some("k"),
            json!({"lines": [0]}),
            StatusCode::NOT_FOUND,
            "ORDER_NOT_FOUND",
        ),
    ];
    for (user, order, key, body, status, code) in cases {
        let (got, answer) = app.refund(user, order, key, body.clone()).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{body} → {answer}"
        );
    }
    for body in [
        json!({"lines": ["0"]}),
        json!({"lines": [0], "amount": 5}),
        json!({}),
    ] {
        let (got, answer) = app.refund(owner, &order_id, Some("k"), body.clone()).await;
        assert!(got.is_client_error(), "{body} → {got} {answer}");
    }

    // A placed order cannot be refunded yet, and a key is one request.
    let mut place = request(
        "POST",
        "/orders",
        Some(&app.token(owner)),
        Some(json!({"lines": [{"productId": "mug", "quantity": 1}], "paymentToken": "tok_approve"})),
    );
    place
        .headers_mut()
        .insert("idempotency-key", HeaderValue::from_static("place-2"));
    let placed = send(&app.context.router, place).await;
    let placed_id = placed.body["data"]["orderId"]
        .as_str()
        .expect("order id")
        .to_owned();
    let before_placed = app.rows().await;
    let (got, answer) = app
        .refund(owner, &placed_id, Some("k"), json!({"lines": [0]}))
        .await;
    assert_eq!(
        (got, answer["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("ORDER_NOT_REFUNDABLE"))
    );
    assert_eq!(app.rows().await, before_placed);
    assert_eq!(before.0, 0);

    let (got, _) = app
        .refund(owner, &order_id, Some("k"), json!({"lines": [0]}))
        .await;
    assert_eq!(got, StatusCode::ACCEPTED);
    let (got, answer) = app
        .refund(owner, &order_id, Some("k"), json!({"lines": [1]}))
        .await;
    assert_eq!(
        (got, answer["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("IDEMPOTENCY_KEY_REUSED"))
    );
    app.context.database.drop().await;
}

#[tokio::test]
async fn answers_for_unknown_refunds_or_with_another_amount_are_rejected_and_change_nothing() {
    let app = App::spawn().await;
    let user = Uuid::now_v7();
    let order_id = app.confirmed_order(user).await;
    let (_, body) = app
        .refund(user, &order_id, Some("r-1"), json!({"lines": [1]}))
        .await;
    let refund_id = body["data"]["refundId"].as_str().expect("refund id").to_owned();
    let settle = Runner::new(app.pool().clone(), SettleRefund);

    assert!(matches!(
        deliver(&settle, &refunded(&order_id, &Uuid::now_v7().to_string(), 990)).await,
        Outcome::Reject(_)
    ));
    assert!(matches!(
        deliver(&settle, &refunded(&order_id, &refund_id, 991)).await,
        Outcome::Reject(_)
    ));
    let order = app.order(user, &order_id).await;
    assert_eq!(order["status"], "CONFIRMED");
    assert_eq!(line_statuses(&order), ["ORDERED", "REFUND_REQUESTED"]);
    app.context.database.drop().await;
}
