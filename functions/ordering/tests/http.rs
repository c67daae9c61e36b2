//! The ordering HTTP functions called in-process (the router the binaries serve, with the
//! runtime's envelope and the security extractors) against the real MariaDB of the local stack.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use ordering::http::{
    OrderingApi, cancel_order_routes, get_order_routes, list_orders_routes, place_order_routes,
};
use security::{AccessTokenVerifier, Role, SigningKeys, TokenIssuer};
use serde_json::{Value, json};
use store::testing::TestDatabase;
use tower::ServiceExt;
use uuid::Uuid;

struct App {
    database: TestDatabase,
    issuer: TokenIssuer,
    place: Router,
    get: Router,
    list: Router,
    cancel: Router,
}

impl App {
    async fn spawn() -> Self {
        let database = TestDatabase::with_migrations_of("ordering").await;
        sqlx::query(
            "INSERT INTO product_price (product_id, name, price_minor, currency, orderable, last_event_at) VALUES
             ('cup', 'Espresso cup', 1290, 'EUR', TRUE, NOW(6)), ('mug', 'Mug', 990, 'EUR', TRUE, NOW(6))",
        )
        .execute(&database.pool)
        .await
        .expect("catalog projection");
        let issuer = TokenIssuer::new(
            SigningKeys::generate("k1"),
            "https://identity.test",
            "commerce",
            StdDuration::from_secs(300),
        );
        let verifier = Arc::new(AccessTokenVerifier::new(
            issuer.jwks(),
            "https://identity.test",
            "commerce",
        ));
        let api = OrderingApi {
            pool: database.pool.clone(),
            payment_timeout: chrono::Duration::minutes(15),
        };
        let serve = |routes: Router| runtime::http::HttpFunction::new(routes).into_router();
        Self {
            place: serve(place_order_routes(api.clone(), Arc::clone(&verifier))),
            get: serve(get_order_routes(api.clone(), Arc::clone(&verifier))),
            list: serve(list_orders_routes(api.clone(), Arc::clone(&verifier))),
            cancel: serve(cancel_order_routes(api, verifier)),
            issuer,
            database,
        }
    }

    fn token(&self, user: Uuid) -> String {
        self.issuer
            .issue(user, &[Role::Customer])
            .expect("token")
            .token
            .clone()
    }

    async fn place_order(&self, user: Uuid, key: Option<&str>, body: Value) -> (StatusCode, Value, bool) {
        let mut request = Request::post("/orders")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", self.token(user)));
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let response = self
            .place
            .clone()
            .oneshot(request.body(Body::from(body.to_string())).expect("request"))
            .await
            .expect("response");
        let replayed = response.headers().contains_key("idempotent-replayed");
        let (status, body) = read(response).await;
        (status, body, replayed)
    }

    async fn get_order(&self, user: Uuid, order_id: &str) -> (StatusCode, Value) {
        let request = Request::get(format!("/orders/{order_id}"))
            .header("authorization", format!("Bearer {}", self.token(user)))
            .body(Body::empty())
            .expect("request");
        read(self.get.clone().oneshot(request).await.expect("response")).await
    }

    async fn list_orders(&self, user: Uuid, query: &str) -> (StatusCode, Value) {
        let request = Request::get(format!("/orders{query}"))
            .header("authorization", format!("Bearer {}", self.token(user)))
            .body(Body::empty())
            .expect("request");
        read(self.list.clone().oneshot(request).await.expect("response")).await
    }

    async fn cancel_order(&self, user: Uuid, order_id: &str) -> (StatusCode, Value) {
        let request = Request::post(format!("/orders/{order_id}/cancel"))
            .header("authorization", format!("Bearer {}", self.token(user)))
            .body(Body::empty())
            .expect("request");
        read(self.cancel.clone().oneshot(request).await.expect("response")).await
    }

    async fn rows(&self) -> (i64, i64) {
        let orders = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
            .fetch_one(&self.database.pool)
            .await
            .expect("count");
        let outbox = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(&self.database.pool)
            .await
            .expect("count");
        (orders, outbox)
    }
}

async fn read(response: axum::response::Response) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn two_cups() -> Value {
    json!({"lines": [{"productId": "cup", "quantity": 2}], "paymentToken": "tok_approve"})
}

