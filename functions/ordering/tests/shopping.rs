//! The shopping flow — cart, addresses, checkout — called in-process through the routes the
//! `manage-cart`, `manage-addresses` and `place-order` binaries serve, against the real
//! MariaDB of the local stack; availability from inventory's real router over HTTP, or from
//! an address where nothing answers.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, StatusCode};
use ordering::availability::{HttpInventory, NoInventory, StockAvailability};
use ordering::http::{OrderingApi, get_order_routes, list_orders_routes};
use ordering::shop_http::{ShopApi, address_routes, cart_routes, checkout_routes};
use ordering::shopping::ShippingRule;
use security::Role;
use serde_json::{Value, json};
use testkit::app::{TestApp, request, send};
use uuid::Uuid;

struct App {
    context: TestApp,
}

const RULE: ShippingRule = ShippingRule {
    flat_fee_minor: 300,
    free_from_minor: 5_000,
};

impl App {
    /// The shopping routes on a fresh database whose catalog projection knows a cup (on
    /// promotion: list 1500, selling 1290), a mug (990, no list price known), a discontinued
    /// saucer and a lamp priced in dollars.
    async fn spawn(inventory: Arc<dyn StockAvailability>) -> Self {
        let context = TestApp::spawn("ordering", |pool, verifier| {
            let shop = ShopApi {
                pool: pool.clone(),
                shipping: RULE,
                payment_timeout: chrono::Duration::minutes(15),
                inventory,
            };
            let orders = OrderingApi {
                pool,
                payment_timeout: chrono::Duration::minutes(15),
            };
            Router::new()
                .merge(cart_routes(shop.clone(), verifier.clone()))
                .merge(checkout_routes(shop.clone(), verifier.clone()))
                .merge(address_routes(shop, verifier.clone()))
                .merge(get_order_routes(orders.clone(), verifier.clone()))
                .merge(list_orders_routes(orders, verifier))
        })
        .await;
        sqlx::query(
            "INSERT INTO product_price (product_id, name, price_minor, list_price_minor, currency, orderable, last_event_at)
             VALUES ('cup', 'Espresso cup', 1290, 1500, 'EUR', TRUE, NOW(6)),
                    ('mug', 'Mug', 990, NULL, 'EUR', TRUE, NOW(6)),
                    ('saucer', 'Saucer', 500, NULL, 'EUR', FALSE, NOW(6)),
                    ('lamp', 'Lamp', 4000, NULL, 'USD', TRUE, NOW(6))",
        )
        .execute(&context.database.pool)
        .await
        .expect("catalog projection");
        Self { context }
    }

    async fn call(
        &self,
        user: Uuid,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let token = self.context.tokens.token(user, Role::Customer);
        let mut request = request(method, path, Some(&token), body);
        if let Some(key) = key {
            let key = HeaderValue::from_str(key).expect("a header value");
            request.headers_mut().insert("idempotency-key", key);
        }
        let reply = send(&self.context.router, request).await;
        (reply.status, reply.body)
    }

    async fn add(&self, user: Uuid, key: &str, sku: &str, quantity: i64) -> (StatusCode, Value) {
        self.call(
            user,
            "POST",
            "/cart/items",
            Some(key),
            Some(json!({"sku": sku, "quantity": quantity})),
        )
        .await
    }

    async fn cart(&self, user: Uuid) -> Value {
        let (status, body) = self.call(user, "GET", "/cart", None, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["data"].clone()
    }

    async fn add_address(&self, user: Uuid, recipient: &str) -> (StatusCode, Value) {
        let body = json!({"recipient": recipient, "phone": "+82 10-1234-5678", "line1": "1 Main Street",
                          "city": "Seoul", "postalCode": "04524", "country": "KR"});
        self.call(user, "POST", "/users/me/addresses", None, Some(body))
            .await
    }

    async fn checkout(&self, user: Uuid, key: &str, address_id: &str, expected: i64) -> (StatusCode, Value) {
        let body =
            json!({"addressId": address_id, "paymentToken": "tok_approve", "expectedTotalMinor": expected});
        self.call(user, "POST", "/cart/checkout", Some(key), Some(body))
            .await
    }

    async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.context.database.pool)
            .await
            .expect("count")
    }

    async fn drop(self) {
        self.context.database.drop().await;
    }
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

