//! Replaying the catalog's and inventory's topics changes no table: a product with options is
//! created, priced by a promotion, stocked, sold and has an option removed through the gateway;
//! then every event about it on `commerce.catalog.product` and `commerce.inventory.stock` (and
//! its order's `order.confirmed`) is delivered again with the replay tool to every function that
//! consumes it, and every row those functions write is compared before and after.

use e2e::platform::replay;
use e2e::projection::admin;
use e2e::shop::{SETTLE, Shop, order_id};
use reqwest::{Method, StatusCode};
use security::Role;
use serde_json::json;
use sqlx::MySqlPool;
use uuid::Uuid;

/// Every row the consumers of the replayed topics write for this product and its SKUs, as text.
async fn snapshot(pool: &MySqlPool, product_id: &str) -> Vec<String> {
    let prefix = format!("{product_id}%");
    let queries = [
        "SELECT CONCAT_WS('|', product_id, product_of, name, price_minor, orderable, sku_active, last_event_at)
         FROM ordering.product_price WHERE product_id LIKE ? ORDER BY product_id",
        "SELECT CONCAT_WS('|', sku, on_hand, reserved) FROM inventory.stock WHERE sku LIKE ? ORDER BY sku",
        "SELECT CONCAT_WS('|', id, sku, order_id, action, quantity) FROM inventory.stock_change
         WHERE sku LIKE ? ORDER BY id",
        "SELECT CONCAT_WS('|', sku, status, price_minor, selling_price_minor, in_stock, stock_event_at)
         FROM catalog.sku WHERE sku LIKE ? ORDER BY sku",
        "SELECT CONCAT_WS('|', product_id, sales_count, available, selling_price_minor)
         FROM catalog.product WHERE product_id LIKE ?",
        "SELECT CONCAT_WS('|', order_id, sku, quantity) FROM catalog.sold_line WHERE sku LIKE ? ORDER BY order_id, sku",
    ];
    let mut rows = Vec::new();
    for query in queries {
        let found: Vec<Option<String>> = sqlx::query_scalar(query)
            .bind(&prefix)
            .fetch_all(pool)
            .await
            .expect("snapshot query");
        rows.extend(found.into_iter().flatten());
    }
    rows
}

#[tokio::test]
async fn replaying_the_catalog_and_inventory_topics_changes_no_table() {
    let shop = Shop::new();
    let admin_token = shop.token(Uuid::now_v7(), Role::Admin);
    let customer = shop.token(Uuid::now_v7(), Role::Customer);
    let product_id = format!("replay-{}", &Uuid::now_v7().simple().to_string()[16..]);
    let created = shop
        .send(
            Method::POST,
            "/admin/products",
            Some(&admin_token),
            None,
            Some(json!({"productId": product_id, "name": "Replayed mug", "priceMinor": 2_000, "currency": "EUR",
                        "optionGroups": [{"name": "Colour", "options": [{"name": "Red"}, {"name": "Blue"}]}]})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let (red, blue) = (format!("{product_id}-1"), format!("{product_id}-2"));
    let promoted = shop
        .send(
            Method::POST,
            &format!("/admin/products/{product_id}/promotions"),
            Some(&admin_token),
            None,
            Some(json!({"name": "Replay sale", "discountType": "RATE", "discountValue": 25})),
        )
        .await;
    assert_eq!(promoted.status, StatusCode::CREATED, "{}", promoted.body);
    // Stock opens from sku-created; then set it, sell some, and remove an option.
    SETTLE
        .until(
            || {
                shop.send(
                    Method::POST,
                    "/inventory/availability",
                    None,
                    None,
                    Some(json!({"skus": [red, blue]})),
                )
            },
            |answer| answer.body["data"]["unknown"] == json!([]),
        )
        .await;
    for sku in [&red, &blue] {
        let stocked = shop
            .send(
                Method::PUT,
                &format!("/admin/inventory/{sku}"),
                Some(&admin_token),
                None,
                Some(json!({"onHand": 4})),
            )
            .await;
        assert_eq!(stocked.status, StatusCode::OK, "{}", stocked.body);
    }
    let order = order_id(
        &shop
            .place(&customer, &format!("{product_id}-order"), &red, 4, "tok_approve")
            .await,
    );
    let settled = shop.settled(&customer, &order).await;
    assert_eq!(
        (&settled["status"], &settled["totalMinor"]),
        (&json!("CONFIRMED"), &json!(6_000)),
        "{settled}"
    );
    let page = shop
        .send(Method::GET, &format!("/products/{product_id}"), None, None, None)
        .await;
    let blue_option = page.body["data"]["optionGroups"][0]["options"][1]["optionId"]
        .as_i64()
        .expect("option");
    let removed = shop
        .send(
            Method::DELETE,
            &format!("/admin/products/{product_id}/options/{blue_option}"),
            Some(&admin_token),
            None,
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    // Wait until every consumer has what it will get: sales counted, red sold out (depleted),
    // blue's deactivation known to ordering.
    let pool = admin().await;
    let settled_state = |rows: &Vec<String>| {
        rows.iter()
            .any(|row| row.starts_with(&format!("{product_id}|4|0|")))
            && rows
                .iter()
                .any(|row| row.starts_with(&format!("{blue}|{product_id}|")) && row.contains("|1|0|"))
    };
    let before = SETTLE.until(|| snapshot(&pool, &product_id), settled_state).await;
    assert!(settled_state(&before), "the product never settled: {before:#?}");

    let replays = [
        (
            "project-catalog-product",
            "commerce.catalog.product",
            product_id.as_str(),
        ),
        ("open-sku-stock", "commerce.catalog.product", product_id.as_str()),
        (
            "project-stock-availability",
            "commerce.inventory.stock",
            red.as_str(),
        ),
        (
            "project-stock-availability",
            "commerce.inventory.stock",
            blue.as_str(),
        ),
        ("record-product-sales", "commerce.ordering.order", order.as_str()),
    ];
    let mut delivered = 0;
    for (function, topic, key) in replays {
        let replayed = replay(function, topic, &["--key", key]);
        assert_eq!(replayed.dead_lettered, 0, "{function} on {topic}");
        delivered += replayed.acknowledged;
    }

    // Product events: created, 2 SKUs, 2 promotion prices, 1 deactivation; stock: red's
    // restore and depletion, blue's restore; the order's events.
    assert!(delivered >= 15, "the events were delivered again ({delivered})");
    assert_eq!(snapshot(&pool, &product_id).await, before);
}
