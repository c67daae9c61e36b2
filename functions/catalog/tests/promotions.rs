//! Promotions and selling prices against the real MariaDB of the local stack: the winning
//! promotion sets the selling price of the product and every SKU, each change is announced to
//! ordering (`sku-price-changed`), browse filters and sorts on the selling price, and windows
//! in the future open and close when the schedule runs past them.

use axum::Router;
use axum::http::StatusCode;
use catalog::http::{
    CatalogApi, browse_products_routes, create_product_routes, get_product_routes, list_promotions_routes,
    manage_promotions_routes,
};
use chrono::{Duration, SecondsFormat, Utc};
use events::EventType;
use events::catalog::SkuPriceChangedV1;
use security::Role;
use serde_json::{Value, json};
use testkit::app::TestApp;

async fn spawn_app() -> TestApp {
    TestApp::spawn("catalog", |pool, verifier| {
        let api = CatalogApi::new(pool);
        Router::new()
            .merge(create_product_routes(api.clone(), verifier.clone()))
            .merge(manage_promotions_routes(api.clone(), verifier))
            .merge(list_promotions_routes(api.clone()))
            .merge(browse_products_routes(api.clone()))
            .merge(get_product_routes(api))
    })
    .await
}

async fn admin(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    app.call(method, path, Some(Role::Admin), body).await
}

async fn product(app: &TestApp, id: &str) -> Value {
    app.call("GET", &format!("/products/{id}"), None, None).await.1["data"].clone()
}

