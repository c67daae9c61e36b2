//! The refund saga from the storefront's side: orders of several lines placed through the
//! gateway, refund requests, and waiting (by polling the public API with a deadline) until
//! payment's answer has settled every refund of an order.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::shop::{Answer, SETTLE, Shop};

impl Shop {
    /// Places an order of `lines` (SKU, quantity), asked again with the same key while ordering
    /// has not seen a product yet or is busy; [`Shop::place`] is the one-line case.
    pub async fn place_lines(
        &self,
        token: &str,
        key: &str,
        lines: &[(&str, u32)],
        payment_token: &str,
    ) -> Answer {
        let lines: Vec<Value> = lines
            .iter()
            .map(|(product_id, quantity)| json!({"productId": product_id, "quantity": quantity}))
            .collect();
        let body = json!({"lines": lines, "paymentToken": payment_token});
        SETTLE
            .until(
                || {
                    self.send(
                        Method::POST,
                        "/orders",
                        Some(token),
                        Some(key),
                        Some(body.clone()),
                    )
                },
                |answer| {
                    answer.body["error"]["code"] != "UNKNOWN_PRODUCT"
                        && answer.status != StatusCode::SERVICE_UNAVAILABLE
                },
            )
            .await
    }

    /// `POST /orders/{id}/refunds` of whole lines, by their line numbers.
    pub async fn refund(&self, token: &str, order_id: &str, key: &str, lines: &[u32]) -> Answer {
        self.send(
            Method::POST,
            &format!("/orders/{order_id}/refunds"),
            Some(token),
            Some(key),
            Some(json!({"lines": lines})),
        )
        .await
    }

    /// Like [`Shop::refund`], but a request that got no answer is an error, not a panic (for
    /// tests that kill processes while they ask).
    pub async fn try_refund(
        &self,
        token: &str,
        order_id: &str,
        key: &str,
        lines: &[u32],
    ) -> Result<Answer, reqwest::Error> {
        self.try_send(
            Method::POST,
            &format!("/orders/{order_id}/refunds"),
            Some(token),
            Some(key),
            Some(json!({"lines": lines})),
        )
        .await
    }

    /// The order once none of its refunds waits for payment (or as it is at the deadline).
    pub async fn refunds_settled(&self, token: &str, order_id: &str) -> Value {
        let path = format!("/orders/{order_id}");
        let answer = SETTLE
            .until(
                || self.send(Method::GET, &path, Some(token), None, None),
                |answer| {
                    answer.status != StatusCode::OK
                        || answer.body["data"]["refunds"].as_array().is_some_and(|refunds| {
                            refunds.iter().all(|refund| refund["status"] != "REQUESTED")
                        })
                },
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body["data"].clone()
    }

    /// Units on hand of a SKU once they reach `expected` (or as they are at the deadline):
    /// refunded units come back after the order is settled, through one more event.
    pub async fn on_hand_reaching(&self, sku: &str, expected: i64) -> i64 {
        let path = format!("/inventory/{sku}");
        SETTLE
            .until(
                || async {
                    let answer = self.send(Method::GET, &path, None, None, None).await;
                    answer.body["data"]["onHand"].as_i64().unwrap_or(-1)
                },
                |on_hand| *on_hand == expected,
            )
            .await
    }
}

/// The id of the refund `answer` accepted.
///
/// # Panics
/// When the refund was not accepted.
pub fn refund_id(answer: &Answer) -> String {
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    answer.body["data"]["refundId"]
        .as_str()
        .expect("a refund id")
        .to_owned()
}

/// The status of each line of `order`, in line order.
pub fn line_statuses(order: &Value) -> Vec<String> {
    order["lines"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .map(|line| line["status"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}
