//! An unpaid order expires on the running local stack: a `place-order` of its own, started
//! with a 2-second payment deadline, takes an order whose card never answers; the stack's
//! `expire-orders` sweep (run now, as the scheduler would every minute) cancels it as
//! `payment-expired`, and inventory releases its stock.
//!
//! In its own test binary because it starts a process of its own beside the stack's.

use std::process::Command;
use std::time::{Duration, Instant};

use e2e::platform::function_url;
use e2e::shop::{SETTLE_DEADLINE, Shop, order_id};
use security::Role;
use serde_json::json;
use testkit::poll::Polling;
use testkit::serve::ServedBinary;
use testkit::stack;
use uuid::Uuid;

/// The payment deadline of the private `place-order`.
const PAYMENT_TIMEOUT_SECONDS: u64 = 2;

#[tokio::test]
async fn an_order_left_unpaid_past_its_deadline_is_cancelled_and_its_stock_released() {
    let shop = Shop::new();
    let cup = shop.product_in_stock(800, 4).await;

    let keys = stack::home().join("keys");
    let mut command = Command::new(stack::binary("place-order"));
    command
        .env("FUNCTION_NAME", "place-order")
        .env(
            "DATABASE_URL",
            stack::setting("ORDERING_DATABASE_URL").expect("ORDERING_DATABASE_URL"),
        )
        .env(
            "ORDER_PAYMENT_TIMEOUT_SECONDS",
            PAYMENT_TIMEOUT_SECONDS.to_string(),
        )
        .env(
            "JWT_ISSUER",
            std::env::var("JWT_ISSUER").unwrap_or_else(|_| "https://identity.commerce.local".to_owned()),
        )
        .env(
            "JWT_AUDIENCE",
            std::env::var("JWT_AUDIENCE").unwrap_or_else(|_| "commerce".to_owned()),
        )
        .env("JWT_JWKS_FILE", keys.join("jwks.json"))
        .env("JWT_SIGNING_KEYS_FILE", keys.join("signing-keys.json"));
    // On a port it picks itself, so no other process can be listening there instead.
    let place_order = ServedBinary::start(command).await;
    let client = reqwest::Client::new();

    // The simulated gateway never answers this card; payment would decline only after its
    // retries (5 × 3 s), long after the order's deadline.
    let customer = shop.token(Uuid::now_v7(), Role::Customer);
    let own = shop.at(place_order.url());
    let placed_at = Instant::now();
    let placed_at_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let order = order_id(&own.place(&customer, "unpaid", &cup, 3, "tok_timeout").await);

    // The sweep, as the scheduler runs it, until the order is past its deadline and expired.
    let expire_orders = format!("{}run", function_url("expire-orders"));
    let order_path = format!("/orders/{order}");
    let expired = Polling::new(SETTLE_DEADLINE, Duration::from_millis(250))
        .until(
            || async {
                let sweep = client
                    .post(&expire_orders)
                    .send()
                    .await
                    .expect("expire-orders answers");
                assert!(sweep.status().is_success(), "expire-orders: {}", sweep.status());
                let answer = shop
                    .send(reqwest::Method::GET, &order_path, Some(&customer), None, None)
                    .await;
                answer.body["data"].clone()
            },
            |order| order["status"] != "PLACED",
        )
        .await;
    let waited = placed_at.elapsed();
    drop(place_order);

    assert_eq!(
        (&expired["status"], &expired["cancelReason"]),
        (&json!("CANCELLED"), &json!("payment-expired")),
        "{expired}"
    );
    assert!(
        waited >= Duration::from_secs(PAYMENT_TIMEOUT_SECONDS),
        "not expired before its deadline ({waited:?})"
    );
    assert_eq!(
        shop.stock_at_rest(&cup).await,
        (4, 0),
        "the expired order's units are back on the shelf"
    );

    // What the alerts watch (OrdersStuckInPlaced, OrderExpirySweepNotRunning): the sweep's
    // figures on the function's own /metrics.
    let metrics = client
        .get(format!("{}metrics", function_url("expire-orders")))
        .send()
        .await
        .expect("expire-orders serves /metrics")
        .text()
        .await
        .expect("metrics text");
    let value = |name: &str| {
        metrics.lines().find_map(|line| {
            line.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|number| number.trim().parse::<f64>().ok())
        })
    };
    assert!(
        value("ordering_orders_expired_total").unwrap_or(0.0) >= 1.0,
        "{metrics}"
    );
    assert_eq!(value("ordering_orders_overdue"), Some(0.0), "{metrics}");
    assert!(
        value("ordering_expire_orders_last_sweep_timestamp_seconds").unwrap_or(0.0) >= placed_at_epoch as f64,
        "{metrics}"
    );
}