fn skus(cart: &Value) -> Vec<(String, i64)> {
    cart["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|line| {
            (
                line["sku"].as_str().expect("sku").to_owned(),
                line["quantity"].as_i64().expect("quantity"),
            )
        })
        .collect()
}

#[tokio::test]
async fn adding_a_sku_twice_adds_to_its_quantity_and_a_replayed_add_changes_nothing() {
    let app = App::spawn(Arc::new(NoInventory)).await;
    let user = Uuid::now_v7();

    let (status, body) = app.add(user, "a-1", "cup", 2).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = app.add(user, "a-1", "cup", 2).await;
    assert_eq!(status, StatusCode::CREATED, "a replay answers like the first add");
    assert_eq!(skus(&app.cart(user).await), [("cup".to_owned(), 2)]);

    let (status, _) = app.add(user, "a-2", "cup", 3).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app.add(user, "a-3", "mug", 1).await;
    assert_eq!(status, StatusCode::CREATED);
    let cart = app.cart(user).await;
    assert_eq!(skus(&cart), [("cup".to_owned(), 5), ("mug".to_owned(), 1)]);
    assert_eq!(cart["lines"][0]["unitPriceMinor"], 1290);
    assert_eq!(cart["lines"][0]["listPriceMinor"], 1500);
    assert_eq!(cart["lines"][0]["availability"], "UNKNOWN");

    let (status, body) = app.add(user, "a-1", "mug", 2).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_REUSED")
    );

    let other = Uuid::now_v7();
    assert_eq!(skus(&app.cart(other).await), [], "a cart is its owner's only");
    app.drop().await;
}

#[tokio::test]
async fn bad_adds_are_refused_with_stable_codes_and_nothing_is_written() {
    let app = App::spawn(Arc::new(NoInventory)).await;
    let user = Uuid::now_v7();
    let (status, body) = app
        .call(
            user,
            "POST",
            "/cart/items",
            None,
            Some(json!({"sku": "cup", "quantity": 1})),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "IDEMPOTENCY_KEY_REQUIRED")
    );
    for (index, (sku, quantity, field)) in [
        ("a b", 1, "sku"),
        ("cup", 0, "quantity"),
        ("cup", 1_001, "quantity"),
    ]
    .into_iter()
    .enumerate()
    {
        let (status, body) = app.add(user, &format!("bad-{index}"), sku, quantity).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "VALIDATION_FAILED"),
            "{body}"
        );
        assert_eq!(body["error"]["fieldErrors"][0]["field"], field);
    }
    for (sku, expected) in [("ghost", "UNKNOWN_PRODUCT"), ("saucer", "PRODUCT_NOT_ORDERABLE")] {
        let (status, body) = app.add(user, sku, sku, 1).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNPROCESSABLE_ENTITY, expected)
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM cart_line").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM cart_add").await,
        0,
        "a refused add keeps no key"
    );

    app.add(user, "ok", "cup", 999).await;
    let (status, body) = app.add(user, "too-many", "cup", 2).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "QUANTITY_LIMIT")
    );
    let (status, body) = app.add(user, "usd", "lamp", 1).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "MIXED_CURRENCIES")
    );
    assert_eq!(skus(&app.cart(user).await), [("cup".to_owned(), 999)]);

    let (status, body) = app.call(Uuid::now_v7(), "GET", "/cart", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let anonymous = send(&app.context.router, request("GET", "/cart", None, None)).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    app.drop().await;
}

