//! The order saga end to end on the running local stack: HTTP through the gateway, the
//! functions `local-stack/up` started from template.yaml, the outbox relay, Kafka and the
//! trigger dispatcher (and the replay tool). Nothing is faked; every wait polls the public API
//! with a deadline.
//!
//! Tokens are signed with the stack's own signing keys (`$STACK_HOME/keys`), so the test needs
//! no account. The gateway's port comes from `GATEWAY_PORT` or the stack's `stack.env`, so the
//! test follows a stack started on other ports. Each test uses products of its own, so it can
//! run again on the same stack.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use security::{Role, SigningKeys, TokenIssuer};
use serde_json::{Value, json};
use uuid::Uuid;

/// How long the saga may take to settle an order on a laptop's stack.
const SETTLE_DEADLINE: Duration = Duration::from_secs(90);

fn stack_home() -> PathBuf {
    std::env::var_os("STACK_HOME").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../local-stack/var"),
        PathBuf::from,
    )
}

fn stack_setting(name: &str) -> Option<String> {
    std::env::var(name).ok().or_else(|| {
        let settings = std::fs::read_to_string(stack_home().join("stack.env")).ok()?;
        let prefix = format!("{name}=");
        settings
            .lines()
            .find_map(|line| line.strip_prefix(prefix.as_str()))
            .map(str::to_owned)
    })
}

struct Shop {
    client: reqwest::Client,
    base: String,
    issuer: TokenIssuer,
}

struct Answer {
    status: StatusCode,
    body: Value,
}

