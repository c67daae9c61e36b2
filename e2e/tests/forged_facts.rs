//! A saga fact posted straight to an event function, as anyone who can reach its port could,
//! does not move an order: the consumer checks who claims to have produced the fact and that
//! it agrees with the order, and refuses it (the trigger's 422, which a dispatcher would
//! dead-letter with the reason).
//!
//! Runs against the platform `local-stack/up` started, like the saga's other end-to-end tests.

use std::time::Duration;

use e2e::platform::function_url;
use e2e::shop::{Shop, order_id};
use events::EventType;
use events::payment::PaymentAuthorizedV1;
use reqwest::StatusCode;
use security::Role;
use serde_json::json;
use uuid::Uuid;

/// POSTs a `payment.authorized` in CloudEvents binary mode, as the dispatcher does.
async fn post_authorized(source: &str, order_id: &str, amount_minor: i64) -> StatusCode {
    let body = json!({"orderId": order_id, "paymentId": "forged", "amountMinor": amount_minor,
                      "currency": "EUR", "authorizationId": "forged"});
    reqwest::Client::new()
        .post(function_url("confirm-order"))
        .timeout(Duration::from_secs(30))
        .header("ce-specversion", "1.0")
        .header("ce-id", Uuid::now_v7().to_string())
        .header("ce-type", PaymentAuthorizedV1::NAME)
        .header("ce-source", source)
        .header("ce-subject", order_id)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("confirm-order answers")
        .status()
}

#[tokio::test]
async fn a_forged_payment_authorized_does_not_confirm_an_unpaid_order() {
    let shop = Shop::new();
    let cup = shop.product_in_stock(1290, 5).await;
    let customer = shop.token(Uuid::now_v7(), Role::Customer);
    // The gateway never answers this token: the order waits in PLACED while payment retries.
    let unpaid = order_id(&shop.place(&customer, "unpaid", &cup, 1, "tok_timeout").await);

    assert_eq!(
        post_authorized("mallory", &unpaid, 1290).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a fact that does not come from payment is refused"
    );
    assert_eq!(
        post_authorized("commerce/payment/authorize-payment", &unpaid, 1).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a payment for less than the order's total is refused"
    );

    let settled = shop.settled(&customer, &unpaid).await;
    assert_eq!(
        (&settled["status"], &settled["cancelReason"]),
        (&json!("CANCELLED"), &json!("payment-declined")),
        "the order ends as its real payment did: {settled}"
    );
    assert_eq!(shop.stock_at_rest(&cup).await, (5, 0), "and its stock is back");
}
