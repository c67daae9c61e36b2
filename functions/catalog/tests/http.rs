//! The catalog HTTP functions called in-process (the routers the binaries serve) against the
//! real MariaDB of the local stack.

use events::EventType;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use catalog::http::{
    CatalogApi, activate_product_routes, browse_products_routes, change_price_routes, create_category_routes,
    create_product_routes, discontinue_product_routes, get_product_routes, list_categories_routes,
};
use http_body_util::BodyExt;
use security::{AccessTokenVerifier, Role, SigningKeys, TokenIssuer};
use serde_json::{Value, json};
use store::testing::TestDatabase;
use tower::ServiceExt;
use uuid::Uuid;

struct App {
    database: TestDatabase,
    issuer: TokenIssuer,
    router: Router,
}

impl App {
    async fn spawn() -> Self {
        let database = TestDatabase::with_migrations_of("catalog").await;
        let issuer = TokenIssuer::new(
            SigningKeys::generate("k1"),
            "https://identity.test",
            "commerce",
            Duration::from_secs(300),
        );
        let verifier = Arc::new(AccessTokenVerifier::new(
            issuer.jwks(),
            "https://identity.test",
            "commerce",
        ));
        let api = CatalogApi {
            pool: database.pool.clone(),
        };
        // Every function's routes in one router, as the gateway would route them.
        let routes = Router::new()
            .merge(create_product_routes(api.clone(), Arc::clone(&verifier)))
            .merge(change_price_routes(api.clone(), Arc::clone(&verifier)))
            .merge(discontinue_product_routes(api.clone(), Arc::clone(&verifier)))
            .merge(activate_product_routes(api.clone(), Arc::clone(&verifier)))
            .merge(create_category_routes(api.clone(), verifier))
            .merge(browse_products_routes(api.clone()))
            .merge(get_product_routes(api.clone()))
            .merge(list_categories_routes(api));
        Self {
            router: runtime::http::HttpFunction::new(routes).into_router(),
            issuer,
            database,
        }
    }

    fn token(&self, role: Role) -> String {
        self.issuer.issue(Uuid::now_v7(), &[role]).expect("token").token
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        role: Option<Role>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(role) = role {
            request = request.header("authorization", format!("Bearer {}", self.token(role)));
        }
        let body = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        let response = self
            .router
            .clone()
            .oneshot(request.body(body).expect("request"))
            .await
            .expect("response");
        let status = response.status();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(method, path, Some(Role::Admin), body).await
    }