#[tokio::test]
async fn a_cart_holds_at_most_fifty_lines() {
    let app = App::spawn(Arc::new(NoInventory)).await;
    let user = Uuid::now_v7();
    let mut values = Vec::new();
    for index in 0..51 {
        values.push(format!("('p-{index}', 'P', 100, 'EUR', TRUE, NOW(6))"));
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO product_price (product_id, name, price_minor, currency, orderable, last_event_at) VALUES {}",
        values.join(", ")
    )))
    .execute(&app.context.database.pool)
    .await
    .expect("products");
    for index in 0..50 {
        let (status, body) = app
            .add(user, &format!("k-{index}"), &format!("p-{index}"), 1)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = app.add(user, "k-50", "p-50", 1).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "CART_FULL")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM cart_line").await, 50);
    app.drop().await;
}

#[tokio::test]
async fn a_line_can_be_changed_removed_and_the_cart_cleared() {
    let app = App::spawn(Arc::new(NoInventory)).await;
    let user = Uuid::now_v7();
    app.add(user, "1", "cup", 1).await;
    app.add(user, "2", "mug", 1).await;

    let (status, body) = app
        .call(
            user,
            "PATCH",
            "/cart/items/cup",
            None,
            Some(json!({"quantity": 4})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        skus(&body["data"]),
        [("cup".to_owned(), 4), ("mug".to_owned(), 1)]
    );
    for quantity in [0, -1, 1_001] {
        let (status, body) = app
            .call(
                user,
                "PATCH",
                "/cart/items/cup",
                None,
                Some(json!({"quantity": quantity})),
            )
            .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "VALIDATION_FAILED")
        );
    }
    let (status, body) = app
        .call(
            user,
            "PATCH",
            "/cart/items/lamp",
            None,
            Some(json!({"quantity": 2})),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "CART_LINE_NOT_FOUND")
    );
    let stranger = Uuid::now_v7();
    let (status, _) = app.call(stranger, "DELETE", "/cart/items/cup", None, None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another customer's line is not theirs to remove"
    );
    assert_eq!(
        skus(&app.cart(user).await),
        [("cup".to_owned(), 4), ("mug".to_owned(), 1)]
    );

    let (status, body) = app.call(user, "DELETE", "/cart/items/mug", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(skus(&body["data"]), [("cup".to_owned(), 4)]);
    let (status, _) = app.call(user, "DELETE", "/cart", None, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let cart = app.cart(user).await;
    assert_eq!(skus(&cart), []);
    assert_eq!(cart["totalMinor"], 0);
    app.drop().await;
}

#[tokio::test]
async fn the_cart_shows_subtotal_discount_shipping_fee_and_total_with_free_shipping_from_the_threshold() {
    let app = App::spawn(Arc::new(NoInventory)).await;
    let user = Uuid::now_v7();
    app.add(user, "1", "cup", 2).await;
    app.add(user, "2", "mug", 1).await;
    let cart = app.cart(user).await;
    assert_eq!(cart["subtotalMinor"], 2 * 1290 + 990);
    assert_eq!(cart["discountMinor"], 2 * (1500 - 1290));
    assert_eq!(cart["shippingFeeMinor"], 300);
    assert_eq!(cart["totalMinor"], 2 * 1290 + 990 + 300);
    assert_eq!(cart["currency"], "EUR");

    // 3570 + 1290 = 4860 still pays shipping; 4860 + 990 = 5850 reaches the threshold.
    app.add(user, "3", "cup", 1).await;
    assert_eq!(app.cart(user).await["totalMinor"], 4_860 + 300);
    app.add(user, "4", "mug", 1).await;
    let cart = app.cart(user).await;
    assert_eq!(cart["shippingFeeMinor"], 0);
    assert_eq!(cart["totalMinor"], 5_850);
    app.drop().await;
}

#[tokio::test]
async fn addresses_are_limited_to_ten_with_exactly_one_default() {
    let app = App::spawn(Arc::new(NoInventory)).await;
    let user = Uuid::now_v7();
    let (status, first) = app.add_address(user, "Ada").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(
        first["data"]["isDefault"], true,
        "the first address becomes the default"
    );
    let first_id = first["data"]["addressId"].as_str().expect("id").to_owned();
    let mut ids = vec![first_id.clone()];
    for index in 1..10 {
        let (status, body) = app.add_address(user, &format!("Ada {index}")).await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(body["data"]["isDefault"], false);
        ids.push(body["data"]["addressId"].as_str().expect("id").to_owned());
    }
    let (status, body) = app.add_address(user, "Eleventh").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "TOO_MANY_ADDRESSES")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM address").await, 10);

    let (status, body) = app
        .call(
            user,
            "PUT",
            &format!("/users/me/addresses/{}/default", ids[3]),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["isDefault"], true);
    let (_, listed) = app.call(user, "GET", "/users/me/addresses", None, None).await;
    let defaults: Vec<&str> = listed["data"]["addresses"]
        .as_array()
        .expect("addresses")
        .iter()
        .filter(|address| address["isDefault"] == true)
        .map(|address| address["addressId"].as_str().expect("id"))
        .collect();
    assert_eq!(defaults, [ids[3].as_str()]);

    // Deleting the default promotes the oldest remaining address.
    let (status, _) = app
        .call(
            user,
            "DELETE",
            &format!("/users/me/addresses/{}", ids[3]),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, listed) = app.call(user, "GET", "/users/me/addresses", None, None).await;
    assert_eq!(listed["data"]["addresses"][0]["addressId"], first_id.as_str());
    assert_eq!(listed["data"]["addresses"][0]["isDefault"], true);
    assert_eq!(
        listed["data"]["addresses"].as_array().expect("addresses").len(),
        9
    );

    let stranger = Uuid::now_v7();
    for (method, path) in [
        ("DELETE", format!("/users/me/addresses/{first_id}")),
        ("PUT", format!("/users/me/addresses/{first_id}/default")),
    ] {
        let (status, body) = app.call(stranger, method, &path, None, None).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::NOT_FOUND, "ADDRESS_NOT_FOUND")
        );
    }
    let (_, theirs) = app.call(stranger, "GET", "/users/me/addresses", None, None).await;
    assert_eq!(theirs["data"]["addresses"], json!([]));
    app.drop().await;
}

