//! A storefront client of the running stack: it talks to the gateway, signs its own tokens
//! with the stack's signing keys (`$STACK_HOME/keys`, so no account is needed) and waits for
//! the saga by polling the public API with a deadline.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use security::{Role, SigningKeys, TokenIssuer};
use serde_json::{Value, json};
use testkit::poll::Polling;
use testkit::stack;
use uuid::Uuid;

/// How long the saga may take to settle an order on a laptop's stack.
pub const SETTLE_DEADLINE: Duration = Duration::from_secs(90);

/// Asking the public API again until the saga settles.
pub const SETTLE: Polling = Polling::new(SETTLE_DEADLINE, Duration::from_millis(200));

#[derive(Debug)]
pub struct Shop {
    client: reqwest::Client,
    base: String,
    issuer: TokenIssuer,
}

#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Default for Shop {
    fn default() -> Self {
        Self::new()
    }
}

impl Shop {
    /// A client of the stack's gateway (`GATEWAY_PORT`, from the environment or `stack.env`).
    pub fn new() -> Self {
        let keys = SigningKeys::from_file(&stack::home().join("keys/signing-keys.json"))
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
                stack::setting("GATEWAY_PORT").as_deref().unwrap_or("8080")
            ),
            issuer,
        }
    }

    /// The same client, talking to `base` instead of the gateway (a function of its own).
    pub fn at(&self, base: String) -> Self {
        Self {
            client: self.client.clone(),
            base,
            issuer: self.issuer.clone(),
        }
    }

    pub fn token(&self, user: Uuid, role: Role) -> String {
        self.issuer.issue(user, &[role]).expect("token").token
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        self.try_send(method, path, token, key, body)
            .await
            .unwrap_or_else(|error| panic!("the gateway at {} answers: {error}", self.base))
    }

    /// Like [`Shop::send`], but a request that got no answer (the gateway or the function
    /// behind it is down, or too slow) is an error rather than a panic.
    pub async fn try_send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Result<Answer, reqwest::Error> {
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
        let response = request.send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        Ok(Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    }

    /// A new product with `units` in stock, as an admin would set it up.
    pub async fn product_in_stock(&self, price_minor: i64, units: i64) -> String {
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
    pub async fn place(
        &self,
        token: &str,
        key: &str,
        product_id: &str,
        quantity: u32,
        payment_token: &str,
    ) -> Answer {
        self.place_lines(token, key, &[(product_id, quantity)], payment_token)
            .await
    }

    /// The order once it left PLACED (or as it is at the deadline).
    pub async fn settled(&self, token: &str, order_id: &str) -> Value {
        let path = format!("/orders/{order_id}");
        let answer = SETTLE
            .until(
                || self.send(Method::GET, &path, Some(token), None, None),
                |answer| answer.status != StatusCode::OK || answer.body["data"]["status"] != "PLACED",
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body["data"].clone()
    }

    /// The saga steps other contexts took for an order (`STOCK_RESERVED`, `PAYMENT_AUTHORIZED`)
    /// once `expected` many are recorded (or as they are at the deadline), with their times.
    /// They come through a consumer of their own, so they may trail the order's status.
    pub async fn steps(&self, token: &str, order_id: &str, expected: usize) -> Vec<(String, String)> {
        let path = format!("/orders/{order_id}");
        let answer = SETTLE
            .until(
                || self.send(Method::GET, &path, Some(token), None, None),
                |answer| {
                    answer.status != StatusCode::OK
                        || answer.body["data"]["steps"]
                            .as_array()
                            .is_some_and(|steps| steps.len() >= expected)
                },
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body["data"]["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|step| {
                let name = step["step"].as_str().unwrap_or_default().to_owned();
                (name, step["at"].as_str().unwrap_or_default().to_owned())
            })
            .collect()
    }

    /// (onHand, reserved) of a SKU once nothing is reserved any more (or at the deadline).
    pub async fn stock_at_rest(&self, sku: &str) -> (i64, i64) {
        let path = format!("/inventory/{sku}");
        SETTLE
            .until(
                || async {
                    let answer = self.send(Method::GET, &path, None, None, None).await;
                    let on_hand = answer.body["data"]["onHand"].as_i64().unwrap_or(-1);
                    let reserved = answer.body["data"]["reserved"].as_i64().unwrap_or(-1);
                    (on_hand, reserved)
                },
                |(_, reserved)| *reserved == 0,
            )
            .await
    }
}

/// The id of the order `answer` created.
///
/// # Panics
/// When the order was not created.
pub fn order_id(answer: &Answer) -> String {
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    answer.body["data"]["orderId"]
        .as_str()
        .expect("an order id")
        .to_owned()
}