    async fn product(&self, id: &str, category: &str, price: i64) {
        let (status, body) = self
            .admin(
                "POST",
                "/admin/products",
                Some(
                    json!({"productId": id, "name": format!("Product {id}"), "categoryId": category,
                            "priceMinor": price, "currency": "EUR"}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    async fn outbox(&self) -> Vec<(String, Value)> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT type, payload FROM outbox ORDER BY id")
            .fetch_all(&self.database.pool)
            .await
            .expect("outbox");
        rows.into_iter()
            .map(|(ty, payload)| (ty, serde_json::from_str(&payload).expect("json")))
            .collect()
    }
}

#[tokio::test]
async fn an_admin_creates_a_product_and_ordering_can_read_the_event() {
    let app = App::spawn().await;
    app.admin(
        "POST",
        "/admin/categories",
        Some(json!({"categoryId": "cups", "name": "Cups"})),
    )
    .await;

    app.product("espresso-cup", "cups", 1290).await;

    let (status, body) = app.call("GET", "/products/espresso-cup", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["priceMinor"], 1290);
    assert_eq!(body["data"]["status"], "ACTIVE");
    let events = app.outbox().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, events::catalog::ProductCreatedV1::NAME);
    let created: events::catalog::ProductCreatedV1 =
        serde_json::from_value(events[0].1.clone()).expect("the payload ordering's projection reads");
    assert_eq!(
        (created.product_id.as_str(), created.price_minor),
        ("espresso-cup", 1290)
    );
    app.database.drop().await;
}

#[tokio::test]
async fn only_admins_change_the_catalog() {
    let app = App::spawn().await;
    let product = json!({"productId": "cup", "name": "Cup", "priceMinor": 100, "currency": "EUR"});

    let (anonymous, _) = app
        .call("POST", "/admin/products", None, Some(product.clone()))
        .await;
    let (customer, body) = app
        .call("POST", "/admin/products", Some(Role::Customer), Some(product))
        .await;

    assert_eq!(anonymous, StatusCode::UNAUTHORIZED);
    assert_eq!(customer, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "FORBIDDEN");
    assert!(app.outbox().await.is_empty());
    app.database.drop().await;
}

#[tokio::test]
async fn invalid_products_are_refused_field_by_field_and_nothing_is_written() {
    let app = App::spawn().await;

    let (status, body) = app
        .admin(
            "POST",
            "/admin/products",
            Some(json!({"productId": "a b", "name": " ", "priceMinor": 0, "currency": "EUR"})),
        )
        .await;
    let (unknown_category, _) = app
        .admin(
            "POST",
            "/admin/products",
            Some(json!({"productId": "cup", "name": "Cup", "categoryId": "nope", "priceMinor": 1, "currency": "EUR"})),
        )
        .await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    let fields: Vec<&str> = body["error"]["fieldErrors"]
        .as_array()
        .expect("field errors")
        .iter()
        .filter_map(|field| field["field"].as_str())
        .collect();
    assert_eq!(fields, ["productId", "name", "priceMinor"]);
    assert_eq!(unknown_category, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(app.outbox().await.is_empty());
    app.database.drop().await;
}

#[tokio::test]
async fn browsing_filters_by_a_category_and_its_subcategories_sorts_and_pages() {
    let app = App::spawn().await;
    for category in [
        json!({"categoryId": "kitchen", "name": "Kitchen"}),
        json!({"categoryId": "cups", "name": "Cups", "parentId": "kitchen"}),
        json!({"categoryId": "garden", "name": "Garden"}),
    ] {
        assert_eq!(
            app.admin("POST", "/admin/categories", Some(category)).await.0,
            StatusCode::CREATED
        );
    }
    app.product("pan", "kitchen", 3000).await;
    app.product("cup", "cups", 1000).await;
    app.product("mug", "cups", 2000).await;
    app.product("rake", "garden", 500).await;
    app.admin("POST", "/admin/products/mug/discontinue", None).await;

    let (status, body) = app
        .call(
            "GET",
            "/products?category=kitchen&sort=price_asc&size=1&page=2",
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["total"], 2,
        "pan and cup; the mug is discontinued, the rake elsewhere"
    );
    assert_eq!(body["data"]["products"][0]["productId"], "pan");

    let (_, body) = app.call("GET", "/products?sort=price_desc", None, None).await;
    let ids: Vec<&str> = body["data"]["products"]
        .as_array()
        .expect("products")
        .iter()
        .filter_map(|product| product["productId"].as_str())
        .collect();
    assert_eq!(ids, ["pan", "cup", "rake"]);

    let (status, body) = app
        .call("GET", "/products?sort=random&size=500", None, None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["fieldErrors"].as_array().map(Vec::len), Some(2));

    let (_, tree) = app.call("GET", "/categories", None, None).await;
    assert_eq!(tree["data"][1]["categoryId"], "kitchen");
    assert_eq!(tree["data"][1]["children"][0]["categoryId"], "cups");
    app.database.drop().await;
}

#[tokio::test]
async fn price_changes_discontinuing_and_reactivating_are_announced_once_each() {
    let app = App::spawn().await;
    app.admin(
        "POST",
        "/admin/categories",
        Some(json!({"categoryId": "cups", "name": "Cups"})),
    )
    .await;
    app.product("cup", "cups", 1000).await;

    for _ in 0..2 {
        let (status, body) = app
            .admin(
                "PUT",
                "/admin/products/cup/price",
                Some(json!({"priceMinor": 1200, "currency": "EUR"})),
            )
            .await;
        assert_eq!(
            (status, &body["data"]["priceMinor"]),
            (StatusCode::OK, &json!(1200))
        );
        app.admin("POST", "/admin/products/cup/discontinue", None).await;
    }
    let (_, body) = app.admin("POST", "/admin/products/cup/activate", None).await;
    assert_eq!(body["data"]["status"], "ACTIVE");
    let (missing, _) = app.admin("POST", "/admin/products/nope/activate", None).await;
    assert_eq!(missing, StatusCode::NOT_FOUND);

    let types: Vec<String> = app.outbox().await.into_iter().map(|(ty, _)| ty).collect();
    assert_eq!(
        types,
        [
            events::catalog::ProductCreatedV1::NAME,
            events::catalog::ProductPriceChangedV1::NAME,
            events::catalog::ProductDiscontinuedV1::NAME,
            events::catalog::ProductReactivatedV1::NAME,
        ]
    );
    app.database.drop().await;
}
