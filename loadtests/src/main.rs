//! `loadtest`: the storefront under load through the local gateway, with Goose.
//!
//! Three kinds of users. Most traffic is browsing, as in the original platform's tests:
//! - **browsers** (weight 6): a shopper in the catalog `catalog-seed` filled: the category
//!   tree and brands, a category with a sort and a price range, a brand, keyword searches in
//!   Korean and English, product pages, a SKU chosen by options, and the availability of a
//!   product's SKUs in one call (`browsing.rs`);
//! - **shoppers** (weight 3): keep a shipping address, put one or two products in the cart,
//!   read the cart and check out with the total it showed (`Idempotency-Key` on every add and
//!   checkout), read the order back, list their orders, and now and then refund the first
//!   line of a confirmed order;
//! - **returning users** (weight 1): log in again (argon2id).
//!
//! Every user registers an account of its own when it starts (`POST /auth/register`, then
//! `POST /auth/login`). It sends `X-Forwarded-For` with an address of its own, as clients
//! behind API Gateway would, so the per-address login limit sees many clients rather than
//! one.
//!
//! The load shape comes from `LOAD_PROFILE` (`smoke`, `baseline`, `stress`, `breakpoint`):
//! the original's k6 presets, scaled to a 2-core machine. Each has budgets (p95, p99, error
//! rate) that are checked at the end, and the process exits with 1 when one is missed.
//! Goose's own flags (`-u`, `-r`, `-t`, `--report-file`, …) override the shape.
//!
//! Before the attack it creates the products it sells. They get plenty of stock, and an admin
//! token signed with the stack's keys (`$STACK_HOME/keys`) stands in for an admin's login.
//! See loadtests/README.md.

mod browsing;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use browsing::{browse_category, filter_by_brand, open_navigation, search, view_product};
use goose::goose::GooseResponse;
use goose::prelude::*;
use security::{Role, SigningKeys, TokenIssuer};
use serde_json::{Value, json};

/// The products every shopper buys from, created before the attack.
static PRODUCTS: OnceLock<Vec<String>> = OnceLock::new();
const PRODUCT_COUNT: usize = 20;
const UNITS_PER_PRODUCT: i64 = 1_000_000;
const PASSWORD: &str = "load-test-Password-1";

/// One load shape: how many users, how fast they arrive, how long they stay, and the
/// budgets the run must keep.
#[derive(Debug, Clone, Copy)]
struct Profile {
    name: &'static str,
    users: usize,
    /// Users started per second.
    increase_rate: &'static str,
    run_seconds: usize,
    /// Pause between a user's transactions, as a person's think time.
    think: (Duration, Duration),
    p95_ms: Option<f64>,
    p99_ms: Option<f64>,
    max_error_rate: f64,
}

const PROFILES: [Profile; 4] = [
    Profile {
        name: "smoke",
        users: 2,
        increase_rate: "2",
        run_seconds: 30,
        think: (Duration::from_millis(500), Duration::from_millis(1_000)),
        p95_ms: Some(250.0),
        p99_ms: Some(500.0),
        max_error_rate: 0.01,
    },
    Profile {
        name: "baseline",
        users: 50,
        increase_rate: "1",
        run_seconds: 120,
        think: (Duration::from_millis(500), Duration::from_millis(1_000)),
        p95_ms: Some(500.0),
        p99_ms: Some(1_000.0),
        max_error_rate: 0.01,
    },
    Profile {
        name: "stress",
        users: 200,
        increase_rate: "2",
        run_seconds: 180,
        think: (Duration::from_millis(250), Duration::from_millis(500)),
        p95_ms: Some(2_000.0),
        p99_ms: None,
        max_error_rate: 0.05,
    },
    // No budget but "something succeeded": it is run to find where the knee is.
    Profile {
        name: "breakpoint",
        users: 500,
        increase_rate: "5",
        run_seconds: 120,
        think: (Duration::from_millis(250), Duration::from_millis(500)),
        p95_ms: None,
        p99_ms: None,
        max_error_rate: 1.0,
    },
];