impl Shop {
    fn new() -> Self {
        let keys = SigningKeys::from_file(&stack_home().join("keys/signing-keys.json"))
            .expect("the stack's signing keys (is local-stack/up running?)");
        let issuer = TokenIssuer::new(
            keys,
            std::env::var("JWT_ISSUER").unwrap_or_else(|_| "https://identity.commerce.local".to_owned()),
            std::env::var("JWT_AUDIENCE").unwrap_or_else(|_| "commerce".to_owned()),
            Duration::from_secs(600),
        );
        Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            base: format!(
                "http://127.0.0.1:{}",
                stack_setting("GATEWAY_PORT").as_deref().unwrap_or("8080")
            ),
            issuer,
        }
    }

    fn token(&self, user: Uuid, role: Role) -> String {
        self.issuer.issue(user, &[role]).expect("token").token
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|error| panic!("the gateway at {} answers: {error}", self.base));
        let status = response.status();
        let bytes = response.bytes().await.expect("a body");
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// A new product with `units` in stock, as an admin would set it up.
    async fn product_in_stock(&self, price_minor: i64, units: i64) -> String {
        let admin = self.token(Uuid::now_v7(), Role::Admin);
        let product_id = format!("e2e-{}", Uuid::now_v7().simple());
        let created = self
            .send(
                Method::POST,
                "/admin/products",
                Some(&admin),
                None,
                Some(
                    json!({"productId": product_id, "name": "End-to-end cup", "priceMinor": price_minor,
                            "currency": "EUR"}),
                ),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let stocked = self
            .send(
                Method::PUT,
                &format!("/admin/inventory/{product_id}"),
                Some(&admin),
                None,
                Some(json!({"onHand": units})),
            )
            .await;
        assert_eq!(stocked.status, StatusCode::OK, "{}", stocked.body);
        product_id
    }

    /// Places an order the way a well-behaved client does: while ordering has not yet seen the
    /// product (the catalog event is on its way through the relay and Kafka) place-order
    /// answers UNKNOWN_PRODUCT, and under a rush it may answer 503 SERVICE_BUSY; both are
    /// asked again, with the same Idempotency-Key, until the deadline.
    async fn place(
        &self,
        token: &str,
        key: &str,
        product_id: &str,
        quantity: u32,
        payment_token: &str,
    ) -> Answer {
        let body = json!({"lines": [{"productId": product_id, "quantity": quantity}], "paymentToken": payment_token});
        let started = Instant::now();
        loop {
            let answer = self
                .send(
                    Method::POST,
                    "/orders",
                    Some(token),
                    Some(key),
                    Some(body.clone()),
                )
                .await;
            let again = answer.body["error"]["code"] == "UNKNOWN_PRODUCT"
                || answer.status == StatusCode::SERVICE_UNAVAILABLE;
            if !again || started.elapsed() > SETTLE_DEADLINE {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The order once it left PLACED (or as it is at the deadline).
    async fn settled(&self, token: &str, order_id: &str) -> Value {
        let started = Instant::now();
        loop {
            let answer = self
                .send(
                    Method::GET,
                    &format!("/orders/{order_id}"),
                    Some(token),
                    None,
                    None,
                )
                .await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
            if answer.body["data"]["status"] != "PLACED" || started.elapsed() > SETTLE_DEADLINE {
                return answer.body["data"].clone();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// (onHand, reserved) of a SKU once nothing is reserved any more (or at the deadline).
    async fn stock_at_rest(&self, sku: &str) -> (i64, i64) {
        let started = Instant::now();
        loop {
            let answer = self
                .send(Method::GET, &format!("/inventory/{sku}"), None, None, None)
                .await;
            let on_hand = answer.body["data"]["onHand"].as_i64().unwrap_or(-1);
            let reserved = answer.body["data"]["reserved"].as_i64().unwrap_or(-1);
            if reserved == 0 || started.elapsed() > SETTLE_DEADLINE {
                return (on_hand, reserved);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn order_id(answer: &Answer) -> String {
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    answer.body["data"]["orderId"]
        .as_str()
        .expect("an order id")
        .to_owned()
}

#[tokio::test]
async fn a_paid_order_is_confirmed_a_declined_one_and_an_oversized_one_are_cancelled() {
    let shop = Shop::new();
    let cup = shop.product_in_stock(1290, 10).await;
    let customer = shop.token(Uuid::now_v7(), Role::Customer);

    let paid = order_id(&shop.place(&customer, "paid", &cup, 2, "tok_approve").await);
    let declined = order_id(&shop.place(&customer, "declined", &cup, 1, "tok_decline").await);
    let too_many = order_id(&shop.place(&customer, "too-many", &cup, 11, "tok_approve").await);
    let flaky = order_id(&shop.place(&customer, "flaky", &cup, 1, "tok_flaky").await);

    let paid = shop.settled(&customer, &paid).await;
    assert_eq!(paid["status"], "CONFIRMED", "{paid}");
    assert_eq!(paid["totalMinor"], 2580, "priced by ordering, in minor units");
    let declined = shop.settled(&customer, &declined).await;
    assert_eq!(
        (&declined["status"], &declined["cancelReason"]),
        (&json!("CANCELLED"), &json!("payment-declined"))
    );
    let too_many = shop.settled(&customer, &too_many).await;
    assert_eq!(
        (&too_many["status"], &too_many["cancelReason"]),
        (&json!("CANCELLED"), &json!("out-of-stock"))
    );
    let flaky = shop.settled(&customer, &flaky).await;
    assert_eq!(
        flaky["status"], "CONFIRMED",
        "a flaky gateway is retried: {flaky}"
    );

    // Sold: 2 + 1; the declined unit went back, the oversized order never held any.
    assert_eq!(shop.stock_at_rest(&cup).await, (7, 0));
}

#[tokio::test]
async fn two_hundred_concurrent_orders_for_fifty_units_confirm_exactly_fifty() {
    let shop = Shop::new();
    let cup = shop.product_in_stock(500, 50).await;
    // Ordering must know the product before the rush; one probe order settles that.
    let probe_customer = shop.token(Uuid::now_v7(), Role::Customer);
    let probe = shop.place(&probe_customer, "probe", &cup, 1, "tok_decline").await;
    shop.settled(&probe_customer, &order_id(&probe)).await;

    let shop = std::sync::Arc::new(shop);
    let orders: Vec<_> = (0..200)
        .map(|n| {
            let shop = std::sync::Arc::clone(&shop);
            let cup = cup.clone();
            tokio::spawn(async move {
                let customer = shop.token(Uuid::now_v7(), Role::Customer);
                let placed = shop
                    .place(&customer, &format!("rush-{n}"), &cup, 1, "tok_approve")
                    .await;
                (customer, order_id(&placed))
            })
        })
        .collect();
    let mut placed = Vec::new();
    for order in futures::future::join_all(orders).await {
        placed.push(order.expect("task"));
    }

    let mut confirmed = 0;
    let mut out_of_stock = 0;
    for (customer, order_id) in &placed {
        let order = shop.settled(customer, order_id).await;
        match (order["status"].as_str(), order["cancelReason"].as_str()) {
            (Some("CONFIRMED"), _) => confirmed += 1,
            (Some("CANCELLED"), Some("out-of-stock")) => out_of_stock += 1,
            other => panic!("order {order_id} ended as {other:?}"),
        }
    }
    assert_eq!((confirmed, out_of_stock), (50, 150));
    assert_eq!(
        shop.stock_at_rest(&cup).await,
        (0, 0),
        "all fifty sold, none oversold"
    );
}

#[tokio::test]
async fn a_hanging_payment_ends_declined_and_a_customer_may_cancel_while_it_hangs() {
    let shop = Shop::new();
    let cup = shop.product_in_stock(990, 5).await;
    let customer = shop.token(Uuid::now_v7(), Role::Customer);

    // The gateway never answers: payment retries a few times, then declines.
    let hanging = order_id(&shop.place(&customer, "hanging", &cup, 2, "tok_timeout").await);
    // The same kind of order, cancelled by its customer while payment is still trying.
    let cancelled = order_id(&shop.place(&customer, "cancelled", &cup, 1, "tok_timeout").await);
    let answer = shop
        .send(
            Method::POST,
            &format!("/orders/{cancelled}/cancel"),
            Some(&customer),
            None,
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);

    let hanging = shop.settled(&customer, &hanging).await;
    assert_eq!(
        (&hanging["status"], &hanging["cancelReason"]),
        (&json!("CANCELLED"), &json!("payment-declined"))
    );
    let cancelled = shop.settled(&customer, &cancelled).await;
    assert_eq!(
        (&cancelled["status"], &cancelled["cancelReason"]),
        (&json!("CANCELLED"), &json!("customer-cancelled"))
    );
    let again = shop
        .send(
            Method::POST,
            &format!(
                "/orders/{}/cancel",
                cancelled["orderId"].as_str().unwrap_or_default()
            ),
            Some(&customer),
            None,
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "cancelling twice is harmless");
    assert_eq!(
        shop.stock_at_rest(&cup).await,
        (5, 0),
        "nothing sold, everything released"
    );
}

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The local port of every function, as `stackctl plan` assigns them.
fn function_ports() -> std::collections::HashMap<String, String> {
    let base_port = stack_setting("FUNCTION_BASE_PORT").unwrap_or_else(|| "8100".to_owned());
    let plan = std::process::Command::new(repository().join("target/debug/stackctl"))
        .args(["plan", "--base-port", &base_port, "--template"])
        .arg(repository().join("template.yaml"))
        .output()
        .expect("stackctl plan runs (local-stack/up builds it)");
    String::from_utf8_lossy(&plan.stdout)
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.first() == Some(&"function")).then(|| (fields[1].to_owned(), fields[3].to_owned()))
        })
        .collect()
}

/// Re-delivers one order's records of `topic` to `function` with the platform's replay tool
/// and answers how many it acknowledged and dead-lettered.
fn replay(
    ports: &std::collections::HashMap<String, String>,
    function: &str,
    topic: &str,
    order_id: &str,
) -> (u64, u64) {
    let output = std::process::Command::new(repository().join("target/debug/replay"))
        .args([
            "--function",
            function,
            "--topic",
            topic,
            "--key",
            order_id,
            "--target",
        ])
        .arg(format!("http://127.0.0.1:{}/", ports[function]))
        .args([
            "--bootstrap-servers",
            &stack_setting("KAFKA_BOOTSTRAP_SERVERS").expect("KAFKA_BOOTSTRAP_SERVERS"),
        ])
        .output()
        .expect("replay runs (local-stack/up builds it)");
    let summary = String::from_utf8_lossy(&output.stdout);
    let count = |field: &str| {
        summary
            .lines()
            .find_map(|line| line.trim().strip_prefix(field))
            .and_then(|rest| rest.trim_end_matches(',').trim().parse().ok())
            .unwrap_or_else(|| panic!("replay printed no {field} for {function}: {summary}"))
    };
    (count("acknowledged:"), count("dead_lettered:"))
}

#[tokio::test]
async fn replaying_every_event_of_a_finished_order_changes_nothing() {
    let shop = Shop::new();
    let cup = shop.product_in_stock(700, 3).await;
    let customer = shop.token(Uuid::now_v7(), Role::Customer);
    let order = order_id(&shop.place(&customer, "replayed", &cup, 2, "tok_approve").await);
    assert_eq!(shop.settled(&customer, &order).await["status"], "CONFIRMED");
    assert_eq!(shop.stock_at_rest(&cup).await, (1, 0));
    // Payment may still be capturing; a replayed event it has not seen yet carries the same
    // event id as the live one, so whichever comes second is a duplicate either way.

    let ports = function_ports();
    let subscriptions = [
        ("reserve-stock", "commerce.ordering.order"),
        ("release-stock", "commerce.ordering.order"),
        ("commit-stock", "commerce.ordering.order"),
        ("authorize-payment", "commerce.ordering.order"),
        ("authorize-payment", "commerce.inventory.stock"),
        ("capture-payment", "commerce.ordering.order"),
        ("void-payment", "commerce.ordering.order"),
        ("confirm-order", "commerce.payment.payment"),
        ("cancel-order", "commerce.payment.payment"),
        ("cancel-order", "commerce.inventory.stock"),
    ];
    let mut delivered = 0;
    for (function, topic) in subscriptions {
        let (acknowledged, dead_lettered) = replay(&ports, function, topic, &order);
        assert_eq!(dead_lettered, 0, "{function} on {topic}");
        delivered += acknowledged;
    }

    assert!(
        delivered >= 10,
        "the order's events were delivered again ({delivered})"
    );
    let after = shop.settled(&customer, &order).await;
    assert_eq!(after["status"], "CONFIRMED");
    assert_eq!(
        after["history"].as_array().map(Vec::len),
        Some(2),
        "no new status change"
    );
    assert_eq!(
        shop.stock_at_rest(&cup).await,
        (1, 0),
        "nothing reserved, released or sold twice"
    );
}
