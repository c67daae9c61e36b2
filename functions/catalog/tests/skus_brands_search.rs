//! Options and SKUs, brands and keyword search, through the catalog's HTTP functions called
//! in-process against the real MariaDB of the local stack.

use axum::Router;
use axum::http::StatusCode;
use catalog::http::{
    CatalogApi, browse_products_routes, change_price_routes, change_product_options_routes,
    create_category_routes, create_product_routes, get_product_routes, list_brands_routes,
    manage_brands_routes, update_product_routes,
};
use events::EventType;
use events::catalog::{ProductCreatedV1, SkuCreatedV1, SkuDeactivatedV1, SkuPriceChangedV1};
use security::Role;
use serde_json::{Value, json};
use testkit::app::TestApp;

async fn spawn_app() -> TestApp {
    TestApp::spawn("catalog", |pool, verifier| {
        let api = CatalogApi::new(pool);
        Router::new()
            .merge(create_product_routes(api.clone(), verifier.clone()))
            .merge(update_product_routes(api.clone(), verifier.clone()))
            .merge(change_price_routes(api.clone(), verifier.clone()))
            .merge(change_product_options_routes(api.clone(), verifier.clone()))
            .merge(create_category_routes(api.clone(), verifier.clone()))
            .merge(manage_brands_routes(api.clone(), verifier))
            .merge(list_brands_routes(api.clone()))
            .merge(browse_products_routes(api.clone()))
            .merge(get_product_routes(api))
    })
    .await
}

async fn admin(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    app.call(method, path, Some(Role::Admin), body).await
}

/// `POST /admin/brands` as an admin.
async fn create_brand(app: &TestApp, brand_id: &str, name: &str) -> (StatusCode, Value) {
    admin(
        app,
        "POST",
        "/admin/brands",
        Some(json!({"brandId": brand_id, "name": name})),
    )
    .await
}

async fn outbox(app: &TestApp) -> Vec<(String, Value)> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT type, payload FROM outbox ORDER BY occurred_at, id")
            .fetch_all(&app.database.pool)
            .await
            .expect("outbox");
    rows.into_iter()
        .map(|(ty, payload)| (ty, serde_json::from_str(&payload).expect("json")))
        .collect()
}

fn of_type<'a>(events: &'a [(String, Value)], name: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|(ty, _)| ty == name)
        .map(|(_, payload)| payload)
        .collect()
}

fn tee() -> Value {
    json!({
        "productId": "tee", "name": "T-shirt", "priceMinor": 1000, "currency": "EUR",
        "optionGroups": [
            {"name": "Colour", "options": [{"name": "Red"}, {"name": "Blue", "surchargeMinor": 100}]},
            {"name": "Size", "options": [{"name": "S"}, {"name": "M"}, {"name": "L", "surchargeMinor": 250}]}
        ]
    })
}

fn ids(body: &Value) -> Vec<String> {
    body["data"]["products"]
        .as_array()
        .expect("products")
        .iter()
        .filter_map(|product| product["productId"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_product_with_two_option_groups_is_sold_as_every_combination_priced_base_plus_surcharges() {
    let app = spawn_app().await;

    let (status, body) = admin(&app, "POST", "/admin/products", Some(tee())).await;

    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["hasOptions"], true);
    let events = outbox(&app).await;
    let created = of_type(&events, ProductCreatedV1::NAME);
    assert_eq!(
        created[0]["hasOptions"], true,
        "ordering must not sell the product id itself"
    );
    let skus = of_type(&events, SkuCreatedV1::NAME);
    assert_eq!(skus.len(), 6);
    let blue_large = skus
        .iter()
        .find(|sku| sku["options"] == json!({"Colour": "Blue", "Size": "L"}))
        .expect("Blue/L");
    assert_eq!(blue_large["priceMinor"], 1350);
    assert_eq!(blue_large["name"], "T-shirt (Blue, L)");

    let (status, page) = app.call("GET", "/products/tee", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["data"]["optionGroups"][1]["options"][2]["name"], "L");
    assert_eq!(page["data"]["skus"].as_array().map(Vec::len), Some(6));

    let (status, found) = app
        .call("GET", "/products/tee/skus?Size=L&Colour=Blue", None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["data"]["sku"], blue_large["sku"]);
    assert_eq!(found["data"]["priceMinor"], 1350);
    app.database.drop().await;
}

#[tokio::test]
async fn a_choice_of_options_that_names_no_sku_is_a_404_never_a_500() {
    let app = spawn_app().await;
    admin(&app, "POST", "/admin/products", Some(tee())).await;

    for (path, code) in [
        ("/products/tee/skus?Colour=Blue", "SKU_NOT_FOUND"),
        ("/products/tee/skus", "SKU_NOT_FOUND"),
        ("/products/tee/skus?Colour=Green&Size=S", "SKU_NOT_FOUND"),
        (
            "/products/tee/skus?Colour=Red&Size=S&Sleeve=Long",
            "SKU_NOT_FOUND",
        ),
        ("/products/no-such-thing/skus?Colour=Red", "PRODUCT_NOT_FOUND"),
        ("/products/not%20an%20id/skus", "PRODUCT_NOT_FOUND"),
    ] {
        let (status, body) = app.call("GET", path, None, None).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some(code)),
            "{path}"
        );
    }
    app.database.drop().await;
}

