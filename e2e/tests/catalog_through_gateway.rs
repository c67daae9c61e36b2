//! The catalog's SKUs end to end on the running local stack: a product with options created
//! through the gateway becomes SKUs that inventory stocks (from `sku-created`, through the
//! relay, Kafka and the dispatcher) and ordering sells at their own prices; a removed option
//! stops its SKUs; keyword search finds the product in Korean; the stock change log tells
//! what happened to a SKU. Every wait polls the public API with a deadline.

use e2e::shop::{SETTLE, Shop, order_id};
use reqwest::{Method, StatusCode};
use security::Role;
use serde_json::{Value, json};
use uuid::Uuid;

/// A query value percent-encoded as a form would send it.
fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn a_product_with_options_is_stocked_sold_and_searched_sku_by_sku() {
    let shop = Shop::new();
    let admin = shop.token(Uuid::now_v7(), Role::Admin);
    let customer = shop.token(Uuid::now_v7(), Role::Customer);
    let tag = format!("e2e{}", &Uuid::now_v7().simple().to_string()[20..]);
    let product_id = format!("tee-{tag}");
    let created = shop
        .send(
            Method::POST,
            "/admin/products",
            Some(&admin),
            None,
            Some(json!({
                "productId": product_id, "name": format!("반팔 티셔츠 {tag}"), "priceMinor": 19_000,
                "currency": "KRW",
                "optionGroups": [
                    {"name": "색상", "options": [{"name": "블랙"}, {"name": "화이트", "surchargeMinor": 1_000}]},
                    {"name": "사이즈", "options": [{"name": "M"}, {"name": "XL", "surchargeMinor": 2_000}]}
                ]
            })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let page = shop
        .send(Method::GET, &format!("/products/{product_id}"), None, None, None)
        .await;
    let skus: Vec<String> = page.body["data"]["skus"]
        .as_array()
        .expect("skus")
        .iter()
        .filter_map(|sku| sku["sku"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(skus.len(), 4, "{}", page.body);

    // Inventory learns every SKU from its event and opens its stock at zero.
    let availability = SETTLE
        .until(
            || {
                shop.send(
                    Method::POST,
                    "/inventory/availability",
                    None,
                    None,
                    Some(json!({"skus": skus})),
                )
            },
            |answer| answer.body["data"]["unknown"] == json!([]),
        )
        .await;
    assert_eq!(availability.status, StatusCode::OK, "{}", availability.body);
    assert!(
        availability.body["data"]["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|item| item["onHand"] == 0),
        "{}",
        availability.body
    );

    // White XL costs 19,000 + 1,000 + 2,000; ordering prices it so.
    let query = format!(
        "/products/{product_id}/skus?{}={}&{}=XL",
        urlencode("색상"),
        urlencode("화이트"),
        urlencode("사이즈")
    );
    let white_xl = shop.send(Method::GET, &query, None, None, None).await;
    assert_eq!(white_xl.body["data"]["priceMinor"], 22_000, "{}", white_xl.body);
    let white_xl = white_xl.body["data"]["sku"].as_str().expect("sku").to_owned();
    let stocked = shop
        .send(
            Method::PUT,
            &format!("/admin/inventory/{white_xl}"),
            Some(&admin),
            None,
            Some(json!({"onHand": 3})),
        )
        .await;
    assert_eq!(stocked.status, StatusCode::OK, "{}", stocked.body);
    let placed = shop
        .place(&customer, &format!("{tag}-1"), &white_xl, 2, "tok_approve")
        .await;
    let order = shop.settled(&customer, &order_id(&placed)).await;
    assert_eq!(
        (&order["status"], &order["totalMinor"]),
        (&json!("CONFIRMED"), &json!(44_000)),
        "{order}"
    );
    assert_eq!(shop.stock_at_rest(&white_xl).await, (1, 0));

    // The change log tells the SKU's story, the order's steps with its id.
    let log = shop
        .send(
            Method::GET,
            &format!("/admin/inventory/{white_xl}/changes"),
            Some(&admin),
            None,
            None,
        )
        .await;
    let actions: Vec<(String, Value)> = log.body["data"]["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|change| {
            (
                change["action"].as_str().unwrap_or_default().to_owned(),
                change["orderId"].clone(),
            )
        })
        .collect();
    let order_value = order["orderId"].clone();
    assert_eq!(
        actions,
        [
            ("COMMIT".to_owned(), order_value.clone()),
            ("RESERVE".to_owned(), order_value),
            ("SET".to_owned(), Value::Null),
            ("INITIALIZE".to_owned(), Value::Null)
        ],
        "{}",
        log.body
    );

    // Removing White stops its SKUs: once ordering has the event, they cannot be ordered.
    let white = page.body["data"]["optionGroups"][0]["options"][1]["optionId"]
        .as_i64()
        .expect("option");
    let removed = shop
        .send(
            Method::DELETE,
            &format!("/admin/products/{product_id}/options/{white}"),
            Some(&admin),
            None,
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    let body = json!({"lines": [{"productId": white_xl, "quantity": 1}], "paymentToken": "tok_approve"});
    let (shop_ref, customer_ref, body_ref, tag_ref) = (&shop, &customer, &body, &tag);
    let refused = SETTLE
        .until(
            || {
                // A new key each time: an attempt that still got through is an order of its own.
                let key = format!("{tag_ref}-{}", Uuid::now_v7().simple());
                async move {
                    shop_ref
                        .send(
                            Method::POST,
                            "/orders",
                            Some(customer_ref),
                            Some(&key),
                            Some(body_ref.clone()),
                        )
                        .await
                }
            },
            |answer| answer.body["error"]["code"] == "PRODUCT_NOT_ORDERABLE",
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );

    // Keyword search finds it by its Korean name and its tag.
    let search = format!("/products?q={}", urlencode(&format!("티셔츠 {tag}")));
    let found = shop.send(Method::GET, &search, None, None, None).await;
    assert_eq!(found.body["data"]["total"], 1, "{}", found.body);
    assert_eq!(found.body["data"]["products"][0]["productId"], json!(product_id));
}

#[tokio::test]
async fn bad_catalog_and_inventory_input_gets_a_4xx_with_a_stable_code_never_a_500() {
    let shop = Shop::new();
    let admin = shop.token(Uuid::now_v7(), Role::Admin);
    let cases = [
        (
            Method::GET,
            "/products/no-such-product/skus?x=y".to_owned(),
            None,
            StatusCode::NOT_FOUND,
            "PRODUCT_NOT_FOUND",
        ),
        (
            Method::GET,
            "/products?q=%21%21%21".to_owned(),
            None,
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            Method::GET,
            "/products?minPrice=abc".to_owned(),
            None,
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            Method::GET,
            "/brands/no-such-brand".to_owned(),
            None,
            StatusCode::NOT_FOUND,
            "BRAND_NOT_FOUND",
        ),
        (
            Method::GET,
            "/inventory/no-such-sku".to_owned(),
            None,
            StatusCode::NOT_FOUND,
            "SKU_NOT_FOUND",
        ),
        (
            Method::POST,
            "/inventory/availability".to_owned(),
            Some(json!({"skus": []})),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            Method::POST,
            "/admin/products".to_owned(),
            Some(
                json!({"productId": "x", "name": "X", "priceMinor": 1, "currency": "EUR",
                        "optionGroups": [{"name": "A", "options": []}]}),
            ),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let token = path.starts_with("/admin").then_some(admin.as_str());
        let answer = shop.send(method, &path, token, None, body).await;
        assert_eq!(
            (answer.status, answer.body["error"]["code"].as_str()),
            (status, Some(code)),
            "{path}: {}",
            answer.body
        );
    }
}
