//! The refund saga end to end on the running local stack: refund requests through the
//! gateway, `refund-payment` at the simulated gateway, `settle-refund`, `restock-refund`, the
//! outbox relay, Kafka and the trigger dispatcher (and the replay tool). Nothing is faked;
//! every wait polls the public API with a deadline. Each test uses products of its own, so it
//! can run again on the same stack.

use e2e::platform::replay;
use e2e::refunds::{line_statuses, refund_id};
use e2e::shop::{Shop, order_id};
use reqwest::{Method, StatusCode};
use security::Role;
use serde_json::json;
use uuid::Uuid;

/// A confirmed order of two cups (line 0) and one mug (line 1), paid with `payment_token`.
async fn confirmed_order(
    shop: &Shop,
    customer: &str,
    key: &str,
    cup: &str,
    mug: &str,
    payment_token: &str,
) -> String {
    let placed = shop
        .place_lines(customer, key, &[(cup, 2), (mug, 1)], payment_token)
        .await;
    let order = order_id(&placed);
    let settled = shop.settled(customer, &order).await;
    assert_eq!(settled["status"], "CONFIRMED", "{settled}");
    order
}

#[tokio::test]
async fn an_owner_refunds_an_order_line_by_line_and_the_units_come_back_on_hand() {
    let shop = Shop::new();
    let cup = shop.product_in_stock(1290, 10).await;
    let mug = shop.product_in_stock(990, 5).await;
    let customer = shop.token(Uuid::now_v7(), Role::Customer);
    let order = confirmed_order(&shop, &customer, "refund-me", &cup, &mug, "tok_approve").await;
    assert_eq!(shop.stock_at_rest(&cup).await, (8, 0));

    let first = refund_id(&shop.refund(&customer, &order, "refund-cups", &[0]).await);
    let settled = shop.refunds_settled(&customer, &order).await;
    assert_eq!(settled["status"], "PARTIALLY_REFUNDED", "{settled}");
    assert_eq!(line_statuses(&settled), ["REFUNDED", "ORDERED"]);
    assert_eq!(settled["refunds"][0]["refundId"], first.as_str());
    assert_eq!(settled["refunds"][0]["amountMinor"], 2 * 1290);
    assert_eq!(shop.on_hand_reaching(&cup, 10).await, 10, "both cups are back");

    let replayed = shop.refund(&customer, &order, "refund-cups", &[0]).await;
    assert_eq!(
        refund_id(&replayed),
        first,
        "a retried request answers the same refund"
    );
    let again = shop.refund(&customer, &order, "refund-cups-again", &[0]).await;
    assert_eq!(
        (again.status, &again.body["error"]["code"]),
        (StatusCode::CONFLICT, &json!("LINE_ALREADY_REFUNDED"))
    );

    refund_id(&shop.refund(&customer, &order, "refund-mug", &[1]).await);
    let settled = shop.refunds_settled(&customer, &order).await;
    assert_eq!(settled["status"], "REFUNDED", "{settled}");
    assert_eq!(line_statuses(&settled), ["REFUNDED", "REFUNDED"]);
    let moves: Vec<_> = settled["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|change| change["to"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(moves, ["PLACED", "CONFIRMED", "PARTIALLY_REFUNDED", "REFUNDED"]);
    assert_eq!(shop.on_hand_reaching(&mug, 5).await, 5);
    assert_eq!(
        shop.on_hand_reaching(&cup, 10).await,
        10,
        "returned once, not twice"
    );
}

#[tokio::test]
async fn bad_refund_requests_through_the_gateway_get_stable_codes_and_change_nothing() {
    let shop = Shop::new();
    let cup = shop.product_in_stock(500, 10).await;
    let mug = shop.product_in_stock(300, 10).await;
    let owner = shop.token(Uuid::now_v7(), Role::Customer);
    let stranger = shop.token(Uuid::now_v7(), Role::Customer);
    let order = confirmed_order(&shop, &owner, "bad-refunds", &cup, &mug, "tok_approve").await;
    let path = format!("/orders/{order}/refunds");

    let cases = [
        (
            None,
            Some(&owner),
            json!({"lines": [0]}),
            StatusCode::BAD_REQUEST,
            "IDEMPOTENCY_KEY_REQUIRED",
        ),
        (
            Some("k"),
            Some(&owner),
            json!({"lines": []}),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            Some("k"),
            Some(&owner),
            json!({"lines": [0, 0]}),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            Some("k"),
            Some(&owner),
            json!({"lines": [7]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "UNKNOWN_ORDER_LINE",
        ),
        (
            Some("k"),
            Some(&stranger),
            json!({"lines": [0]}),
            StatusCode::NOT_FOUND,
            "ORDER_NOT_FOUND",
        ),
    ];
    for (key, token, body, status, code) in cases {
        let answer = shop
            .send(
                Method::POST,
                &path,
                token.map(String::as_str),
                key,
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (answer.status, answer.body["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
    let anonymous = shop
        .send(Method::POST, &path, None, Some("k"), Some(json!({"lines": [0]})))
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    let declined = order_id(&shop.place(&owner, "never-paid", &cup, 1, "tok_decline").await);
    shop.settled(&owner, &declined).await;
    let answer = shop.refund(&owner, &declined, "k", &[0]).await;
    assert_eq!(
        (answer.status, answer.body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("ORDER_NOT_REFUNDABLE"))
    );

    let untouched = shop.settled(&owner, &order).await;
    assert_eq!(untouched["status"], "CONFIRMED");
    assert_eq!(line_statuses(&untouched), ["ORDERED", "ORDERED"]);
    assert_eq!(untouched["refunds"], json!([]));
}

#[tokio::test]
async fn a_refund_the_gateway_refuses_or_never_answers_fails_with_its_reason_and_the_line_stays_refundable() {
    let shop = Shop::new();
    let cup = shop.product_in_stock(800, 10).await;
    let mug = shop.product_in_stock(200, 10).await;
    let customer = shop.token(Uuid::now_v7(), Role::Customer);
    let refused = confirmed_order(&shop, &customer, "refused", &cup, &mug, "tok_refund_decline").await;
    let hanging = confirmed_order(&shop, &customer, "hanging", &cup, &mug, "tok_refund_timeout").await;

    refund_id(&shop.refund(&customer, &refused, "r", &[0]).await);
    refund_id(&shop.refund(&customer, &hanging, "h", &[1]).await);

    for (order, reason) in [(&refused, "refund-declined"), (&hanging, "gateway-unavailable")] {
        let settled = shop.refunds_settled(&customer, order).await;
        assert_eq!(settled["status"], "CONFIRMED", "{settled}");
        assert_eq!(line_statuses(&settled), ["ORDERED", "ORDERED"]);
        assert_eq!(
            (
                &settled["refunds"][0]["status"],
                &settled["refunds"][0]["failureReason"]
            ),
            (&json!("FAILED"), &json!(reason))
        );
    }
    assert_eq!(shop.stock_at_rest(&cup).await, (6, 0), "nothing came back");
    assert_eq!(shop.stock_at_rest(&mug).await, (8, 0));
    // The line may be asked for again (and fails again, for the same card).
    refund_id(&shop.refund(&customer, &refused, "r-again", &[0]).await);
}

#[tokio::test]
async fn concurrent_refunds_of_one_line_refund_it_once_and_of_every_line_refund_the_whole_order() {
    let shop = std::sync::Arc::new(Shop::new());
    let cup = shop.product_in_stock(650, 20).await;
    let mug = shop.product_in_stock(350, 20).await;
    let customer = shop.token(Uuid::now_v7(), Role::Customer);
    let order = confirmed_order(&shop, &customer, "contested", &cup, &mug, "tok_approve").await;

    let racers: Vec<_> = (0..10)
        .map(|n| {
            let (shop, customer, order) = (std::sync::Arc::clone(&shop), customer.clone(), order.clone());
            // Half the racers ask for line 0 alone, half for both lines.
            let lines: &'static [u32] = if n % 2 == 0 { &[0] } else { &[0, 1] };
            tokio::spawn(async move { shop.refund(&customer, &order, &format!("race-{n}"), lines).await })
        })
        .collect();
    let mut accepted = 0;
    for racer in futures::future::join_all(racers).await {
        let answer = racer.expect("a racer");
        match answer.status {
            StatusCode::ACCEPTED => accepted += 1,
            StatusCode::CONFLICT => assert!(
                [
                    "REFUND_IN_PROGRESS",
                    "LINE_ALREADY_REFUNDED",
                    "ORDER_NOT_REFUNDABLE"
                ]
                .contains(&answer.body["error"]["code"].as_str().unwrap_or_default()),
                "{}",
                answer.body
            ),
            other => panic!("{other}: {}", answer.body),
        }
    }
    assert!(
        (1..=2).contains(&accepted),
        "line 0 is taken by one refund at a time: {accepted}"
    );

    let mut settled = shop.refunds_settled(&customer, &order).await;
    if settled["status"] != "REFUNDED" {
        refund_id(&shop.refund(&customer, &order, "the-rest", &[1]).await);
        settled = shop.refunds_settled(&customer, &order).await;
    }
    assert_eq!(settled["status"], "REFUNDED", "{settled}");
    let refunded: i64 = settled["refunds"]
        .as_array()
        .expect("refunds")
        .iter()
        .filter(|refund| refund["status"] == "SUCCEEDED")
        .map(|refund| refund["amountMinor"].as_i64().unwrap_or_default())
        .sum();
    assert_eq!(
        refunded,
        settled["totalMinor"].as_i64().unwrap_or(-1),
        "refunded exactly what was paid"
    );
    assert_eq!(shop.on_hand_reaching(&cup, 20).await, 20);
    assert_eq!(shop.on_hand_reaching(&mug, 20).await, 20);
}

#[tokio::test]
async fn replaying_every_event_of_a_refunded_order_changes_nothing() {
    let shop = Shop::new();
    let cup = shop.product_in_stock(440, 6).await;
    let mug = shop.product_in_stock(220, 6).await;
    let customer = shop.token(Uuid::now_v7(), Role::Customer);
    let order = confirmed_order(&shop, &customer, "replayed-refund", &cup, &mug, "tok_approve").await;
    refund_id(&shop.refund(&customer, &order, "replayed", &[0]).await);
    let before = shop.refunds_settled(&customer, &order).await;
    assert_eq!(before["status"], "PARTIALLY_REFUNDED");
    assert_eq!(shop.on_hand_reaching(&cup, 6).await, 6);

    let subscriptions = [
        ("refund-payment", "commerce.ordering.order"),
        ("settle-refund", "commerce.payment.payment"),
        ("restock-refund", "commerce.ordering.order"),
        ("capture-payment", "commerce.ordering.order"),
        ("commit-stock", "commerce.ordering.order"),
    ];
    let mut delivered = 0;
    for (function, topic) in subscriptions {
        let replayed = replay(function, topic, &["--key", &order]);
        assert_eq!(replayed.dead_lettered, 0, "{function} on {topic}");
        delivered += replayed.acknowledged;
    }
    assert!(
        delivered >= 5,
        "the order's events were delivered again ({delivered})"
    );

    let after = shop.refunds_settled(&customer, &order).await;
    assert_eq!(after["status"], "PARTIALLY_REFUNDED");
    assert_eq!(after["history"], before["history"], "no new status change");
    assert_eq!(after["refunds"], before["refunds"]);
    assert_eq!(shop.stock_at_rest(&cup).await, (6, 0), "the cups came back once");
    assert_eq!(shop.stock_at_rest(&mug).await, (5, 0));
}
