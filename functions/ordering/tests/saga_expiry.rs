//! An unpaid order expires on the running local stack: a `place-order` of its own, started
//! with a 2-second payment deadline, takes an order whose card never answers; the stack's
//! `expire-orders` sweep (run now, as the scheduler would every minute) cancels it as
//! `payment-expired`, and inventory releases its stock.
//!
//! In its own test binary because it starts a process of its own beside the stack's.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use security::Role;
use serde_json::json;
use support::{Shop, function_ports, order_id, repository, stack_home, stack_setting};
use uuid::Uuid;

/// The payment deadline of the private `place-order`.
const PAYMENT_TIMEOUT_SECONDS: u64 = 2;

/// A function process of the test, killed when dropped.
struct OwnFunction(Child);

impl Drop for OwnFunction {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

#[tokio::test]
async fn an_order_left_unpaid_past_its_deadline_is_cancelled_and_its_stock_released() {
    let shop = Shop::new();
    let cup = shop.product_in_stock(800, 4).await;

    let port = free_port();
    let keys = stack_home().join("keys");
    let place_order = OwnFunction(
        Command::new(repository().join("target/debug/place-order"))
            .env("PORT", port.to_string())
            .env("FUNCTION_NAME", "place-order")
            .env(
                "DATABASE_URL",
                stack_setting("ORDERING_DATABASE_URL").expect("ORDERING_DATABASE_URL"),
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
            .env("JWT_SIGNING_KEYS_FILE", keys.join("signing-keys.json"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .spawn()
            .expect("place-order starts (local-stack/up builds it)"),
    );
    let client = reqwest::Client::new();
    let started = Instant::now();
    while !client
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .is_ok_and(|response| response.status().is_success())
    {
        assert!(
            started.elapsed() < support::SETTLE_DEADLINE,
            "the private place-order did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The simulated gateway never answers this card; payment would decline only after its
    // retries (5 × 3 s), long after the order's deadline.
    let customer = shop.token(Uuid::now_v7(), Role::Customer);
    let own = shop.at(format!("http://127.0.0.1:{port}"));
    let placed_at = Instant::now();
    let order = order_id(&own.place(&customer, "unpaid", &cup, 3, "tok_timeout").await);

    // The sweep, as the scheduler runs it, until the order is past its deadline and expired.
    let expire_orders = format!("http://127.0.0.1:{}/run", function_ports()["expire-orders"]);
    let expired = loop {
        let sweep = client
            .post(&expire_orders)
            .send()
            .await
            .expect("expire-orders answers");
        assert!(sweep.status().is_success(), "expire-orders: {}", sweep.status());
        let answer = shop
            .send(
                reqwest::Method::GET,
                &format!("/orders/{order}"),
                Some(&customer),
                None,
                None,
            )
            .await;
        if answer.body["data"]["status"] != "PLACED" || placed_at.elapsed() > support::SETTLE_DEADLINE {
            break answer.body["data"].clone();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
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
}
