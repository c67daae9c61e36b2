//! The shopping flow end to end on the running local stack: addresses, the cart (its prices
//! from ordering's projection of catalog's events, its availability from inventory through the
//! gateway) and checkout through the gateway, then the saga confirming the order. A promotion
//! that ends between reading the cart and checking out is refused with PRICE_CHANGED.
//!
//! Tokens are signed with the stack's own keys; each run uses a product and customers of its
//! own, so it can run again on the same stack. Every wait polls the public API with a deadline.

use e2e::shop::{SETTLE, Shop};
use reqwest::{Method, StatusCode};
use security::Role;
use serde_json::{Value, json};
use uuid::Uuid;

async fn add_address(shop: &Shop, token: &str) -> String {
    let body = json!({"recipient": "Ada Lovelace", "phone": "+82 10-1234-5678", "line1": "1 Main Street",
                      "city": "Seoul", "postalCode": "04524", "country": "KR"});
    let added = shop
        .send(Method::POST, "/users/me/addresses", Some(token), None, Some(body))
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    added.body["data"]["addressId"]
        .as_str()
        .expect("an address id")
        .to_owned()
}

/// Adds a line as a careful client does: while ordering has not yet seen the product (its
/// events are on their way through the relay and Kafka) the add answers UNKNOWN_PRODUCT and is
/// asked again with the same key.
async fn add_line(shop: &Shop, token: &str, key: &str, sku: &str, quantity: u32) {
    let body = json!({"sku": sku, "quantity": quantity});
    let added = SETTLE
        .until(
            || {
                shop.send(
                    Method::POST,
                    "/cart/items",
                    Some(token),
                    Some(key),
                    Some(body.clone()),
                )
            },
            |answer| answer.body["error"]["code"] != "UNKNOWN_PRODUCT",
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
}

/// The cart once its first line shows `unit_price_minor` (or as it is at the deadline).
async fn cart_priced_at(shop: &Shop, token: &str, unit_price_minor: i64) -> Value {
    let cart = SETTLE
        .until(
            || shop.send(Method::GET, "/cart", Some(token), None, None),
            |answer| answer.body["data"]["lines"][0]["unitPriceMinor"] == unit_price_minor,
        )
        .await;
    assert_eq!(cart.status, StatusCode::OK, "{}", cart.body);
    assert_eq!(
        cart.body["data"]["lines"][0]["unitPriceMinor"], unit_price_minor,
        "{}",
        cart.body
    );
    cart.body["data"].clone()
}

async fn checkout(
    shop: &Shop,
    token: &str,
    key: &str,
    address_id: &str,
    expected: &Value,
) -> (StatusCode, Value) {
    let body =
        json!({"addressId": address_id, "paymentToken": "tok_approve", "expectedTotalMinor": expected});
    let answer = shop
        .send(Method::POST, "/cart/checkout", Some(token), Some(key), Some(body))
        .await;
    (answer.status, answer.body)
}

#[tokio::test]
async fn a_cart_checked_out_through_the_gateway_is_confirmed_with_its_discount_fee_address_and_number() {
    let shop = Shop::new();
    let admin = shop.token(Uuid::now_v7(), Role::Admin);
    let cup = shop.product_in_stock(1000, 10).await;
    let promotion = shop
        .send(
            Method::POST,
            &format!("/admin/products/{cup}/promotions"),
            Some(&admin),
            None,
            Some(json!({"name": "E2E sale", "discountType": "RATE", "discountValue": 10})),
        )
        .await;
    assert_eq!(promotion.status, StatusCode::CREATED, "{}", promotion.body);
    let customer = shop.token(Uuid::now_v7(), Role::Customer);
    let address_id = add_address(&shop, &customer).await;

    let (status, empty) = checkout(&shop, &customer, "empty", &address_id, &json!(1000)).await;
    assert_eq!(
        (status, &empty["error"]["code"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("CART_EMPTY"))
    );

    add_line(&shop, &customer, "add-1", &cup, 2).await;
    let cart = cart_priced_at(&shop, &customer, 900).await;
    assert_eq!(cart["lines"][0]["listPriceMinor"], 1000);
    assert_eq!(
        cart["lines"][0]["availability"], "AVAILABLE",
        "inventory answered through the gateway: {cart}"
    );
    assert_eq!(cart["discountMinor"], 200);
    assert_eq!(
        cart["shippingFeeMinor"], 3000,
        "below the free-shipping threshold"
    );
    assert_eq!(cart["totalMinor"], 1800 + 3000);

    let (status, placed) = checkout(&shop, &customer, "co-1", &address_id, &cart["totalMinor"]).await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let order_id = placed["data"]["orderId"]
        .as_str()
        .expect("an order id")
        .to_owned();
    let order = shop.settled(&customer, &order_id).await;
    assert_eq!(order["status"], "CONFIRMED", "{order}");
    assert_eq!(
        order["totalMinor"], 4800,
        "payment authorized the lines and the fee"
    );
    assert_eq!(order["discountMinor"], 200);
    assert_eq!(order["shippingAddress"]["city"], "Seoul");
    assert!(
        order["orderNumber"]
            .as_str()
            .is_some_and(|number| number.len() == 19),
        "{order}"
    );
    let cart = shop.send(Method::GET, "/cart", Some(&customer), None, None).await;
    assert_eq!(cart.body["data"]["lines"], json!([]), "the placed cart is empty");
}

#[tokio::test]
async fn a_promotion_ending_between_the_cart_and_the_checkout_places_nothing() {
    let shop = Shop::new();
    let admin = shop.token(Uuid::now_v7(), Role::Admin);
    let cup = shop.product_in_stock(2000, 10).await;
    let promotion = shop
        .send(
            Method::POST,
            &format!("/admin/products/{cup}/promotions"),
            Some(&admin),
            None,
            Some(json!({"name": "E2E flash sale", "discountType": "AMOUNT", "discountValue": 500})),
        )
        .await;
    assert_eq!(promotion.status, StatusCode::CREATED, "{}", promotion.body);
    let promotion_id = promotion.body["data"]["promotionId"]
        .as_i64()
        .expect("a promotion id");
    let customer = shop.token(Uuid::now_v7(), Role::Customer);
    let address_id = add_address(&shop, &customer).await;
    add_line(&shop, &customer, "add-1", &cup, 1).await;
    let shown = cart_priced_at(&shop, &customer, 1500).await;

    let ended = shop
        .send(
            Method::DELETE,
            &format!("/admin/products/{cup}/promotions/{promotion_id}"),
            Some(&admin),
            None,
            None,
        )
        .await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT, "{}", ended.body);
    cart_priced_at(&shop, &customer, 2000).await;

    let (status, refused) = checkout(&shop, &customer, "co-1", &address_id, &shown["totalMinor"]).await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (StatusCode::CONFLICT, &json!("PRICE_CHANGED")),
        "{refused}"
    );
    let orders = shop
        .send(Method::GET, "/orders", Some(&customer), None, None)
        .await;
    assert_eq!(orders.body["data"]["orders"], json!([]), "nothing was placed");
    let cart = shop.send(Method::GET, "/cart", Some(&customer), None, None).await;
    assert_eq!(cart.body["data"]["lines"][0]["quantity"], 1, "the cart is kept");
}