#[tokio::test]
async fn an_invalid_address_names_each_bad_field_and_is_not_stored() {
    let app = App::spawn(Arc::new(NoInventory)).await;
    let user = Uuid::now_v7();
    let body = json!({"recipient": " ", "phone": "12", "line1": "1 Main Street", "city": "Seoul",
                      "postalCode": "045/24", "country": "Korea"});
    let (status, answer) = app
        .call(user, "POST", "/users/me/addresses", None, Some(body))
        .await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::BAD_REQUEST, "VALIDATION_FAILED")
    );
    let fields: Vec<&str> = answer["error"]["fieldErrors"]
        .as_array()
        .expect("field errors")
        .iter()
        .map(|error| error["field"].as_str().expect("field"))
        .collect();
    assert_eq!(fields, ["recipient", "phone", "postalCode", "country"]);
    let (status, answer) = app
        .call(
            user,
            "POST",
            "/users/me/addresses",
            None,
            Some(json!({"recipient": "Ada"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(app.count("SELECT COUNT(*) FROM address").await, 0);
    app.drop().await;
}

#[tokio::test]
async fn checkout_places_the_cart_with_the_address_snapshot_totals_and_a_number_and_empties_the_cart() {
    let app = App::spawn(Arc::new(NoInventory)).await;
    let user = Uuid::now_v7();
    app.add(user, "1", "cup", 2).await;
    app.add(user, "2", "mug", 1).await;
    let (_, address) = app.add_address(user, "Ada").await;
    let address_id = address["data"]["addressId"].as_str().expect("id").to_owned();
    let shown = app.cart(user).await["totalMinor"].as_i64().expect("total");

    let (status, placed) = app.checkout(user, "c-1", &address_id, shown).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let order = &placed["data"];
    assert_eq!(order["status"], "PLACED");
    assert_eq!(order["subtotalMinor"], 3_570);
    assert_eq!(order["discountMinor"], 420);
    assert_eq!(order["shippingFeeMinor"], 300);
    assert_eq!(order["totalMinor"], 3_870);
    assert_eq!(order["lines"][0]["listPriceMinor"], 1500);
    assert_eq!(order["shippingAddress"]["recipient"], "Ada");
    assert_eq!(order["shippingAddress"]["country"], "KR");
    let number = order["orderNumber"].as_str().expect("an order number");
    assert_eq!(number.len(), 19, "{number}");
    assert_eq!(skus(&app.cart(user).await), [], "the placed cart is empty");

    // order.placed asks payment for the total with shipping.
    let payload: String = sqlx::query_scalar("SELECT CAST(payload AS CHAR) FROM outbox")
        .fetch_one(&app.context.database.pool)
        .await
        .expect("order.placed");
    let payload: Value = serde_json::from_str(&payload).expect("json");
    assert_eq!(payload["totalMinor"], 3_870);

    // The same request under the same key is the same order, though the cart is gone now.
    let (status, again) = app.checkout(user, "c-1", &address_id, shown).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again["data"]["orderId"], order["orderId"]);
    let (status, body) = app.checkout(user, "c-1", &address_id, shown + 1).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_REUSED")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM orders").await, 1);

    // Deleting the address later leaves the order's snapshot alone; the order shows its number.
    app.call(
        user,
        "DELETE",
        &format!("/users/me/addresses/{address_id}"),
        None,
        None,
    )
    .await;
    let order_id = order["orderId"].as_str().expect("id");
    let (status, read) = app
        .call(user, "GET", &format!("/orders/{order_id}"), None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["data"]["shippingAddress"]["line1"], "1 Main Street");
    assert_eq!(read["data"]["orderNumber"], number);
    let (_, list) = app.call(user, "GET", "/orders", None, None).await;
    assert_eq!(list["data"]["orders"][0]["orderNumber"], number);
    app.drop().await;
}