/// The selling prices ordering was told, in order.
async fn announced_prices(app: &TestApp) -> Vec<(String, i64)> {
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT payload FROM outbox WHERE type = ? ORDER BY occurred_at, id")
            .bind(SkuPriceChangedV1::NAME)
            .fetch_all(&app.database.pool)
            .await
            .expect("outbox");
    rows.iter()
        .map(|payload| {
            let payload: Value = serde_json::from_str(payload).expect("json");
            (
                payload["sku"].as_str().unwrap_or_default().to_owned(),
                payload["priceMinor"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

fn at(time: chrono::DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

async fn tee_and_cup(app: &TestApp) {
    let tee = json!({"productId": "tee", "name": "Tee", "priceMinor": 1000, "currency": "EUR",
                     "optionGroups": [{"name": "Size", "options": [{"name": "S"}, {"name": "XL", "surchargeMinor": 500}]}]});
    let cup = json!({"productId": "cup", "name": "Cup", "priceMinor": 900, "currency": "EUR"});
    for body in [tee, cup] {
        assert_eq!(
            admin(app, "POST", "/admin/products", Some(body)).await.0,
            StatusCode::CREATED
        );
    }
}

/// The list prices ordering was told beside the selling prices, by SKU, in order.
async fn announced_list_prices(app: &TestApp, event_type: &str) -> Vec<(String, i64, Option<i64>)> {
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT payload FROM outbox WHERE type = ? ORDER BY occurred_at, id")
            .bind(event_type)
            .fetch_all(&app.database.pool)
            .await
            .expect("outbox");
    rows.iter()
        .map(|payload| {
            let payload: Value = serde_json::from_str(payload).expect("json");
            (
                payload["sku"].as_str().unwrap_or_default().to_owned(),
                payload["priceMinor"].as_i64().unwrap_or(-1),
                payload["listPriceMinor"].as_i64(),
            )
        })
        .collect()
}

#[tokio::test]
async fn sku_events_carry_the_list_price_beside_the_selling_price() {
    let app = spawn_app().await;
    tee_and_cup(&app).await;
    assert_eq!(
        announced_list_prices(&app, events::catalog::SkuCreatedV1::NAME).await,
        [
            ("tee-1".to_owned(), 1000, Some(1000)),
            ("tee-2".to_owned(), 1500, Some(1500)),
            ("cup".to_owned(), 900, Some(900))
        ]
    );
    let (status, body) = admin(
        &app,
        "POST",
        "/admin/products/tee/promotions",
        Some(json!({"name": "Winter sale", "discountType": "RATE", "discountValue": 20})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        announced_list_prices(&app, SkuPriceChangedV1::NAME).await,
        [
            ("tee-1".to_owned(), 800, Some(1000)),
            ("tee-2".to_owned(), 1200, Some(1500))
        ]
    );
    app.database.drop().await;
}

#[tokio::test]
async fn a_running_promotion_sets_the_selling_price_of_every_sku_and_browse_uses_it() {
    let app = spawn_app().await;
    tee_and_cup(&app).await;

    let (status, body) = admin(
        &app,
        "POST",
        "/admin/products/tee/promotions",
        Some(json!({"name": "Winter sale", "discountType": "RATE", "discountValue": 20})),
    )
    .await;

    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["active"], true);
    let tee = product(&app, "tee").await;
    assert_eq!(
        (&tee["sellingPriceMinor"], &tee["discountRate"]),
        (&json!(800), &json!(20))
    );
    assert_eq!(
        tee["skus"][1]["sellingPriceMinor"], 1200,
        "XL: (1000 + 500) - 20 %"
    );
    assert_eq!(
        announced_prices(&app).await,
        [("tee-1".to_owned(), 800), ("tee-2".to_owned(), 1200)]
    );

    // Browse filters and sorts on what a shopper pays: the tee (800) under the cup (900).
    let (_, found) = app
        .call("GET", "/products?maxPrice=850&sort=price_asc", None, None)
        .await;
    assert_eq!(found["data"]["total"], 1);
    assert_eq!(found["data"]["products"][0]["productId"], "tee");
    let (_, sorted) = app.call("GET", "/products?sort=price_asc", None, None).await;
    assert_eq!(sorted["data"]["products"][0]["productId"], "tee");

    // Ending it restores the list prices, announced again.
    let promotion = body["data"]["promotionId"].as_i64().expect("id");
    let path = format!("/admin/products/tee/promotions/{promotion}");
    assert_eq!(admin(&app, "DELETE", &path, None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        admin(&app, "DELETE", &path, None).await.0,
        StatusCode::NO_CONTENT,
        "ending twice is harmless"
    );
    assert_eq!(product(&app, "tee").await["sellingPriceMinor"], 1000);
    assert_eq!(announced_prices(&app).await.len(), 4);
    let (_, listed) = app.call("GET", "/products/tee/promotions", None, None).await;
    assert_eq!(listed["data"], json!([]));
    app.database.drop().await;
}

#[tokio::test]
async fn windows_in_the_future_open_and_close_when_the_schedule_runs_past_them() {
    let app = spawn_app().await;
    tee_and_cup(&app).await;
    let start = Utc::now() + Duration::hours(1);
    let end = start + Duration::hours(2);
    let (status, body) = admin(
        &app,
        "POST",
        "/admin/products/cup/promotions",
        Some(
            json!({"name": "Launch", "discountType": "AMOUNT", "discountValue": 100,
                    "startsAt": at(start), "endsAt": at(end)}),
        ),
    )
    .await;
    assert_eq!(
        (status, &body["data"]["active"]),
        (StatusCode::CREATED, &json!(false)),
        "{body}"
    );
    assert_eq!(product(&app, "cup").await["sellingPriceMinor"], 900, "not yet");
    let (_, listed) = app.call("GET", "/products/cup/promotions", None, None).await;
    assert_eq!(
        listed["data"][0]["name"], "Launch",
        "a promotion to come is listed"
    );

    let pool = &app.database.pool;
    assert_eq!(
        catalog::promotions::apply_schedule(pool, Utc::now(), 100)
            .await
            .expect("run"),
        0
    );
    assert_eq!(
        catalog::promotions::apply_schedule(pool, start + Duration::seconds(1), 100)
            .await
            .expect("run"),
        1
    );
    assert_eq!(product(&app, "cup").await["sellingPriceMinor"], 800);
    assert_eq!(
        catalog::promotions::apply_schedule(pool, start + Duration::seconds(2), 100)
            .await
            .expect("run"),
        0,
        "nothing opened or closed since"
    );
    // A pause of the schedule is caught up: the window closed while it did not run.
    assert_eq!(
        catalog::promotions::apply_schedule(pool, end + Duration::hours(5), 100)
            .await
            .expect("run"),
        1
    );
    assert_eq!(product(&app, "cup").await["sellingPriceMinor"], 900);
    assert_eq!(
        announced_prices(&app).await,
        [("cup".to_owned(), 800), ("cup".to_owned(), 900)]
    );
    app.database.drop().await;
}

#[tokio::test]
async fn the_lowest_priority_number_wins_and_among_equals_the_lowest_price() {
    let app = spawn_app().await;
    tee_and_cup(&app).await;
    for (name, kind, value, priority) in [
        ("Members", "RATE", 50, 5),
        ("Regular", "RATE", 10, 1),
        ("Coupon", "AMOUNT", 150, 1),
    ] {
        let body = json!({"name": name, "discountType": kind, "discountValue": value, "priority": priority});
        assert_eq!(
            admin(&app, "POST", "/admin/products/cup/promotions", Some(body))
                .await
                .0,
            StatusCode::CREATED
        );
    }
    let cup = product(&app, "cup").await;
    assert_eq!(
        (&cup["sellingPriceMinor"], &cup["discountRate"]),
        (&json!(750), &json!(16))
    );
    app.database.drop().await;
}

#[tokio::test]
async fn bad_promotions_are_refused_with_stable_codes_and_change_no_price() {
    let app = spawn_app().await;
    tee_and_cup(&app).await;
    let now = Utc::now();
    let cases = [
        (
            json!({"name": "x", "discountType": "RATE", "discountValue": 91}),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            json!({"name": "x", "discountType": "PERCENT", "discountValue": 5}),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            json!({"name": "x", "discountType": "RATE", "discountValue": 5, "startsAt": at(now), "endsAt": at(now - Duration::hours(1))}),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            json!({"name": "x", "discountType": "RATE", "discountValue": 5, "startsAt": "next tuesday"}),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            json!({"name": "x", "discountType": "RATE", "discountValue": 5, "priority": 5000}),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            json!({"name": "x", "discountType": "AMOUNT", "discountValue": 900}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "DISCOUNT_TOO_LARGE",
        ),
    ];
    for (body, status, code) in cases {
        let (answered, reply) =
            admin(&app, "POST", "/admin/products/cup/promotions", Some(body.clone())).await;
        assert_eq!(
            (answered, reply["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}: {reply}"
        );
    }
    let ok = json!({"name": "x", "discountType": "RATE", "discountValue": 5});
    let (missing, _) = admin(&app, "POST", "/admin/products/nope/promotions", Some(ok.clone())).await;
    assert_eq!(missing, StatusCode::NOT_FOUND);
    let (customer, _) = app
        .call(
            "POST",
            "/admin/products/cup/promotions",
            Some(Role::Customer),
            Some(ok),
        )
        .await;
    assert_eq!(customer, StatusCode::FORBIDDEN);
    let (unknown, body) = admin(&app, "DELETE", "/admin/products/cup/promotions/999999", None).await;
    assert_eq!(
        (unknown, &body["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("PROMOTION_NOT_FOUND"))
    );
    assert_eq!(product(&app, "cup").await["sellingPriceMinor"], 900);
    assert!(announced_prices(&app).await.is_empty());
    app.database.drop().await;
}