/// What a user keeps between its transactions.
#[derive(Clone)]
struct Session {
    email: String,
    token: String,
    forwarded_for: String,
    last_order: Option<String>,
    /// The last order a refund was asked for, so each order is refunded at most once.
    last_refunded: Option<String>,
    /// The shipping address checkout sends.
    address: Option<String>,
    /// The browser's random choices, so that users do not walk the catalog in step.
    dice: browsing::Dice,
    /// The products on the last list page a browser saw that had any.
    results: Vec<String>,
}

fn session(user: &GooseUser) -> Result<&Session, Box<TransactionError>> {
    user.get_session_data::<Session>()
        .ok_or_else(|| Box::new(TransactionError::Custom("the user has no session yet".to_owned())))
}

/// A request with the user's token and address, named for the metrics.
async fn send(
    user: &mut GooseUser,
    method: GooseMethod,
    path: &str,
    name: &str,
    body: Option<&Value>,
    idempotency_key: Option<&str>,
) -> Result<GooseResponse, Box<TransactionError>> {
    let (token, forwarded_for) = match user.get_session_data::<Session>() {
        Some(session) => (Some(session.token.clone()), session.forwarded_for.clone()),
        None => (None, forwarded_for(user)),
    };
    let mut builder = user
        .get_request_builder(&method, path)?
        .header("x-forwarded-for", forwarded_for);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    if let Some(key) = idempotency_key {
        builder = builder.header("idempotency-key", key);
    }
    if let Some(body) = body {
        builder = builder.json(body);
    }
    let request = GooseRequest::builder()
        .method(method)
        .path(path)
        .name(name)
        .set_request_builder(builder)
        .build();
    user.request(request).await
}

/// A made-up client address per Goose user (10.x.y.z).
fn forwarded_for(user: &GooseUser) -> String {
    let index = user.weighted_users_index;
    format!(
        "10.{}.{}.{}",
        (index >> 16) & 0xff,
        (index >> 8) & 0xff,
        index & 0xff
    )
}

/// The body of a JSON answer, when there is one.
async fn json_of(response: GooseResponse) -> Option<Value> {
    let text = response.response.ok()?.text().await.ok()?;
    serde_json::from_str(&text).ok()
}

async fn log_in(user: &mut GooseUser, email: &str) -> Result<Option<String>, Box<TransactionError>> {
    let body = json!({"email": email, "password": PASSWORD});
    let answer = send(
        user,
        GooseMethod::Post,
        "/auth/login",
        "/auth/login",
        Some(&body),
        None,
    )
    .await?;
    Ok(json_of(answer)
        .await
        .and_then(|body| body["data"]["accessToken"].as_str().map(str::to_owned)))
}

/// On start: an account of the user's own, and a token for it.
async fn register_and_log_in(user: &mut GooseUser) -> TransactionResult {
    let email = format!("load-{}@example.com", uuid::Uuid::now_v7().simple());
    let body = json!({"email": email, "password": PASSWORD, "displayName": "Load Tester"});
    send(
        user,
        GooseMethod::Post,
        "/auth/register",
        "/auth/register",
        Some(&body),
        None,
    )
    .await?;
    let token = log_in(user, &email).await?.unwrap_or_default();
    let forwarded_for = forwarded_for(user);
    user.set_session_data(Session {
        email,
        token,
        forwarded_for,
        last_order: None,
        last_refunded: None,
        address: None,
        dice: browsing::Dice::new(),
        results: Vec::new(),
    });
    Ok(())
}

/// One of the products on sale, by the user's own dice (so users do not all buy the same).
fn some_product(user: &mut GooseUser) -> String {
    let products = PRODUCTS.get().map(Vec::as_slice).unwrap_or_default();
    let fallback = user.weighted_users_index;
    let index = user
        .get_session_data_mut::<Session>()
        .map_or(fallback, |session| session.dice.below(products.len().max(1)));
    products
        .get(index % products.len().max(1))
        .cloned()
        .unwrap_or_default()
}

/// On a shopper's start, after its account: the address its orders ship to.
async fn add_address(user: &mut GooseUser) -> TransactionResult {
    let body = json!({
        "recipient": "Load Tester", "phone": "+82 10-0000-0000", "line1": "1 Test Street",
        "city": "Seoul", "postalCode": "04524", "country": "KR"
    });
    let answer = send(
        user,
        GooseMethod::Post,
        "/users/me/addresses",
        "/users/me/addresses",
        Some(&body),
        None,
    )
    .await?;
    let address = json_of(answer)
        .await
        .and_then(|body| body["data"]["addressId"].as_str().map(str::to_owned));
    if let Some(session) = user.get_session_data_mut::<Session>() {
        session.address = address;
    }
    Ok(())
}