#[tokio::test]
async fn a_price_changed_since_the_cart_was_shown_places_nothing_and_keeps_the_cart() {
    let app = App::spawn(Arc::new(NoInventory)).await;
    let user = Uuid::now_v7();
    app.add(user, "1", "cup", 2).await;
    let (_, address) = app.add_address(user, "Ada").await;
    let address_id = address["data"]["addressId"].as_str().expect("id").to_owned();
    let shown = app.cart(user).await["totalMinor"].as_i64().expect("total");

    // Catalog's promotion ends between the cart and the checkout.
    sqlx::query("UPDATE product_price SET price_minor = 1500 WHERE product_id = 'cup'")
        .execute(&app.context.database.pool)
        .await
        .expect("a new price");
    let (status, body) = app.checkout(user, "c-1", &address_id, shown).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "PRICE_CHANGED"),
        "{body}"
    );
    let reasons = body["error"]["fieldErrors"].to_string();
    assert!(
        reasons.contains("3300") && reasons.contains("now 1500"),
        "{reasons}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM orders").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM order_idempotency").await, 0);
    assert_eq!(skus(&app.cart(user).await), [("cup".to_owned(), 2)]);

    // Confirming the new total places it, under the same key.
    let shown = app.cart(user).await["totalMinor"].as_i64().expect("total");
    assert_eq!(shown, 3_300);
    let (status, body) = app.checkout(user, "c-1", &address_id, shown).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["discountMinor"], 0);
    app.drop().await;
}

