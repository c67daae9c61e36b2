//! The order saga end to end on the running local stack: HTTP through the gateway, the
//! functions `local-stack/up` started from template.yaml, the outbox relay, Kafka and the
//! trigger dispatcher (and the replay tool). Nothing is faked; every wait polls the public API
//! with a deadline.
//!
//! Tokens are signed with the stack's own signing keys (`$STACK_HOME/keys`), so the test needs
//! no account. The gateway's port comes from `GATEWAY_PORT` or the stack's `stack.env`, so the
//! test follows a stack started on other ports. Each test uses products of its own, so it can
//! run again on the same stack.

use e2e::platform::replay;
use e2e::shop::{Shop, order_id};
use reqwest::{Method, StatusCode};
use security::Role;
use serde_json::json;
use uuid::Uuid;

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

    // The order page's steps between PLACED and the end, each with its time.
    let names = |steps: &[(String, String)]| steps.iter().map(|(name, _)| name.clone()).collect::<Vec<_>>();
    let paid_steps = shop
        .steps(&customer, paid["orderId"].as_str().expect("id"), 2)
        .await;
    assert_eq!(names(&paid_steps), ["STOCK_RESERVED", "PAYMENT_AUTHORIZED"]);
    let placed_at = paid["createdAt"].as_str().expect("created at");
    for (name, at) in &paid_steps {
        let (at, placed_at) = (parse_time(at), parse_time(placed_at));
        assert!(
            at >= placed_at,
            "{name} at {at}, before the order was placed at {placed_at}"
        );
    }
    let declined_steps = shop
        .steps(&customer, declined["orderId"].as_str().expect("id"), 1)
        .await;
    assert_eq!(
        names(&declined_steps),
        ["STOCK_RESERVED"],
        "stock held, payment declined"
    );
    let too_many_steps = shop
        .steps(&customer, too_many["orderId"].as_str().expect("id"), 0)
        .await;
    assert!(too_many_steps.is_empty(), "nothing reserved: {too_many_steps:?}");
}

fn parse_time(at: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(at)
        .expect("an RFC 3339 time")
        .to_utc()
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
        let replayed = replay(function, topic, &["--key", &order]);
        assert_eq!(replayed.dead_lettered, 0, "{function} on {topic}");
        delivered += replayed.acknowledged;
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
