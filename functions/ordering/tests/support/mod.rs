//! What the end-to-end tests share: the running local stack's settings, a shop client that
//! signs its own tokens with the stack's keys, and polling the public API with a deadline.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use security::{Role, SigningKeys, TokenIssuer};
use serde_json::{Value, json};
use uuid::Uuid;

/// How long the saga may take to settle an order on a laptop's stack.
pub const SETTLE_DEADLINE: Duration = Duration::from_secs(90);

pub fn stack_home() -> PathBuf {
    std::env::var_os("STACK_HOME").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../local-stack/var"),
        PathBuf::from,
    )
}

pub fn stack_setting(name: &str) -> Option<String> {
    std::env::var(name).ok().or_else(|| {
        let settings = std::fs::read_to_string(stack_home().join("stack.env")).ok()?;
        let prefix = format!("{name}=");
        settings
            .lines()
            .find_map(|line| line.strip_prefix(prefix.as_str()))
            .map(str::to_owned)
    })
}

pub struct Shop {
    client: reqwest::Client,
    base: String,
    issuer: TokenIssuer,
}

pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Shop {
    pub fn new() -> Self {
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
    pub async fn settled(&self, token: &str, order_id: &str) -> Value {
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
    pub async fn stock_at_rest(&self, sku: &str) -> (i64, i64) {
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

pub fn order_id(answer: &Answer) -> String {
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    answer.body["data"]["orderId"]
        .as_str()
        .expect("an order id")
        .to_owned()
}
pub fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The local port of every function, as `stackctl plan` assigns them.
pub fn function_ports() -> HashMap<String, String> {
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