#[tokio::test]
async fn a_product_without_options_is_one_sku_under_its_own_id() {
    let app = spawn_app().await;
    let cup = json!({"productId": "cup", "name": "Cup", "priceMinor": 500, "currency": "EUR"});

    admin(&app, "POST", "/admin/products", Some(cup)).await;

    let events = outbox(&app).await;
    let skus = of_type(&events, SkuCreatedV1::NAME);
    assert_eq!(skus.len(), 1);
    assert_eq!(
        (skus[0]["sku"].as_str(), &skus[0]["options"]),
        (Some("cup"), &json!({}))
    );
    let (_, found) = app.call("GET", "/products/cup/skus", None, None).await;
    assert_eq!(found["data"]["sku"], "cup");
    app.database.drop().await;
}

#[tokio::test]
async fn adding_an_option_makes_the_skus_it_completes_and_removing_one_deactivates_its_skus_for_good() {
    let app = spawn_app().await;
    let (_, product) = admin(&app, "POST", "/admin/products", Some(tee())).await;
    let colour_group = product["data"]["productId"].clone();
    assert_eq!(colour_group, "tee");
    let (_, page) = app.call("GET", "/products/tee", None, None).await;
    let colour = page["data"]["optionGroups"][0]["groupId"]
        .as_i64()
        .expect("group id");
    let red = page["data"]["optionGroups"][0]["options"][0]["optionId"]
        .as_i64()
        .expect("option id");

    let (status, added) = admin(
        &app,
        "POST",
        "/admin/products/tee/options",
        Some(json!({"groupId": colour, "options": [{"name": "Green", "surchargeMinor": 50}]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{added}");
    let active = |body: &Value| {
        body["data"]["skus"]
            .as_array()
            .expect("skus")
            .iter()
            .filter(|sku| sku["status"] == "ACTIVE")
            .count()
    };
    assert_eq!(active(&added), 9, "three colours by three sizes");

    let (status, removed) = admin(
        &app,
        "DELETE",
        &format!("/admin/products/tee/options/{red}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert_eq!(active(&removed), 6);
    let (status, body) = app
        .call("GET", "/products/tee/skus?Colour=Red&Size=S", None, None)
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("SKU_NOT_FOUND"))
    );

    let events = outbox(&app).await;
    assert_eq!(of_type(&events, SkuCreatedV1::NAME).len(), 9);
    let deactivated = of_type(&events, SkuDeactivatedV1::NAME);
    assert_eq!(deactivated.len(), 3);
    // The SKUs of the new colour are numbered after the first six, never reusing a number.
    let green = of_type(&events, SkuCreatedV1::NAME)
        .into_iter()
        .filter(|sku| sku["options"]["Colour"] == "Green")
        .map(|sku| sku["sku"].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(green, ["tee-7", "tee-8", "tee-9"]);

    let (again, body) = admin(
        &app,
        "DELETE",
        &format!("/admin/products/tee/options/{red}"),
        None,
    )
    .await;
    assert_eq!(
        (again, &body["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("OPTION_NOT_FOUND"))
    );
    app.database.drop().await;
}

#[tokio::test]
async fn option_rules_are_enforced_with_stable_codes_and_nothing_is_written() {
    let app = spawn_app().await;
    let twenty: Vec<Value> = (0..20).map(|n| json!({"name": format!("o{n}")})).collect();
    let too_many_skus = json!({"productId": "big", "name": "Big", "priceMinor": 1, "currency": "EUR",
        "optionGroups": [{"name": "A", "options": twenty}, {"name": "B", "options": twenty},
                         {"name": "C", "options": [{"name": "x"}, {"name": "y"}]}]});
    let six_groups: Vec<Value> = (0..6)
        .map(|n| json!({"name": format!("G{n}"), "options": [{"name": "x"}]}))
        .collect();
    let cases = [
        (too_many_skus, StatusCode::BAD_REQUEST, "VALIDATION_FAILED"),
        (
            json!({"productId": "g", "name": "G", "priceMinor": 1, "currency": "EUR", "optionGroups": six_groups}),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            json!({"productId": "e", "name": "E", "priceMinor": 1, "currency": "EUR",
                   "optionGroups": [{"name": "Size", "options": []}]}),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            json!({"productId": "n", "name": "N", "priceMinor": 1, "currency": "EUR",
                   "optionGroups": [{"name": "Size", "options": [{"name": "S", "surchargeMinor": -5}]}]}),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            json!({"productId": "x".repeat(60), "name": "Long", "priceMinor": 1, "currency": "EUR",
                   "optionGroups": [{"name": "Size", "options": [{"name": "S"}]}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_OPTIONS",
        ),
        (
            json!({"productId": "gold", "name": "Gold", "priceMinor": 999_999_999, "currency": "EUR",
                   "optionGroups": [{"name": "Carat", "options": [{"name": "24", "surchargeMinor": 10}]}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "SKU_PRICE_TOO_HIGH",
        ),
    ];
    for (body, status, code) in cases {
        let (answered, reply) = admin(&app, "POST", "/admin/products", Some(body.clone())).await;
        assert_eq!(
            (answered, reply["error"]["code"].as_str()),
            (status, Some(code)),
            "{body} -> {reply}"
        );
    }
    assert!(outbox(&app).await.is_empty());

    // Adding options runs into the same limits, and a group needs one option left.
    let (_, one) = admin(
        &app,
        "POST",
        "/admin/products",
        Some(json!({"productId": "mug", "name": "Mug", "priceMinor": 100, "currency": "EUR",
               "optionGroups": [{"name": "A", "options": twenty}, {"name": "B", "options": [{"name": "only"}]},
                                {"name": "C", "options": [{"name": "c0"}, {"name": "c1"}]}]})),
    )
    .await;
    let (_, page) = app.call("GET", "/products/mug", None, None).await;
    assert_eq!(one["data"]["hasOptions"], true);
    let group_a = page["data"]["optionGroups"][0]["groupId"]
        .as_i64()
        .expect("group");
    let group_b = page["data"]["optionGroups"][1]["groupId"]
        .as_i64()
        .expect("group");
    let group_c = page["data"]["optionGroups"][2]["groupId"]
        .as_i64()
        .expect("group");
    let only = page["data"]["optionGroups"][1]["options"][0]["optionId"]
        .as_i64()
        .expect("option");
    let options = |count: usize| {
        (0..count)
            .map(|n| json!({"name": format!("b{n}")}))
            .collect::<Vec<Value>>()
    };
    for (group, options, code) in [
        (group_b, options(20), "INVALID_OPTIONS"),
        (group_b, options(19), "TOO_MANY_SKUS"),
        (group_a, options(1), "INVALID_OPTIONS"),
        (group_c, vec![json!({"name": "C0"})], "INVALID_OPTIONS"),
    ] {
        let (status, body) = admin(
            &app,
            "POST",
            "/admin/products/mug/options",
            Some(json!({"groupId": group, "options": options})),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{body}"
        );
    }
    let (_, unchanged) = app.call("GET", "/products/mug", None, None).await;
    assert_eq!(
        unchanged["data"]["skus"].as_array().map(Vec::len),
        Some(40),
        "refused changes made nothing"
    );
    let (status, body) = admin(
        &app,
        "DELETE",
        &format!("/admin/products/mug/options/{only}"),
        None,
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::CONFLICT, &json!("LAST_OPTION"))
    );
    let (status, body) = admin(
        &app,
        "POST",
        "/admin/products/mug/options",
        Some(json!({"groupId": 999_999, "options": [{"name": "z"}]})),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("OPTION_GROUP_NOT_FOUND"))
    );
    app.database.drop().await;
}

#[tokio::test]
async fn a_new_base_price_reprices_every_active_sku_and_announces_each() {
    let app = spawn_app().await;
    admin(&app, "POST", "/admin/products", Some(tee())).await;

    let (status, _) = admin(
        &app,
        "PUT",
        "/admin/products/tee/price",
        Some(json!({"priceMinor": 2000, "currency": "EUR"})),
    )
    .await;

    assert_eq!(status, StatusCode::OK);
    let events = outbox(&app).await;
    let repriced = of_type(&events, SkuPriceChangedV1::NAME);
    assert_eq!(repriced.len(), 6);
    let (_, found) = app
        .call("GET", "/products/tee/skus?Colour=Blue&Size=L", None, None)
        .await;
    assert_eq!(found["data"]["priceMinor"], 2350);
    app.database.drop().await;
}

#[tokio::test]
async fn brands_are_created_renamed_listed_and_deleted_softly() {
    let app = spawn_app().await;
    let (status, _) = create_brand(&app, "acme", "Acme").await;
    assert_eq!(status, StatusCode::CREATED);
    let (twice, body) = create_brand(&app, "acme", "Acme").await;
    assert_eq!(
        (twice, &body["error"]["code"]),
        (StatusCode::CONFLICT, &json!("BRAND_EXISTS"))
    );
    let (bad, _) = create_brand(&app, "Not A Slug", "").await;
    assert_eq!(bad, StatusCode::BAD_REQUEST);
    let (customer, _) = app
        .call(
            "POST",
            "/admin/brands",
            Some(Role::Customer),
            Some(json!({"brandId": "x", "name": "X"})),
        )
        .await;
    assert_eq!(customer, StatusCode::FORBIDDEN);

    let (_, renamed) = admin(
        &app,
        "PUT",
        "/admin/brands/acme",
        Some(json!({"name": "ACME Corp"})),
    )
    .await;
    assert_eq!(renamed["data"]["name"], "ACME Corp");
    let mug =
        json!({"productId": "mug", "name": "Mug", "brandId": "acme", "priceMinor": 100, "currency": "EUR"});
    assert_eq!(
        admin(&app, "POST", "/admin/products", Some(mug)).await.0,
        StatusCode::CREATED
    );
    let (_, listed) = app.call("GET", "/brands", None, None).await;
    assert_eq!(listed["data"][0]["brandId"], "acme");

    assert_eq!(
        admin(&app, "DELETE", "/admin/brands/acme", None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        admin(&app, "DELETE", "/admin/brands/acme", None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        admin(&app, "DELETE", "/admin/brands/never", None).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, listed) = app.call("GET", "/brands", None, None).await;
    assert_eq!(listed["data"], json!([]));
    let (gone, _) = app.call("GET", "/brands/acme", None, None).await;
    assert_eq!(gone, StatusCode::NOT_FOUND);
    let cup =
        json!({"productId": "cup", "name": "Cup", "brandId": "acme", "priceMinor": 100, "currency": "EUR"});
    let (refused, body) = admin(&app, "POST", "/admin/products", Some(cup)).await;
    assert_eq!(
        (refused, &body["error"]["code"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("UNKNOWN_BRAND"))
    );
    // The mug keeps its brand, and the brand filter still finds it.
    let (_, found) = app.call("GET", "/products?brand=acme", None, None).await;
    assert_eq!(ids(&found), ["mug"]);

    // The deleted brand's id brings it back under the new name; then it exists again.
    let (back, body) = create_brand(&app, "acme", "Acme Again").await;
    assert_eq!(
        (back, &body["data"]["name"]),
        (StatusCode::CREATED, &json!("Acme Again"))
    );
    let (_, listed) = app.call("GET", "/brands", None, None).await;
    assert_eq!(listed["data"][0]["brandId"], "acme");
    let cup =
        json!({"productId": "cup", "name": "Cup", "brandId": "acme", "priceMinor": 100, "currency": "EUR"});
    assert_eq!(
        admin(&app, "POST", "/admin/products", Some(cup)).await.0,
        StatusCode::CREATED
    );
    let (again, body) = create_brand(&app, "acme", "Acme").await;
    assert_eq!(
        (again, &body["error"]["code"]),
        (StatusCode::CONFLICT, &json!("BRAND_EXISTS"))
    );
    app.database.drop().await;
}

#[tokio::test]
async fn keywords_find_korean_words_inside_compounds_and_english_prefixes_ranked_by_relevance() {
    let app = spawn_app().await;
    create_brand(&app, "sori", "소리랩").await;
    for (id, name, description, price) in [
        (
            "buds",
            "블루투스 무선이어폰 화이트",
            "Wireless earphones with a charging case",
            59_000,
        ),
        (
            "cable",
            "이어폰 연장 케이블",
            "Extension cable for headphones",
            9_000,
        ),
        ("phone-case", "갤럭시S24 케이스", "Slim case", 15_000),
        (
            "head",
            "Noise cancelling headphones",
            "Over-ear, 30 hours",
            199_000,
        ),
        ("mouse", "무선 마우스", "Quiet wireless mouse", 25_000),
    ] {
        let body = json!({"productId": id, "name": name, "description": description, "brandId": "sori",
                          "priceMinor": price, "currency": "KRW"});
        assert_eq!(
            admin(&app, "POST", "/admin/products", Some(body)).await.0,
            StatusCode::CREATED
        );
    }
    let search = |query: &str| format!("/products?q={}", urlencode(query));

    let (status, found) = app.call("GET", &search("이어폰"), None, None).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let mut earphones = ids(&found);
    earphones.sort();
    assert_eq!(
        earphones,
        ["buds", "cable"],
        "이어폰 inside 무선이어폰, and on its own"
    );

    let (_, found) = app.call("GET", &search("무선"), None, None).await;
    let mut wireless = ids(&found);
    wireless.sort();
    assert_eq!(wireless, ["buds", "mouse"]);

    let (_, found) = app.call("GET", &search("head"), None, None).await;
    assert_eq!(
        ids(&found),
        ["head", "cable"],
        "a name match ranks above a description match"
    );

    let (_, found) = app.call("GET", &search("s24"), None, None).await;
    assert_eq!(ids(&found), ["phone-case"]);
    let (_, found) = app.call("GET", &search("소리랩"), None, None).await;
    assert_eq!(found["data"]["total"], 5, "the brand's name is searchable too");

    let (_, found) = app
        .call(
            "GET",
            &format!(
                "{}&minPrice=10000&maxPrice=60000&sort=price_asc",
                search("wireless")
            ),
            None,
            None,
        )
        .await;
    assert_eq!(ids(&found), ["mouse", "buds"]);

    for bad in [
        "/products?q=",
        "/products?q=%21%21",
        "/products?minPrice=-1",
        "/products?minPrice=5&maxPrice=4",
    ] {
        let (status, body) = app.call("GET", bad, None, None).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (StatusCode::BAD_REQUEST, &json!("VALIDATION_FAILED")),
            "{bad}"
        );
    }
    app.database.drop().await;
}

/// A query value percent-encoded as a form would send it.
fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn the_seed_runs_again_after_its_brands_were_deleted_and_brings_them_back() {
    let database = store::testing::TestDatabase::with_migrations_of("catalog").await;
    let first = catalog::seed::write(&database.pool, catalog::seed::generate(7, 20), 2, |_| {})
        .await
        .expect("the first run");
    assert_eq!(first.products, 20);
    for brand in catalog::brands::list_brands(&database.pool)
        .await
        .expect("brands")
    {
        let id = catalog::domain::BrandId::parse(&brand.brand_id).expect("a stored id");
        catalog::brands::delete_brand(&database.pool, &id)
            .await
            .expect("deleted");
    }

    // A larger run: the first 20 products exist, the next 10 need the deleted brands.
    let second = catalog::seed::write(&database.pool, catalog::seed::generate(7, 30), 2, |_| {})
        .await
        .expect("a second run after an admin deleted the seed's brands");
    assert_eq!((second.products, second.skipped), (10, 20));
    assert!(
        !catalog::brands::list_brands(&database.pool)
            .await
            .expect("brands")
            .is_empty()
    );
    database.drop().await;
}
