//! Crash safety of the saga on the running local stack: `reserve-stock` killed with SIGKILL
//! while orders pour in oversells nothing and loses no order once it is back. Kept in its own
//! test binary because it kills a process the other end-to-end tests rely on.
//!
//! The function is brought back the way `local-stack/up` starts it (same binary, port and
//! settings, detached with `setsid`, its pid file rewritten), without re-running `up`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use security::{Role, SigningKeys, TokenIssuer};
use serde_json::{Value, json};
use uuid::Uuid;

const DEADLINE: Duration = Duration::from_secs(120);

fn repository() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    // The stack recognises its processes by the exact STACK_HOME path they carry.
    std::fs::canonicalize(&path).unwrap_or(path)
}

fn stack_home() -> PathBuf {
    std::env::var_os("STACK_HOME").map_or_else(|| repository().join("local-stack/var"), PathBuf::from)
}

fn setting(name: &str) -> String {
    let settings =
        std::fs::read_to_string(stack_home().join("stack.env")).expect("stack.env (is the stack up?)");
    let prefix = format!("{name}=");
    settings
        .lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("{name} in stack.env"))
        .to_owned()
}

fn function_port(function: &str) -> String {
    let plan = std::process::Command::new(repository().join("target/debug/stackctl"))
        .args([
            "plan",
            "--base-port",
            &setting("FUNCTION_BASE_PORT"),
            "--template",
        ])
        .arg(repository().join("template.yaml"))
        .output()
        .expect("stackctl plan");
    String::from_utf8_lossy(&plan.stdout)
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.first() == Some(&"function") && fields.get(1) == Some(&function))
                .then(|| fields[3].to_owned())
        })
        .unwrap_or_else(|| panic!("{function} in the plan"))
}

struct Shop {
    client: reqwest::Client,
    base: String,
    issuer: TokenIssuer,
}

impl Shop {
    fn new() -> Self {
        let keys =
            SigningKeys::from_file(&stack_home().join("keys/signing-keys.json")).expect("the stack's keys");
        Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            base: format!("http://127.0.0.1:{}", setting("GATEWAY_PORT")),
            issuer: TokenIssuer::new(
                keys,
                std::env::var("JWT_ISSUER").unwrap_or_else(|_| "https://identity.commerce.local".to_owned()),
                std::env::var("JWT_AUDIENCE").unwrap_or_else(|_| "commerce".to_owned()),
                Duration::from_secs(600),
            ),
        }
    }

    fn token(&self, role: Role) -> String {
        self.issuer.issue(Uuid::now_v7(), &[role]).expect("token").token
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {token}"));
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("the gateway answers");
        let status = response.status();
        let body = serde_json::from_slice(&response.bytes().await.expect("body")).unwrap_or(Value::Null);
        (status, body)
    }

    /// Places an order, asking again (same key) while ordering does not know the product yet
    /// or is busy.
    async fn place(&self, token: &str, key: &str, product: &str, payment_token: &str) -> String {
        let body = json!({"lines": [{"productId": product, "quantity": 1}], "paymentToken": payment_token});
        let started = Instant::now();
        loop {
            let (status, answer) = self
                .send(Method::POST, "/orders", token, Some(key), Some(body.clone()))
                .await;
            if status == StatusCode::CREATED {
                return answer["data"]["orderId"].as_str().expect("order id").to_owned();
            }
            let again =
                answer["error"]["code"] == "UNKNOWN_PRODUCT" || status == StatusCode::SERVICE_UNAVAILABLE;
            assert!(
                again && started.elapsed() < DEADLINE,
                "place-order: {status} {answer}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn settled(&self, token: &str, order_id: &str) -> Value {
        let started = Instant::now();
        loop {
            let (_, answer) = self
                .send(Method::GET, &format!("/orders/{order_id}"), token, None, None)
                .await;
            if answer["data"]["status"] != "PLACED" || started.elapsed() > DEADLINE {
                return answer["data"].clone();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

async fn healthy(port: &str) -> bool {
    reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .is_ok_and(|response| response.status().is_success())
}

#[tokio::test]
async fn reserve_stock_killed_while_orders_pour_in_oversells_nothing_and_loses_no_order() {
    let shop = Shop::new();
    let admin = shop.token(Role::Admin);
    let product = format!("crash-{}", Uuid::now_v7().simple());
    let (status, body) = shop
        .send(
            Method::POST,
            "/admin/products",
            &admin,
            None,
            Some(json!({"productId": product, "name": "Crash cup", "priceMinor": 100, "currency": "EUR"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = shop
        .send(
            Method::PUT,
            &format!("/admin/inventory/{product}"),
            &admin,
            None,
            Some(json!({"onHand": 20})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let customer = shop.token(Role::Customer);
    let probe = shop.place(&customer, "probe", &product, "tok_decline").await;
    shop.settled(&customer, &probe).await;

    // reserve-stock goes down hard, then 40 orders for 20 units arrive.
    let pid_file = stack_home().join("run/reserve-stock.pid");
    let pid = std::fs::read_to_string(&pid_file)
        .expect("reserve-stock's pid file")
        .trim()
        .to_owned();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .expect("kill");
    assert!(killed.success(), "reserve-stock (pid {pid}) could be killed");
    let mut orders = Vec::new();
    for n in 0..40 {
        orders.push(
            shop.place(&customer, &format!("crash-{n}"), &product, "tok_approve")
                .await,
        );
    }

    // Back as local-stack/up would start it.
    let port = function_port("reserve-stock");
    let log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(stack_home().join("logs/functions/reserve-stock.log"))
        .expect("the function's log");
    // Detached on purpose: the function must outlive this test, as the stack's own processes
    // do; `local-stack/down` stops it through the pid file.
    #[allow(clippy::zombie_processes)]
    let restarted = std::process::Command::new("setsid")
        .arg(repository().join("target/debug/reserve-stock"))
        .env("STACK_HOME", stack_home())
        .env("PORT", &port)
        .env("FUNCTION_NAME", "reserve-stock")
        .env("DATABASE_URL", setting("INVENTORY_DATABASE_URL"))
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("reserve-stock starts again");
    std::fs::write(&pid_file, restarted.id().to_string()).expect("pid file");
    let started = Instant::now();
    while !healthy(&port).await {
        assert!(started.elapsed() < DEADLINE, "reserve-stock did not come back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut confirmed = 0;
    let mut out_of_stock = 0;
    for order_id in &orders {
        let order = shop.settled(&customer, order_id).await;
        match (order["status"].as_str(), order["cancelReason"].as_str()) {
            (Some("CONFIRMED"), _) => confirmed += 1,
            (Some("CANCELLED"), Some("out-of-stock")) => out_of_stock += 1,
            other => panic!("order {order_id} ended as {other:?}"),
        }
    }
    assert_eq!((confirmed, out_of_stock), (20, 20));
    let (_, stock) = shop
        .send(Method::GET, &format!("/inventory/{product}"), &admin, None, None)
        .await;
    assert_eq!(stock["data"]["onHand"], 0, "{stock}");
}