/// One or two products into the cart, the cart read back, and checkout with the total it
/// showed: what a storefront does.
async fn check_out_a_cart(user: &mut GooseUser) -> TransactionResult {
    let lines = 1 + user
        .get_session_data_mut::<Session>()
        .map_or(0, |session| usize::from(session.dice.percent(40)));
    for _ in 0..lines {
        let product = some_product(user);
        let key = uuid::Uuid::now_v7().to_string();
        let body = json!({"sku": product, "quantity": 1});
        send(
            user,
            GooseMethod::Post,
            "/cart/items",
            "/cart/items",
            Some(&body),
            Some(&key),
        )
        .await?;
    }
    let cart = send(user, GooseMethod::Get, "/cart", "/cart", None, None).await?;
    let total = json_of(cart)
        .await
        .and_then(|body| body["data"]["totalMinor"].as_i64());
    let Some(address) = session(user)?.address.clone() else {
        return Ok(());
    };
    let Some(total) = total else {
        return Ok(());
    };
    let key = uuid::Uuid::now_v7().to_string();
    let body = json!({"addressId": address, "paymentToken": "tok_approve", "expectedTotalMinor": total});
    let answer = send(
        user,
        GooseMethod::Post,
        "/cart/checkout",
        "/cart/checkout",
        Some(&body),
        Some(&key),
    )
    .await?;
    let order = json_of(answer)
        .await
        .and_then(|body| body["data"]["orderId"].as_str().map(str::to_owned));
    if let Some(session) = user.get_session_data_mut::<Session>() {
        session.last_order = order;
    }
    Ok(())
}

/// The first line of the last order back, once that order is confirmed; each order once.
async fn refund_a_line(user: &mut GooseUser) -> TransactionResult {
    let (order, refunded) = {
        let session = session(user)?;
        (session.last_order.clone(), session.last_refunded.clone())
    };
    let Some(order) = order.filter(|order| Some(order) != refunded.as_ref()) else {
        return Ok(());
    };
    let answer = send(
        user,
        GooseMethod::Get,
        &format!("/orders/{order}"),
        "/orders/{id}",
        None,
        None,
    )
    .await?;
    let Some(body) = json_of(answer).await else {
        return Ok(());
    };
    let line = body["data"]["lines"][0]["lineNo"].as_i64();
    let (Some("CONFIRMED"), Some(line)) = (body["data"]["status"].as_str(), line) else {
        return Ok(());
    };
    let key = uuid::Uuid::now_v7().to_string();
    send(
        user,
        GooseMethod::Post,
        &format!("/orders/{order}/refunds"),
        "/orders/{id}/refunds",
        Some(&json!({"lines": [line]})),
        Some(&key),
    )
    .await?;
    if let Some(session) = user.get_session_data_mut::<Session>() {
        session.last_refunded = Some(order);
    }
    Ok(())
}

async fn read_order(user: &mut GooseUser) -> TransactionResult {
    if let Some(order) = session(user)?.last_order.clone() {
        send(
            user,
            GooseMethod::Get,
            &format!("/orders/{order}"),
            "/orders/{id}",
            None,
            None,
        )
        .await?;
    }
    Ok(())
}

async fn list_orders(user: &mut GooseUser) -> TransactionResult {
    send(user, GooseMethod::Get, "/orders?size=10", "/orders", None, None).await?;
    Ok(())
}

async fn log_in_again(user: &mut GooseUser) -> TransactionResult {
    let email = session(user)?.email.clone();
    if let Some(token) = log_in(user, &email).await?
        && let Some(session) = user.get_session_data_mut::<Session>()
    {
        session.token = token;
    }
    Ok(())
}