#[tokio::test]
async fn a_customer_places_an_order_priced_by_ordering_and_a_replay_returns_the_same_order() {
    let app = App::spawn().await;
    let user = Uuid::now_v7();

    let (status, body, replayed) = app.place_order(user, Some("k-1"), two_cups()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(!replayed);
    assert_eq!(body["data"]["status"], "PLACED");
    assert_eq!(body["data"]["totalMinor"], 2580);
    assert_eq!(body["data"]["currency"], "EUR");
    let order_id = body["data"]["orderId"].as_str().expect("order id").to_owned();

    let (status, again, replayed) = app.place_order(user, Some("k-1"), two_cups()).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(replayed, "a replay says so in a header");
    assert_eq!(again["data"]["orderId"], order_id.as_str());
    assert_eq!(app.rows().await, (1, 1));
    app.database.drop().await;
}

#[tokio::test]
async fn the_same_idempotency_key_with_another_body_is_refused_with_a_stable_code() {
    let app = App::spawn().await;
    let user = Uuid::now_v7();
    app.place_order(user, Some("k-1"), two_cups()).await;

    let other = json!({"lines": [{"productId": "mug", "quantity": 1}], "paymentToken": "tok_approve"});
    let (status, body, _) = app.place_order(user, Some("k-1"), other).await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(app.rows().await, (1, 1));
    app.database.drop().await;
}

#[tokio::test]
async fn bad_order_requests_get_a_clear_4xx_and_write_nothing() {
    let app = App::spawn().await;
    let user = Uuid::now_v7();
    let cases = [
        (
            None,
            two_cups(),
            StatusCode::BAD_REQUEST,
            "IDEMPOTENCY_KEY_REQUIRED",
        ),
        (
            Some("k-2"),
            json!({"lines": [{"productId": "cup", "quantity": 0}, {"productId": "a b", "quantity": 1}],
                   "paymentToken": ""}),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            Some("k-3"),
            json!({"lines": [{"productId": "cup", "quantity": 1, "unitPriceMinor": 1}], "paymentToken": "t"}),
            StatusCode::BAD_REQUEST,
            "INVALID_BODY",
        ),
        (
            Some("k-4"),
            json!({"lines": [], "paymentToken": "t"}),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            Some("k-5"),
            json!({"lines": [{"productId": "ghost", "quantity": 1}], "paymentToken": "t"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "UNKNOWN_PRODUCT",
        ),
    ];
    for (key, body, expected_status, expected_code) in cases {
        let (status, answer, _) = app.place_order(user, key, body.clone()).await;
        assert_eq!(status, expected_status, "{body} -> {answer}");
        assert_eq!(answer["error"]["code"], expected_code, "{body} -> {answer}");
    }
    let (_, validation, _) = app
        .place_order(
            user,
            Some("k-6"),
            json!({"lines": [{"productId": "cup", "quantity": 0}], "paymentToken": ""}),
        )
        .await;
    let fields: Vec<&str> = validation["error"]["fieldErrors"]
        .as_array()
        .expect("field errors")
        .iter()
        .filter_map(|field| field["field"].as_str())
        .collect();
    assert_eq!(fields, ["paymentToken", "lines[0].quantity"]);
    assert_eq!(app.rows().await, (0, 0));
    app.database.drop().await;
}

#[tokio::test]
async fn orders_need_a_token_and_stay_private_to_their_customer() {
    let app = App::spawn().await;
    let owner = Uuid::now_v7();
    let stranger = Uuid::now_v7();
    let (_, placed, _) = app.place_order(owner, Some("k-1"), two_cups()).await;
    let order_id = placed["data"]["orderId"].as_str().expect("order id");

    let anonymous = app
        .get
        .clone()
        .oneshot(
            Request::get(format!("/orders/{order_id}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let (status, body) = app.get_order(owner, order_id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["history"][0]["to"], "PLACED");

    let (status, body) = app.get_order(stranger, order_id).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("ORDER_NOT_FOUND"))
    );
    let (status, _) = app.cancel_order(stranger, order_id).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body) = app.list_orders(stranger, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["orders"], json!([]));
    let (_, body) = app.list_orders(owner, "?limit=10").await;
    assert_eq!(body["data"]["orders"][0]["orderId"], order_id);
    let (status, _) = app.list_orders(owner, "?limit=1000").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    app.database.drop().await;
}

#[tokio::test]
async fn a_customer_cancels_an_unconfirmed_order_but_not_a_confirmed_one() {
    let app = App::spawn().await;
    let user = Uuid::now_v7();
    let (_, open, _) = app.place_order(user, Some("k-1"), two_cups()).await;
    let (_, confirmed, _) = app.place_order(user, Some("k-2"), two_cups()).await;
    let confirmed_id = confirmed["data"]["orderId"].as_str().expect("order id");
    sqlx::query("UPDATE orders SET status = 'CONFIRMED' WHERE order_id = ?")
        .bind(confirmed_id)
        .execute(&app.database.pool)
        .await
        .expect("confirm");

    let (status, body) = app
        .cancel_order(user, open["data"]["orderId"].as_str().expect("id"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["status"], "CANCELLED");
    assert_eq!(body["data"]["cancelReason"], "customer-cancelled");

    let (status, body) = app.cancel_order(user, confirmed_id).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "ORDER_NOT_CANCELLABLE");
    app.database.drop().await;
}

#[tokio::test]
async fn an_overloaded_place_order_answers_503_with_retry_after_and_writes_nothing() {
    let app = App::spawn().await;
    // One connection, already taken: the next request cannot get one in time.
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(StdDuration::from_millis(200))
        .connect(&app.database.url())
        .await
        .expect("pool");
    let held = pool.acquire().await.expect("the only connection");
    let verifier = Arc::new(AccessTokenVerifier::new(
        app.issuer.jwks(),
        "https://identity.test",
        "commerce",
    ));
    let api = OrderingApi {
        pool: pool.clone(),
        payment_timeout: chrono::Duration::minutes(15),
    };
    let router = runtime::http::HttpFunction::new(place_order_routes(api, verifier)).into_router();
    let request = Request::post("/orders")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", app.token(Uuid::now_v7())))
        .header("idempotency-key", "k-1")
        .body(Body::from(two_cups().to_string()))
        .expect("request");

    let response = router.oneshot(request).await.expect("response");

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|value| value.as_bytes()),
        Some(&b"1"[..])
    );
    let (_, body) = read(response).await;
    assert_eq!(body["error"]["code"], "SERVICE_BUSY");
    drop(held);
    pool.close().await;
    assert_eq!(app.rows().await, (0, 0));
    app.database.drop().await;
}