#[tokio::test]
async fn bad_checkouts_are_refused_with_stable_codes_and_nothing_is_written() {
    let app = App::spawn(Arc::new(NoInventory)).await;
    let user = Uuid::now_v7();
    let (_, address) = app.add_address(user, "Ada").await;
    let address_id = address["data"]["addressId"].as_str().expect("id").to_owned();

    let (status, body) = app.checkout(user, "c-1", &address_id, 1_000).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "CART_EMPTY")
    );

    app.add(user, "1", "cup", 1).await;
    let (status, body) = app
        .checkout(user, "c-2", &Uuid::now_v7().to_string(), 1_590)
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "ADDRESS_NOT_FOUND")
    );
    let (_, theirs) = app.add_address(Uuid::now_v7(), "Stranger").await;
    let foreign = theirs["data"]["addressId"].as_str().expect("id");
    let (status, body) = app.checkout(user, "c-3", foreign, 1_590).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "ADDRESS_NOT_FOUND")
    );
    // Address ids are ASCII: an id with other characters names no address (schemathesis once
    // got a 500 here, MariaDB refusing to compare it with the ASCII column).
    for (method, path) in [
        ("DELETE", "/users/me/addresses/%C3%A9t%C3%A9"),
        ("PUT", "/users/me/addresses/%C3%A9t%C3%A9/default"),
    ] {
        let (status, body) = app.call(user, method, path, None, None).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::NOT_FOUND, "ADDRESS_NOT_FOUND"),
            "{method} {path}"
        );
    }
    let (status, body) = app.checkout(user, "c-9", "\u{e9}t\u{e9}", 1_590).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "ADDRESS_NOT_FOUND")
    );

    let (status, body) = app
        .call(
            user,
            "POST",
            "/cart/checkout",
            None,
            Some(json!({"addressId": address_id, "paymentToken": "tok_approve", "expectedTotalMinor": 1590})),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "IDEMPOTENCY_KEY_REQUIRED")
    );
    let (status, body) = app
        .call(
            user,
            "POST",
            "/cart/checkout",
            Some("c-4"),
            Some(json!({"addressId": "", "paymentToken": "", "expectedTotalMinor": 0})),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "VALIDATION_FAILED")
    );
    assert_eq!(
        body["error"]["fieldErrors"].as_array().expect("fields").len(),
        3,
        "{body}"
    );

    // A line catalog stopped selling after it was added blocks the checkout until removed.
    sqlx::query("UPDATE product_price SET orderable = FALSE WHERE product_id = 'cup'")
        .execute(&app.context.database.pool)
        .await
        .expect("discontinued");
    let (status, body) = app.checkout(user, "c-5", &address_id, 1_590).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "PRODUCT_NOT_ORDERABLE")
    );
    let cart = app.cart(user).await;
    assert_eq!(cart["lines"][0]["orderable"], false);

    assert_eq!(app.count("SELECT COUNT(*) FROM orders").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM cart_line").await, 1);
    app.drop().await;
}

#[tokio::test]
async fn when_inventory_does_not_answer_the_cart_still_answers_with_availability_unknown() {
    // Nothing listens on the discard port of the loopback: the connection is refused at once.
    let inventory = HttpInventory::new("http://127.0.0.1:9", Duration::from_millis(300)).expect("client");
    let app = App::spawn(Arc::new(inventory)).await;
    let user = Uuid::now_v7();
    app.add(user, "1", "cup", 2).await;
    let cart = app.cart(user).await;
    assert_eq!(cart["lines"][0]["availability"], "UNKNOWN");
    assert!(cart["lines"][0].get("availableUnits").is_none());
    assert_eq!(cart["totalMinor"], 2_880);
    app.drop().await;
}