/// Creates the products on sale and waits until ordering's projection knows every one.
async fn stock_the_shop(host: &str) -> anyhow::Result<Vec<String>> {
    let stack_home = std::env::var("STACK_HOME").unwrap_or_else(|_| "local-stack/var".to_owned());
    let keys = SigningKeys::from_file(&std::path::Path::new(&stack_home).join("keys/signing-keys.json"))?;
    let issuer = TokenIssuer::new(
        keys,
        std::env::var("JWT_ISSUER").unwrap_or_else(|_| "https://identity.commerce.local".to_owned()),
        std::env::var("JWT_AUDIENCE").unwrap_or_else(|_| "commerce".to_owned()),
        Duration::from_secs(900),
    );
    let admin = issuer.issue(uuid::Uuid::now_v7(), &[Role::Admin])?.token;
    let probe = issuer.issue(uuid::Uuid::now_v7(), &[Role::Customer])?.token;
    let client = reqwest::Client::new();
    let run = uuid::Uuid::now_v7().simple().to_string();
    let mut products = Vec::with_capacity(PRODUCT_COUNT);
    for n in 0..PRODUCT_COUNT {
        let product = format!("load-{run}-{n}");
        let created = client
            .post(format!("{host}/admin/products"))
            .bearer_auth(&admin)
            .json(&json!({"productId": product, "name": format!("Load mug {n}"), "priceMinor": 1_000 + n as i64 * 10, "currency": "EUR"}))
            .send()
            .await?;
        anyhow::ensure!(
            created.status().is_success(),
            "create {product}: {}",
            created.status()
        );
        let stocked = client
            .put(format!("{host}/admin/inventory/{product}"))
            .bearer_auth(&admin)
            .json(&json!({"onHand": UNITS_PER_PRODUCT}))
            .send()
            .await?;
        anyhow::ensure!(
            stocked.status().is_success(),
            "stock {product}: {}",
            stocked.status()
        );
        products.push(product);
    }
    // A declined probe order per product: UNKNOWN_PRODUCT until ordering has seen it.
    let started = Instant::now();
    for product in &products {
        loop {
            let answer = client
                .post(format!("{host}/orders"))
                .bearer_auth(&probe)
                .header("idempotency-key", format!("probe-{product}"))
                .json(
                    &json!({"lines": [{"productId": product, "quantity": 1}], "paymentToken": "tok_decline"}),
                )
                .send()
                .await?;
            if answer.status().is_success() {
                break;
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(60),
                "ordering does not know {product} after a minute: {}",
                answer.status()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(products)
}

/// The budgets a finished run missed, one line each.
fn missed_budgets(profile: &Profile, metrics: &GooseMetrics) -> Vec<String> {
    let mut missed = Vec::new();
    let (mut requests, mut failures) = (0_usize, 0_usize);
    for (name, request) in &metrics.requests {
        requests += request.success_count + request.fail_count;
        failures += request.fail_count;
        let p95 = request.raw_data.percentile_us(0.95) as f64 / 1_000.0;
        let p99 = request.raw_data.percentile_us(0.99) as f64 / 1_000.0;
        println!(
            "{name}: {} requests, {} failed, p95 {p95:.1} ms, p99 {p99:.1} ms",
            request.success_count + request.fail_count,
            request.fail_count
        );
        if profile.p95_ms.is_some_and(|budget| p95 > budget) {
            missed.push(format!(
                "{name}: p95 {p95:.1} ms over {} ms",
                profile.p95_ms.unwrap_or_default()
            ));
        }
        if profile.p99_ms.is_some_and(|budget| p99 > budget) {
            missed.push(format!(
                "{name}: p99 {p99:.1} ms over {} ms",
                profile.p99_ms.unwrap_or_default()
            ));
        }
    }
    let error_rate = if requests == 0 {
        1.0
    } else {
        failures as f64 / requests as f64
    };
    println!("all: {requests} requests, error rate {:.2} %", error_rate * 100.0);
    if requests == failures {
        missed.push("nothing succeeded".to_owned());
    } else if error_rate > profile.max_error_rate {
        missed.push(format!(
            "error rate {:.2} % over {:.0} %",
            error_rate * 100.0,
            profile.max_error_rate * 100.0
        ));
    }
    missed
}

#[tokio::main]
async fn main() {
    let wanted = std::env::var("LOAD_PROFILE").unwrap_or_else(|_| "smoke".to_owned());
    let Some(profile) = PROFILES.iter().find(|profile| profile.name == wanted).copied() else {
        eprintln!("LOAD_PROFILE={wanted} is not one of smoke, baseline, stress, breakpoint");
        std::process::exit(2);
    };
    let host = std::env::var("LOAD_HOST").unwrap_or_else(|_| {
        format!(
            "http://127.0.0.1:{}",
            std::env::var("GATEWAY_PORT").unwrap_or_else(|_| "8080".to_owned())
        )
    });
    match stock_the_shop(&host).await {
        Ok(products) => {
            let _ = PRODUCTS.set(products);
        }
        Err(error) => {
            eprintln!("could not stock the shop through {host} (is local-stack/up running?): {error:#}");
            std::process::exit(2);
        }
    }
    println!(
        "profile {}: {} users, {} per second, {} s; budgets p95 {:?} ms, p99 {:?} ms, errors ≤ {:.0} %",
        profile.name,
        profile.users,
        profile.increase_rate,
        profile.run_seconds,
        profile.p95_ms,
        profile.p99_ms,
        profile.max_error_rate * 100.0
    );
    match Box::pin(attack(&profile, &host)).await {
        Ok(metrics) => {
            let missed = missed_budgets(&profile, &metrics);
            if missed.is_empty() {
                println!("profile {}: every budget kept", profile.name);
            } else {
                for line in &missed {
                    eprintln!("missed: {line}");
                }
                std::process::exit(1);
            }
        }
        Err(error) => {
            eprintln!("the load test could not run: {error:?}");
            std::process::exit(2);
        }
    }
}

async fn attack(profile: &Profile, host: &str) -> Result<GooseMetrics, GooseError> {
    let (think_min, think_max) = profile.think;
    let attack = GooseAttack::initialize()?
        .register_scenario(
            scenario!("browser")
                .set_weight(6)?
                .set_wait_time(think_min, think_max)?
                .register_transaction(transaction!(register_and_log_in).set_on_start())
                // A visit starts at the storefront's navigation, and now and then the shopper
                // goes back to it. Lists come before product pages in Goose's round-robin
                // order, and a product page opens one of the last list's products; searches
                // outnumber category and brand lists, as on most shops.
                .register_transaction(
                    transaction!(open_navigation)
                        .set_name("navigation")
                        .set_on_start(),
                )
                .register_transaction(transaction!(open_navigation).set_name("navigation"))
                .register_transaction(transaction!(search).set_name("search").set_weight(4)?)
                .register_transaction(transaction!(browse_category).set_name("category").set_weight(3)?)
                .register_transaction(transaction!(filter_by_brand).set_name("brand").set_weight(2)?)
                .register_transaction(
                    transaction!(view_product)
                        .set_name("product page")
                        .set_weight(6)?,
                ),
        )
        .register_scenario(
            scenario!("shopper")
                .set_weight(3)?
                .set_wait_time(think_min, think_max)?
                .register_transaction(transaction!(register_and_log_in).set_on_start())
                .register_transaction(transaction!(add_address).set_on_start())
                .register_transaction(
                    transaction!(check_out_a_cart)
                        .set_name("cart and checkout")
                        .set_weight(2)?,
                )
                .register_transaction(transaction!(read_order).set_weight(2)?)
                .register_transaction(transaction!(list_orders))
                .register_transaction(transaction!(refund_a_line).set_name("refund")),
        )
        .register_scenario(
            scenario!("returning user")
                .set_weight(1)?
                // Under the per-account login limit (10 a minute).
                .set_wait_time(Duration::from_secs(7), Duration::from_secs(9))?
                .register_transaction(transaction!(register_and_log_in).set_on_start())
                .register_transaction(transaction!(log_in_again)),
        )
        .set_default(GooseDefault::Host, host)?
        .set_default(GooseDefault::Users, profile.users)?
        .set_default(GooseDefault::IncreaseRate, profile.increase_rate)?
        .set_default(GooseDefault::RunTime, profile.run_seconds)?
        .set_default(GooseDefault::NoTelnet, true)?
        // Keep what the users did while arriving (registration, first login) in the figures.
        .set_default(GooseDefault::NoResetMetrics, true)?;
    Box::pin(attack.execute()).await
}
