//! The account's life end to end on the running local stack: a customer with a real identity
//! session orders; an admin locks them, and ordering refuses their still-valid access token
//! once `user.locked` has come through the relay, Kafka and the dispatcher; an unlock lets
//! them order again; their withdrawal ends it for good, hides their public profile and frees
//! their address for a new account. Every wait polls the public API with a deadline.

use e2e::shop::{SETTLE, Shop, order_id};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::stack;
use uuid::Uuid;

const PASSWORD: &str = "an end-to-end passphrase";

/// A registered, logged-in user: their id, address and tokens.
struct Account {
    id: String,
    email: String,
    access: String,
    refresh: String,
}

async fn register(shop: &Shop, email: &str, display_name: &str) -> String {
    let registered = shop
        .send(
            Method::POST,
            "/auth/register",
            None,
            None,
            Some(json!({"email": email, "password": PASSWORD, "displayName": display_name})),
        )
        .await;
    assert_eq!(registered.status, StatusCode::CREATED, "{}", registered.body);
    registered.body["data"]["id"].as_str().expect("an id").to_owned()
}

async fn log_in(shop: &Shop, email: &str) -> (String, String) {
    let login = shop
        .send(
            Method::POST,
            "/auth/login",
            None,
            None,
            Some(json!({"email": email, "password": PASSWORD})),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let field = |name: &str| login.body["data"][name].as_str().expect(name).to_owned();
    (field("accessToken"), field("refreshToken"))
}

async fn new_account(shop: &Shop, display_name: &str) -> Account {
    let email = format!("e2e-{}@example.com", Uuid::now_v7().simple());
    let id = register(shop, &email, display_name).await;
    let (access, refresh) = log_in(shop, &email).await;
    Account {
        id,
        email,
        access,
        refresh,
    }
}

/// An account with the admin role, granted the way `identity-admin grant-admin` grants it,
/// and logged in afterwards so its token carries the role.
async fn new_admin(shop: &Shop) -> Account {
    let account = new_account(shop, "E2E Admin").await;
    let pool =
        sqlx::MySqlPool::connect(&stack::setting("IDENTITY_DATABASE_URL").expect("IDENTITY_DATABASE_URL"))
            .await
            .expect("the identity database");
    sqlx::query(
        "INSERT IGNORE INTO user_role (user_id, role, granted_at) VALUES (?, 'admin', UTC_TIMESTAMP(6))",
    )
    .bind(&account.id)
    .execute(&pool)
    .await
    .expect("grant admin");
    pool.close().await;
    let (access, refresh) = log_in(shop, &account.email).await;
    Account {
        access,
        refresh,
        ..account
    }
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// Asks place-order until it answers `code` (or the deadline passes). One key for every
/// attempt: an attempt that got through before ordering learned of the change places one
/// order, and the ones after it replay that order instead of placing more.
async fn order_until(shop: &Shop, token: &str, product_id: &str, code: &str) -> (StatusCode, Value) {
    let key = Uuid::now_v7().to_string();
    let body = json!({"lines": [{"productId": product_id, "quantity": 1}], "paymentToken": "tok_approve"});
    let answer = SETTLE
        .until(
            || {
                shop.send(
                    Method::POST,
                    "/orders",
                    Some(token),
                    Some(&key),
                    Some(body.clone()),
                )
            },
            |answer| error_code(&answer.body) == code,
        )
        .await;
    (answer.status, answer.body)
}

#[tokio::test]
async fn a_locked_customer_is_refused_by_ordering_an_unlocked_one_orders_again_and_a_withdrawn_one_is_gone() {
    let shop = Shop::new();
    let product_id = shop.product_in_stock(500, 100).await;
    let admin = new_admin(&shop).await;
    let customer = new_account(&shop, "E2E Customer").await;

    let profile = shop
        .send(
            Method::GET,
            &format!("/users/{}/profile", customer.id),
            None,
            None,
            None,
        )
        .await;
    assert_eq!(profile.status, StatusCode::OK, "{}", profile.body);
    assert_eq!(profile.body["data"]["displayName"], "E2E Customer");
    assert!(!profile.body.to_string().contains(&customer.email));

    let first = shop
        .place(
            &customer.access,
            &Uuid::now_v7().to_string(),
            &product_id,
            1,
            "tok_approve",
        )
        .await;
    let first_order = order_id(&first);

    // The lock: identity refuses at once, ordering once the event reached it.
    let locked = shop
        .send(
            Method::POST,
            &format!("/admin/users/{}/lock", customer.id),
            Some(&admin.access),
            None,
            None,
        )
        .await;
    assert_eq!(locked.status, StatusCode::OK, "{}", locked.body);
    let refreshed = shop
        .send(
            Method::POST,
            "/auth/refresh",
            None,
            None,
            Some(json!({"refreshToken": customer.refresh})),
        )
        .await;
    assert_eq!(
        error_code(&refreshed.body),
        "ACCOUNT_LOCKED",
        "{}",
        refreshed.body
    );
    let login = shop
        .send(
            Method::POST,
            "/auth/login",
            None,
            None,
            Some(json!({"email": customer.email, "password": PASSWORD})),
        )
        .await;
    assert_eq!(error_code(&login.body), "ACCOUNT_LOCKED", "{}", login.body);
    let (status, body) = order_until(&shop, &customer.access, &product_id, "ACCOUNT_LOCKED").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(error_code(&body), "ACCOUNT_LOCKED", "{body}");

    // The unlock: the same (still valid) access token may order again once ordering knows.
    let unlocked = shop
        .send(
            Method::POST,
            &format!("/admin/users/{}/unlock", customer.id),
            Some(&admin.access),
            None,
            None,
        )
        .await;
    assert_eq!(unlocked.status, StatusCode::OK, "{}", unlocked.body);
    let again = SETTLE
        .until(
            || {
                shop.send(
                    Method::POST,
                    "/orders",
                    Some(&customer.access),
                    Some("after-unlock"),
                    Some(json!({"lines": [{"productId": product_id, "quantity": 1}],
                                "paymentToken": "tok_approve"})),
                )
            },
            |answer| answer.status == StatusCode::CREATED,
        )
        .await;
    order_id(&again);

    // The withdrawal: a new session (the lock ended the old one), then the password.
    let (access, _) = log_in(&shop, &customer.email).await;
    let wrong = shop
        .send(
            Method::DELETE,
            "/users/me",
            Some(&access),
            None,
            Some(json!({"password": "not the password at all"})),
        )
        .await;
    assert_eq!(error_code(&wrong.body), "WRONG_PASSWORD", "{}", wrong.body);
    let withdrawn = shop
        .send(
            Method::DELETE,
            "/users/me",
            Some(&access),
            None,
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(withdrawn.status, StatusCode::NO_CONTENT, "{}", withdrawn.body);
    let (status, body) = order_until(&shop, &access, &product_id, "ACCOUNT_WITHDRAWN").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let gone = shop
        .send(
            Method::GET,
            &format!("/users/{}/profile", customer.id),
            None,
            None,
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
    assert_eq!(error_code(&gone.body), "USER_NOT_FOUND");

    // The books keep the orders; the address starts over as someone new.
    let kept = shop
        .send(
            Method::GET,
            &format!("/orders/{first_order}"),
            Some(&shop.token(customer.id.parse().expect("a UUID"), security::Role::Customer)),
            None,
            None,
        )
        .await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.body);
    let new_id = register(&shop, &customer.email, "E2E Again").await;
    assert_ne!(new_id, customer.id);
}