#[tokio::test]
async fn the_cart_shows_each_lines_availability_from_inventorys_bulk_endpoint() {
    // Inventory's own router, on its own database, served over HTTP on a port of its own.
    let stock = store::testing::TestDatabase::with_migrations_of("inventory").await;
    sqlx::query("INSERT INTO stock (sku, on_hand, reserved) VALUES ('cup', 10, 2), ('mug', 1, 0)")
        .execute(&stock.pool)
        .await
        .expect("stock");
    let routes =
        inventory::http::get_availability_routes(inventory::http::InventoryApi::new(stock.pool.clone()));
    let address = testkit::serve::router(runtime::http::HttpFunction::new(routes).into_router()).await;
    let inventory = HttpInventory::new(&format!("http://{address}"), Duration::from_secs(2)).expect("client");
    let app = App::spawn(Arc::new(inventory)).await;
    let user = Uuid::now_v7();
    app.add(user, "1", "cup", 3).await;
    app.add(user, "2", "mug", 2).await;
    let cart = app.cart(user).await;
    assert_eq!(cart["lines"][0]["availability"], "AVAILABLE");
    assert_eq!(cart["lines"][0]["availableUnits"], 8);
    assert_eq!(cart["lines"][1]["availability"], "INSUFFICIENT");
    assert_eq!(cart["lines"][1]["availableUnits"], 1);
    app.drop().await;
    stock.drop().await;
}

#[tokio::test]
async fn erasing_a_customer_deletes_their_cart_and_addresses_and_nobody_elses() {
    let app = App::spawn(Arc::new(NoInventory)).await;
    let (leaving, staying) = (Uuid::now_v7(), Uuid::now_v7());
    for user in [leaving, staying] {
        app.add(user, "1", "cup", 1).await;
        app.add_address(user, "Ada").await;
    }
    let mut transaction = app.context.database.pool.begin().await.expect("transaction");
    ordering::shopper::erase_customer(&mut transaction, leaving)
        .await
        .expect("erased");
    transaction.commit().await.expect("commit");

    assert_eq!(skus(&app.cart(leaving).await), []);
    let (_, addresses) = app.call(leaving, "GET", "/users/me/addresses", None, None).await;
    assert_eq!(addresses["data"]["addresses"], json!([]));
    assert_eq!(skus(&app.cart(staying).await), [("cup".to_owned(), 1)]);
    assert_eq!(app.count("SELECT COUNT(*) FROM address").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM cart_add").await, 1);
    app.drop().await;
}

#[tokio::test]
async fn concurrent_adds_of_addresses_and_cart_lines_never_pass_the_limits() {
    let app = App::spawn(Arc::new(NoInventory)).await;
    let user = Uuid::now_v7();
    let mut values = Vec::new();
    for index in 0..60 {
        values.push(format!("('c-{index}', 'C', 100, 'EUR', TRUE, NOW(6))"));
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO product_price (product_id, name, price_minor, currency, orderable, last_event_at) VALUES {}",
        values.join(", ")
    )))
    .execute(&app.context.database.pool)
    .await
    .expect("products");

    let names: Vec<String> = (0..15).map(|index| format!("Ada {index}")).collect();
    let addresses = futures::future::join_all(names.iter().map(|name| app.add_address(user, name))).await;
    let created = addresses
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 10);
    assert!(
        addresses
            .iter()
            .filter(|(status, _)| *status != StatusCode::CREATED)
            .all(|(_, body)| code(body) == "TOO_MANY_ADDRESSES")
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM address WHERE is_default").await,
        1
    );

    let keys: Vec<(String, String)> = (0..60)
        .map(|index| (format!("k-{index}"), format!("c-{index}")))
        .collect();
    let adds = futures::future::join_all(keys.iter().map(|(key, sku)| app.add(user, key, sku, 1))).await;
    let added = adds
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    assert_eq!(added, 50);
    assert!(
        adds.iter()
            .filter(|(status, _)| *status != StatusCode::CREATED)
            .all(|(_, body)| code(body) == "CART_FULL")
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM cart_line").await, 50);
    app.drop().await;
}
