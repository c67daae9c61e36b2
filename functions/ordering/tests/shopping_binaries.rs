//! The `manage-addresses`, `manage-cart` and `place-order` binaries as the local stack runs
//! them (`$PORT`, settings from the environment), over real HTTP on one throw-away database:
//! a customer adds an address and a line, reads the cart with its availability from
//! inventory's router, and checks out.

use std::process::Command;
use std::time::Duration;

use security::{Role, SigningKeys, TokenIssuer};
use serde_json::{Value, json};
use store::testing::TestDatabase;
use testkit::serve::ServedBinary;
use uuid::Uuid;

const ISSUER: &str = "https://identity.test";
const AUDIENCE: &str = "commerce";

fn function(binary: &str, database_url: &str, issuer: &TokenIssuer, inventory_url: &str) -> Command {
    let mut command = Command::new(binary);
    command
        .env("DATABASE_URL", database_url)
        .env("JWT_ISSUER", ISSUER)
        .env("JWT_AUDIENCE", AUDIENCE)
        .env("JWT_JWKS", issuer.jwks().to_json())
        .env_remove("JWT_JWKS_FILE")
        .env("INVENTORY_URL", inventory_url)
        .env("SHIPPING_FEE_MINOR", "250")
        .env("FREE_SHIPPING_FROM_MINOR", "10000");
    command
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client.request(method, url).bearer_auth(token);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("an answer");
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("a body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_shopping_binaries_serve_addresses_the_cart_and_checkout_from_their_environment() {
    let database = TestDatabase::with_migrations_of("ordering").await;
    sqlx::query(
        "INSERT INTO product_price (product_id, name, price_minor, list_price_minor, currency, orderable, last_event_at)
         VALUES ('cup', 'Espresso cup', 1290, 1500, 'EUR', TRUE, NOW(6))",
    )
    .execute(&database.pool)
    .await
    .expect("catalog projection");
    let stock = TestDatabase::with_migrations_of("inventory").await;
    sqlx::query("INSERT INTO stock (sku, on_hand, reserved) VALUES ('cup', 3, 0)")
        .execute(&stock.pool)
        .await
        .expect("stock");
    let inventory = testkit::serve::router(
        runtime::http::HttpFunction::new(inventory::http::get_availability_routes(
            inventory::http::InventoryApi::new(stock.pool.clone()),
        ))
        .into_router(),
    )
    .await;
    let inventory_url = format!("http://{inventory}");
    let issuer = TokenIssuer::new(
        SigningKeys::generate("k1"),
        ISSUER,
        AUDIENCE,
        Duration::from_secs(300),
    );
    let token = issuer
        .issue(Uuid::now_v7(), &[Role::Customer])
        .expect("a token")
        .token;
    let url = database.url();
    let addresses = ServedBinary::start(function(
        env!("CARGO_BIN_EXE_manage-addresses"),
        &url,
        &issuer,
        &inventory_url,
    ))
    .await;
    let cart = ServedBinary::start(function(
        env!("CARGO_BIN_EXE_manage-cart"),
        &url,
        &issuer,
        &inventory_url,
    ))
    .await;
    let orders = ServedBinary::start(function(
        env!("CARGO_BIN_EXE_place-order"),
        &url,
        &issuer,
        &inventory_url,
    ))
    .await;
    let client = reqwest::Client::new();
    use reqwest::Method;

    let address = json!({"recipient": "Ada", "phone": "+49 30 1234567", "line1": "Unter den Linden 1",
                         "city": "Berlin", "postalCode": "10117", "country": "DE"});
    let (status, added) = call(
        &client,
        Method::POST,
        format!("{}/users/me/addresses", addresses.url()),
        &token,
        None,
        Some(address),
    )
    .await;
    assert_eq!(status, 201, "{added}");
    let address_id = added["data"]["addressId"].as_str().expect("id").to_owned();

    let line = json!({"sku": "cup", "quantity": 2});
    let (status, body) = call(
        &client,
        Method::POST,
        format!("{}/cart/items", cart.url()),
        &token,
        Some("add-1"),
        Some(line),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, shown) = call(
        &client,
        Method::GET,
        format!("{}/cart", cart.url()),
        &token,
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["data"]["lines"][0]["availability"], "AVAILABLE");
    assert_eq!(shown["data"]["lines"][0]["availableUnits"], 3);
    assert_eq!(
        shown["data"]["shippingFeeMinor"], 250,
        "the fee comes from the environment"
    );
    let total = shown["data"]["totalMinor"].as_i64().expect("total");
    assert_eq!(total, 2 * 1290 + 250);

    let checkout =
        json!({"addressId": address_id, "paymentToken": "tok_approve", "expectedTotalMinor": total});
    let (status, placed) = call(
        &client,
        Method::POST,
        format!("{}/cart/checkout", orders.url()),
        &token,
        Some("co-1"),
        Some(checkout),
    )
    .await;
    assert_eq!(status, 201, "{placed}");
    assert_eq!(placed["data"]["totalMinor"], total);
    assert_eq!(placed["data"]["shippingAddress"]["city"], "Berlin");

    // place-order still serves the direct POST /orders, without shipping.
    let (status, direct) = call(
        &client,
        Method::POST,
        format!("{}/orders", orders.url()),
        &token,
        Some("direct-1"),
        Some(json!({"lines": [{"productId": "cup", "quantity": 1}], "paymentToken": "tok_approve"})),
    )
    .await;
    assert_eq!(status, 201, "{direct}");
    assert_eq!(direct["data"]["totalMinor"], 1290);
    assert_eq!(direct["data"]["shippingFeeMinor"], 0);

    drop((addresses, cart, orders));
    database.drop().await;
    stock.drop().await;
}
