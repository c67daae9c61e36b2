//! Category attributes and product values, through the catalog's HTTP functions called
//! in-process against the real MariaDB of the local stack.

use axum::Router;
use axum::http::StatusCode;
use catalog::http::{
    CatalogApi, browse_products_routes, create_category_routes, create_product_routes, get_product_routes,
    list_category_attributes_routes, manage_category_attributes_routes, set_product_attributes_routes,
};
use security::Role;
use serde_json::{Value, json};
use testkit::app::TestApp;

async fn spawn_app() -> TestApp {
    TestApp::spawn("catalog", |pool, verifier| {
        let api = CatalogApi::new(pool);
        Router::new()
            .merge(create_product_routes(api.clone(), verifier.clone()))
            .merge(create_category_routes(api.clone(), verifier.clone()))
            .merge(manage_category_attributes_routes(api.clone(), verifier.clone()))
            .merge(set_product_attributes_routes(api.clone(), verifier))
            .merge(list_category_attributes_routes(api.clone()))
            .merge(browse_products_routes(api.clone()))
            .merge(get_product_routes(api))
    })
    .await
}

async fn admin(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    app.call(method, path, Some(Role::Admin), body).await
}

async fn category(app: &TestApp, id: &str, parent: Option<&str>) {
    let (status, body) = admin(
        app,
        "POST",
        "/admin/categories",
        Some(json!({"categoryId": id, "name": id, "parentId": parent})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Creates an attribute and answers its id.
async fn attribute(app: &TestApp, category: &str, definition: Value) -> i64 {
    let (status, body) = admin(
        app,
        "POST",
        &format!("/admin/categories/{category}/attributes"),
        Some(definition),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["data"]["attributeId"].as_i64().expect("attributeId")
}

async fn product(app: &TestApp, id: &str, category: Option<&str>) {
    let (status, body) = admin(
        app,
        "POST",
        "/admin/products",
        Some(json!({
            "productId": id, "name": id, "priceMinor": 1000, "currency": "EUR", "categoryId": category
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn set_values(app: &TestApp, product: &str, values: Value) -> (StatusCode, Value) {
    admin(
        app,
        "PUT",
        &format!("/admin/products/{product}/attributes"),
        Some(json!({ "attributes": values })),
    )
    .await
}

fn field_errors(body: &Value) -> Vec<String> {
    body["error"]["fieldErrors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|error| error["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn ids(body: &Value) -> Vec<String> {
    body["data"]["products"]
        .as_array()
        .expect("products")
        .iter()
        .filter_map(|product| product["productId"].as_str().map(str::to_owned))
        .collect()
}

/// Electronics (Warranty: NUMBER, required) with Laptops below it (Colour: ENUM, required;
/// Touch: BOOLEAN; Cpu: STRING). Answers the ids of Warranty, Colour, Touch and Cpu.
async fn laptops(app: &TestApp) -> [i64; 4] {
    category(app, "electronics", None).await;
    category(app, "laptops", Some("electronics")).await;
    let warranty = attribute(
        app,
        "electronics",
        json!({"name": "Warranty", "type": "NUMBER", "required": true}),
    )
    .await;
    let colour = attribute(
        app,
        "laptops",
        json!({"name": "Colour", "type": "ENUM", "required": true, "options": ["Red", "Blue", "Silver"]}),
    )
    .await;
    let touch = attribute(app, "laptops", json!({"name": "Touch", "type": "BOOLEAN"})).await;
    let cpu = attribute(app, "laptops", json!({"name": "Cpu", "type": "STRING"})).await;
    [warranty, colour, touch, cpu]
}

#[tokio::test]
async fn a_category_lists_its_ancestors_attributes_first_as_inherited_unless_asked_not_to() {
    let app = spawn_app().await;
    let [warranty, colour, touch, cpu] = laptops(&app).await;

    let (status, body) = app
        .call("GET", "/categories/laptops/attributes", None, None)
        .await;

    assert_eq!(status, StatusCode::OK, "{body}");
    let listed: Vec<(i64, bool)> = body["data"]
        .as_array()
        .expect("attributes")
        .iter()
        .map(|attribute| {
            (
                attribute["attributeId"].as_i64().expect("id"),
                attribute["inherited"].as_bool().expect("inherited"),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![(warranty, true), (colour, false), (touch, false), (cpu, false)]
    );
    assert_eq!(body["data"][0]["categoryId"], "electronics");
    assert_eq!(body["data"][0]["type"], "NUMBER");
    assert_eq!(body["data"][0]["required"], true);
    assert_eq!(body["data"][1]["options"], json!(["Red", "Blue", "Silver"]));

    let (status, own) = app
        .call(
            "GET",
            "/categories/laptops/attributes?includeInherited=false",
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(own["data"].as_array().map(Vec::len), Some(3));
    app.database.drop().await;
}

#[tokio::test]
async fn an_attribute_name_is_unique_along_a_lineage_and_an_enum_needs_distinct_options() {
    let app = spawn_app().await;
    laptops(&app).await;

    for (category, name) in [
        ("laptops", "warranty"),
        ("electronics", "Colour"),
        ("laptops", "Touch"),
    ] {
        let (status, body) = admin(
            &app,
            "POST",
            &format!("/admin/categories/{category}/attributes"),
            Some(json!({"name": name, "type": "STRING"})),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{category}/{name}: {body}");
        assert_eq!(body["error"]["code"], "ATTRIBUTE_EXISTS");
    }

    let (status, body) = admin(
        &app,
        "POST",
        "/admin/categories/laptops/attributes",
        Some(json!({"name": "Size", "type": "ENUM", "options": ["S", "s"]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_errors(&body), vec!["options"]);

    let (status, body) = admin(
        &app,
        "POST",
        "/admin/categories/laptops/attributes",
        Some(json!({"name": "", "type": "DATE"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(field_errors(&body), vec!["name", "type"]);
    app.database.drop().await;
}

#[tokio::test]
async fn bad_values_are_field_errors_of_their_entry_and_unknown_attributes_are_refused() {
    let app = spawn_app().await;
    let [warranty, colour, touch, _] = laptops(&app).await;
    product(&app, "laptop-1", Some("laptops")).await;

    let (status, body) = set_values(
        &app,
        "laptop-1",
        json!([
            {"attributeId": warranty, "value": "two years"},
            {"attributeId": colour, "value": "Green"},
            {"attributeId": touch, "value": "yes"},
            {"attributeId": 999_999, "value": "x"}
        ]),
    )
    .await;

    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "VALIDATION_FAILED");
    assert_eq!(
        field_errors(&body),
        vec![
            "attributes[0].value",
            "attributes[1].value",
            "attributes[2].value",
            "attributes[3].attributeId"
        ]
    );
    let reasons: Vec<&str> = body["error"]["fieldErrors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|error| error["reason"].as_str())
        .collect();
    assert!(reasons[1].contains("Red, Blue, Silver"), "{reasons:?}");
    app.database.drop().await;
}

#[tokio::test]
async fn every_required_attribute_of_the_lineage_needs_a_value() {
    let app = spawn_app().await;
    let [_, _, touch, _] = laptops(&app).await;
    product(&app, "laptop-1", Some("laptops")).await;

    let (status, body) = set_values(&app, "laptop-1", json!([{"attributeId": touch, "value": true}])).await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "MISSING_REQUIRED_ATTRIBUTES");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("Warranty") && message.contains("Colour"),
        "{message}"
    );
    app.database.drop().await;
}

#[tokio::test]
async fn putting_values_replaces_them_all_and_stores_them_normalized() {
    let app = spawn_app().await;
    let [warranty, colour, touch, cpu] = laptops(&app).await;
    product(&app, "laptop-1", Some("laptops")).await;

    let (status, body) = set_values(
        &app,
        "laptop-1",
        json!([
            {"attributeId": cpu, "value": "  M3 Pro "},
            {"attributeId": warranty, "value": "002.50"},
            {"attributeId": colour, "value": "silver"},
            {"attributeId": touch, "value": "TRUE"}
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = set_values(
        &app,
        "laptop-1",
        json!([
            {"attributeId": colour, "value": "Blue"},
            {"attributeId": warranty, "value": 3}
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = app.call("GET", "/products/laptop-1/attributes", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"],
        json!([
            {"attributeId": warranty, "attributeName": "Warranty", "type": "NUMBER", "value": "3"},
            {"attributeId": colour, "attributeName": "Colour", "type": "ENUM", "value": "Blue"}
        ]),
        "the second PUT replaced every value, Touch and Cpu included"
    );

    let (_, body) = set_values(
        &app,
        "laptop-1",
        json!([
            {"attributeId": colour, "value": "silver"},
            {"attributeId": warranty, "value": "002.50"},
            {"attributeId": touch, "value": "TRUE"}
        ]),
    )
    .await;
    let values: Vec<&str> = body["data"]
        .as_array()
        .expect("values")
        .iter()
        .filter_map(|value| value["value"].as_str())
        .collect();
    assert_eq!(values, vec!["2.5", "Silver", "true"]);
    app.database.drop().await;
}

#[tokio::test]
async fn browse_filters_by_one_or_two_attribute_values_within_a_category() {
    let app = spawn_app().await;
    let [warranty, colour, touch, _] = laptops(&app).await;
    for (id, colour_value, touch_value, years) in [
        ("laptop-red-touch", "Red", "true", "2"),
        ("laptop-red", "Red", "false", "1"),
        ("laptop-blue-touch", "Blue", "true", "2"),
    ] {
        product(&app, id, Some("laptops")).await;
        let (status, body) = set_values(
            &app,
            id,
            json!([
                {"attributeId": warranty, "value": years},
                {"attributeId": colour, "value": colour_value},
                {"attributeId": touch, "value": touch_value}
            ]),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    let (status, red) = app
        .call(
            "GET",
            &format!("/products?category=electronics&sort=name&attr.{colour}=red"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{red}");
    assert_eq!(ids(&red), vec!["laptop-red", "laptop-red-touch"]);
    assert_eq!(red["data"]["total"], 2);

    let (status, red_touch) = app
        .call(
            "GET",
            &format!("/products?category=laptops&attr.{colour}=Red&attr.{touch}=true"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{red_touch}");
    assert_eq!(ids(&red_touch), vec!["laptop-red-touch"]);

    let (status, two_years) = app
        .call(
            "GET",
            &format!("/products?sort=name&attr.{warranty}=2.0"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{two_years}");
    assert_eq!(ids(&two_years), vec!["laptop-blue-touch", "laptop-red-touch"]);

    let (status, bad) = app
        .call(
            "GET",
            &format!("/products?attr.999999=x&attr.{touch}=maybe&attr.nope=1"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    assert_eq!(bad["error"]["code"], "VALIDATION_FAILED");
    assert_eq!(
        field_errors(&bad),
        vec![
            "attr.999999".to_owned(),
            format!("attr.{touch}"),
            "attr.nope".to_owned()
        ]
    );
    app.database.drop().await;
}

#[tokio::test]
async fn an_enum_option_in_use_stays_and_deleting_an_attribute_deletes_its_values() {
    let app = spawn_app().await;
    let [warranty, colour, _, _] = laptops(&app).await;
    product(&app, "laptop-1", Some("laptops")).await;
    set_values(
        &app,
        "laptop-1",
        json!([{"attributeId": warranty, "value": 2}, {"attributeId": colour, "value": "Red"}]),
    )
    .await;
    let path = format!("/admin/categories/laptops/attributes/{colour}");

    let (status, body) = admin(
        &app,
        "PUT",
        &path,
        Some(json!({"name": "Colour", "required": true, "options": ["Blue", "Silver"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "ATTRIBUTE_IN_USE");

    let (status, body) = admin(
        &app,
        "PUT",
        &path,
        Some(json!({"name": "Color", "type": "ENUM", "required": false, "options": ["Red", "Blue", "Gold"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["name"], "Color");
    assert_eq!(body["data"]["options"], json!(["Red", "Blue", "Gold"]));

    let (status, body) = admin(
        &app,
        "PUT",
        &path,
        Some(json!({"name": "Color", "type": "STRING"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(field_errors(&body), vec!["type"]);

    let (status, _) = admin(
        &app,
        "DELETE",
        &format!("/admin/categories/electronics/attributes/{colour}"),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "an inherited attribute is deleted on its own category"
    );
    let (status, _) = admin(&app, "DELETE", &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, body) = app.call("GET", "/products/laptop-1/attributes", None, None).await;
    assert_eq!(body["data"].as_array().map(Vec::len), Some(1));
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM product_attribute_value WHERE attribute_id = ?")
        .bind(colour)
        .fetch_one(&app.database.pool)
        .await
        .expect("count");
    assert_eq!(left, 0);
    let (status, body) = admin(&app, "DELETE", &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "ATTRIBUTE_NOT_FOUND");
    app.database.drop().await;
}

#[tokio::test]
async fn only_admins_write_attributes_and_unknown_things_are_404s() {
    let app = spawn_app().await;
    let [warranty, ..] = laptops(&app).await;
    product(&app, "laptop-1", Some("laptops")).await;
    product(&app, "loose", None).await;

    let definition = json!({"name": "Weight", "type": "NUMBER"});
    let values = json!({"attributes": [{"attributeId": warranty, "value": 1}]});
    for (role, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(Role::Customer), StatusCode::FORBIDDEN),
    ] {
        let (status, _) = app
            .call(
                "POST",
                "/admin/categories/laptops/attributes",
                role,
                Some(definition.clone()),
            )
            .await;
        assert_eq!(status, expected);
        let (status, _) = app
            .call(
                "PUT",
                "/admin/products/laptop-1/attributes",
                role,
                Some(values.clone()),
            )
            .await;
        assert_eq!(status, expected);
    }

    for (method, path, body, code) in [
        (
            "POST",
            "/admin/categories/nowhere/attributes",
            Some(definition.clone()),
            "CATEGORY_NOT_FOUND",
        ),
        (
            "PUT",
            "/admin/products/nothing/attributes",
            Some(values.clone()),
            "PRODUCT_NOT_FOUND",
        ),
        (
            "GET",
            "/categories/nowhere/attributes",
            None,
            "CATEGORY_NOT_FOUND",
        ),
        ("GET", "/products/nothing/attributes", None, "PRODUCT_NOT_FOUND"),
    ] {
        let (status, answer) = admin(&app, method, path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], code);
    }

    let (status, body) = set_values(&app, "loose", json!([])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "PRODUCT_HAS_NO_CATEGORY");
    app.database.drop().await;
}
