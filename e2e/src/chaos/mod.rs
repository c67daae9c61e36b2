//! Chaos against the running stack: orders placed through the gateway while processes of the
//! stack — the relay, the dispatcher, saga functions, Kafka and MariaDB themselves — are
//! killed with SIGKILL at seeded random moments and brought back with `local-stack/up`; then
//! the saga's invariants are checked and reported. The `chaos` binary runs it.
//!
//! - [`plan`]: the products, orders and kills a seed decides.
//! - [`processes`]: the stack's pid files, SIGKILL, `local-stack/up`.
//! - [`state`]: what the databases hold about the run at the end.
//! - [`kafka`]: what the saga's topics and the dead-letter topics hold since the run began.
//! - [`checks`]: the invariants, as functions of the above.
//! - [`report`]: the report file and the printed summary.

pub mod checks;
pub mod kafka;
pub mod plan;
pub mod processes;
pub mod report;
pub mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use reqwest::{Method, StatusCode};
use security::Role;
use serde_json::json;
use sqlx::MySqlPool;
use sqlx::mysql::MySqlPoolOptions;
use uuid::Uuid;

use crate::shop::Shop;
use checks::{DeadLetter, EventsOnKafka, Verdict};
use plan::{Plan, PlannedKill, PlannedOrder, Settings};
use processes::Stack;
use report::{KillReport, Report, SettingsReport, Timings};

/// How long one order may take to be accepted while processes are down and come back.
const ORDER_DEADLINE: Duration = Duration::from_secs(300);
/// How long ordering may take to learn the run's products from catalog's events.
const PROJECTION_DEADLINE: Duration = Duration::from_secs(120);
/// How long reading the topics to their ends may take.
const KAFKA_READ_DEADLINE: Duration = Duration::from_secs(180);

/// What to run, beyond the plan's settings.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub settings: Settings,
    pub seed: u64,
    /// Customers placing orders at the same time.
    pub shoppers: usize,
    /// How long the saga may take to settle every order once the kills are over.
    pub settle_timeout: Duration,
    /// Where the run's folder (report and `local-stack/up` logs) goes; default
    /// `$STACK_HOME/chaos`.
    pub report_dir: Option<PathBuf>,
}

/// Runs the plan of `options` against the stack of `$STACK_HOME` and returns the report,
/// already written to `<report_dir>/<time>-seed-<seed>/report.json` (the second value).
pub async fn run(options: RunOptions) -> anyhow::Result<(Report, PathBuf)> {
    let total = Instant::now();
    let started_at = chrono::Utc::now();
    let stack = Stack::find()?;
    let admin_url = stack.setting("STACK_MARIADB_ADMIN_URL")?;
    let bootstrap_servers = stack.setting("KAFKA_BOOTSTRAP_SERVERS")?;
    let gateway = format!("http://127.0.0.1:{}", stack.setting("GATEWAY_PORT")?);
    let plan = Plan::new(&options.settings, options.seed);
    let run = format!("{:08x}", rand::random::<u32>());
    let run_dir = options
        .report_dir
        .clone()
        .unwrap_or_else(|| stack.home.join("chaos"))
        .join(format!(
            "{}-seed-{}",
            started_at.format("%Y%m%dT%H%M%SZ"),
            options.seed
        ));
    std::fs::create_dir_all(&run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    println!(
        "chaos: seed {}, run {run}, {} orders, {} kills; logs and report in {}",
        options.seed,
        plan.orders.len(),
        plan.kills.len(),
        run_dir.display()
    );
    for kill in &plan.kills {
        anyhow::ensure!(
            stack.pid_of(&kill.target.0).is_some(),
            "{} is not running; start the stack with local-stack/up before a chaos run",
            kill.target.0
        );
    }
    // Dead letters and events are read from a little before the run, so none is missed.
    let since_millis = started_at.timestamp_millis() - 5_000;

    // The products, and ordering's knowledge of them, before any order.
    let shop = Arc::new(Shop::new().at(gateway));
    let products: Vec<(String, i64, i64)> = plan
        .products
        .iter()
        .map(|product| (product.sku(&run), product.initial_units, product.price_minor))
        .collect();
    {
        let pool = admin_pool(&admin_url).await?;
        set_up_products(&shop, &pool, &products).await?;
    }
    let setup_secs = total.elapsed().as_secs_f64();
    println!("chaos: {} products set up in {setup_secs:.1} s", products.len());

    // Orders and kills, side by side.
    let customers: Vec<Uuid> = (0..options.shoppers.max(1)).map(|_| Uuid::now_v7()).collect();
    let placing = Arc::new(Placing {
        next: AtomicUsize::new(0),
        placed: AtomicUsize::new(0),
        started: Instant::now(),
        rate: options.settings.rate.max(0.001),
        orders: Arc::new(plan.orders.clone()),
        skus: Arc::new(products.iter().map(|(sku, ..)| sku.clone()).collect()),
        customers: Arc::new(customers.clone()),
        run: run.clone(),
    });
    let shoppers: Vec<_> = (0..options.shoppers.max(1))
        .map(|_| tokio::spawn(shopper(Arc::clone(&shop), Arc::clone(&placing))))
        .collect();
    let monkey = tokio::spawn(kill_on_schedule(
        stack.clone(),
        plan.kills.clone(),
        Arc::clone(&placing),
        run_dir.clone(),
    ));
    let mut accepted: Vec<String> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for shopper in shoppers {
        for placed in shopper.await? {
            match placed {
                Ok(order_id) => accepted.push(order_id),
                Err(failure) => failures.push(failure),
            }
        }
    }
    let placing_secs = placing.started.elapsed().as_secs_f64();
    println!("chaos: {} orders accepted in {placing_secs:.1} s", accepted.len());
    let kills = monkey.await?;
    let kills_done_secs = placing.started.elapsed().as_secs_f64();

    // Whatever is still down (or died on its own) comes back, as an operator would see to.
    let log = run_dir.join("up-final.log");
    let final_up = {
        let stack = stack.clone();
        tokio::task::spawn_blocking(move || stack.up(&log)).await?
    };
    if let Err(error) = &final_up {
        println!("chaos: the final local-stack/up failed: {error:#}");
    }

    // The saga finishes what was started.
    let settling = Instant::now();
    let pool = admin_pool(&admin_url).await?;
    let customer_ids: Vec<String> = customers.iter().map(Uuid::to_string).collect();
    let initial: BTreeMap<String, i64> = products
        .iter()
        .map(|(sku, units, _)| (sku.clone(), *units))
        .collect();
    let state = settle(&pool, &customer_ids, &initial, options.settle_timeout).await?;
    let settle_secs = settling.elapsed().as_secs_f64();

    // What Kafka holds, and the verdicts.
    let checking = Instant::now();
    let run_orders: BTreeSet<String> = state.orders.iter().map(|order| order.order_id.clone()).collect();
    let (on_kafka, dead_letters) = {
        let bootstrap_servers = bootstrap_servers.clone();
        tokio::task::spawn_blocking(move || read_kafka(&bootstrap_servers, since_millis, &run_orders))
            .await??
    };
    let mut restart_failures: Vec<String> = kills
        .iter()
        .filter_map(|kill| {
            kill.error
                .as_ref()
                .map(|error| format!("kill {} of {}: {error}", kill.number, kill.process))
        })
        .collect();
    if let Err(error) = &final_up {
        restart_failures.push(format!("the final local-stack/up: {error:#}"));
    }
    let mut acceptance_problems = failures;
    acceptance_problems.extend(
        accepted
            .iter()
            .filter(|order_id| !state.orders.iter().any(|order| &order.order_id == *order_id))
            .map(|order_id| format!("order {order_id} was accepted but ordering does not have it")),
    );
    let verdicts: Vec<Verdict> = vec![
        checks::every_order_accepted(plan.orders.len(), &acceptance_problems),
        checks::every_order_terminal(&state.orders),
        checks::outcomes_fit_tokens(&state.orders),
        checks::stock_matches_sales(&state.stock),
        checks::reservations_settled(&state.orders),
        checks::one_capture_per_confirmed_order(&state.orders, &on_kafka),
        checks::outbox_events_on_kafka(&state.orders, &on_kafka, state.left_in_outbox),
        checks::no_dead_letters(&dead_letters),
        checks::every_restart_succeeded(restart_failures),
        checks::every_process_running(&stack.processes()),
    ];
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for order in &state.orders {
        let outcome = match (order.status.as_str(), order.cancel_reason.as_deref()) {
            ("CONFIRMED", _) => "confirmed".to_owned(),
            ("CANCELLED", Some(reason)) => format!("cancelled: {reason}"),
            (status, _) => status.to_lowercase(),
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    let checks_secs = checking.elapsed().as_secs_f64();

    let settings = &options.settings;
    let mix = settings.mix;
    let report = Report {
        seed: options.seed,
        run,
        started_at: started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        stack_home: stack.home.display().to_string(),
        settings: SettingsReport {
            orders: settings.orders,
            kills: settings.kills,
            rate_per_second: settings.rate,
            shoppers: options.shoppers,
            payment_mix: format!(
                "approve={},decline={},timeout={},flaky={}",
                mix.approve, mix.decline, mix.timeout, mix.flaky
            ),
            hot_products: settings.hot_skus,
            spread_products: settings.spread_skus,
            kinds: settings.kinds.iter().map(|kind| format!("{kind:?}")).collect(),
            max_downtime_secs: settings.max_downtime.as_secs_f64(),
            settle_timeout_secs: options.settle_timeout.as_secs(),
        },
        kills,
        timings: Timings {
            setup_secs,
            placing_secs,
            kills_done_secs,
            settle_secs,
            checks_secs,
            total_secs: total.elapsed().as_secs_f64(),
        },
        outcomes,
        dead_letters,
        passed: verdicts.iter().all(|verdict| verdict.passed),
        verdicts,
    };
    let path = run_dir.join("report.json");
    report.write(&path)?;
    Ok((report, path))
}

async fn admin_pool(url: &str) -> anyhow::Result<MySqlPool> {
    MySqlPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .context("MariaDB of the stack (its administrative account)")
}

/// Creates the products with their stock through the admin API, then waits until ordering's
/// projection has every one of them, so no order meets an unknown product.
async fn set_up_products(
    shop: &Shop,
    pool: &MySqlPool,
    products: &[(String, i64, i64)],
) -> anyhow::Result<()> {
    let admin = shop.token(Uuid::now_v7(), Role::Admin);
    for (sku, units, price_minor) in products {
        let created = shop
            .try_send(
                Method::POST,
                "/admin/products",
                Some(&admin),
                None,
                Some(json!({"productId": sku, "name": format!("Chaos {sku}"), "priceMinor": price_minor, "currency": "EUR"})),
            )
            .await?;
        anyhow::ensure!(
            created.status == StatusCode::CREATED,
            "creating {sku}: {} {}",
            created.status,
            created.body
        );
        let stocked = shop
            .try_send(
                Method::PUT,
                &format!("/admin/inventory/{sku}"),
                Some(&admin),
                None,
                Some(json!({"onHand": units})),
            )
            .await?;
        anyhow::ensure!(
            stocked.status == StatusCode::OK,
            "stocking {sku}: {} {}",
            stocked.status,
            stocked.body
        );
    }
    let skus: Vec<String> = products.iter().map(|(sku, ..)| sku.clone()).collect();
    let deadline = Instant::now() + PROJECTION_DEADLINE;
    loop {
        let known = state::projected_products(pool, &skus).await?;
        if known == skus.len() {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "ordering knows {known} of the {} products after {PROJECTION_DEADLINE:?}",
            skus.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What the shoppers share: the plan's orders, the next one to place, and the pace.
#[derive(Debug)]
struct Placing {
    next: AtomicUsize,
    placed: AtomicUsize,
    started: Instant,
    rate: f64,
    orders: Arc<Vec<PlannedOrder>>,
    skus: Arc<Vec<String>>,
    customers: Arc<Vec<Uuid>>,
    run: String,
}

/// One customer placing the next order of the plan when it is due, until none is left. Each
/// result is the order id, or why the order could not be placed.
async fn shopper(shop: Arc<Shop>, placing: Arc<Placing>) -> Vec<Result<String, String>> {
    let mut results = Vec::new();
    loop {
        let index = placing.next.fetch_add(1, Ordering::Relaxed);
        let Some(order) = placing.orders.get(index) else {
            return results;
        };
        let due = placing.started + Duration::from_secs_f64(index as f64 / placing.rate);
        tokio::time::sleep_until(due.into()).await;
        let customer = placing.customers[index % placing.customers.len()];
        let key = format!("chaos-{}-{index}", placing.run);
        results.push(place(&shop, customer, &key, order, &placing.skus).await);
        let placed = placing.placed.fetch_add(1, Ordering::Relaxed) + 1;
        if placed.is_multiple_of(100) {
            println!(
                "chaos: {placed} orders placed at {:.1} s",
                placing.started.elapsed().as_secs_f64()
            );
        }
    }
}

/// Places one order as a careful client does: a request that got no answer, a 5xx (the
/// function or its database is down) or a 429 is sent again with the same Idempotency-Key,
/// which place-order answers with the order the first attempt made, if it made one.
async fn place(
    shop: &Shop,
    customer: Uuid,
    key: &str,
    order: &PlannedOrder,
    skus: &[String],
) -> Result<String, String> {
    let lines: Vec<serde_json::Value> = order
        .lines
        .iter()
        .map(|(product, quantity)| json!({"productId": skus[*product], "quantity": quantity}))
        .collect();
    let body = json!({"lines": lines, "paymentToken": order.token});
    let deadline = Instant::now() + ORDER_DEADLINE;
    let mut wait = Duration::from_millis(100);
    loop {
        // A fresh token per attempt: a long run outlives any one token.
        let token = shop.token(customer, Role::Customer);
        let outcome = shop
            .try_send(
                Method::POST,
                "/orders",
                Some(&token),
                Some(key),
                Some(body.clone()),
            )
            .await;
        let last_error = match outcome {
            Ok(answer) if answer.status == StatusCode::CREATED => {
                return answer.body["data"]["orderId"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("order {key}: 201 without an order id: {}", answer.body));
            }
            Ok(answer)
                if answer.status.is_server_error() || answer.status == StatusCode::TOO_MANY_REQUESTS =>
            {
                format!("{} {}", answer.status, answer.body["error"]["code"])
            }
            Ok(answer) => return Err(format!("order {key}: {} {}", answer.status, answer.body)),
            Err(error) => format!("no answer: {error}"),
        };
        if Instant::now() + wait > deadline {
            return Err(format!(
                "order {key} not accepted within {ORDER_DEADLINE:?}: {last_error}"
            ));
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(2));
    }
}

/// Kills the plan's processes one after another at their moments, each brought back with
/// `local-stack/up` after its downtime. A moment that passed while the previous process was
/// coming back is taken at once.
async fn kill_on_schedule(
    stack: Stack,
    kills: Vec<PlannedKill>,
    placing: Arc<Placing>,
    run_dir: PathBuf,
) -> Vec<KillReport> {
    let mut reports = Vec::with_capacity(kills.len());
    for (index, kill) in kills.into_iter().enumerate() {
        let number = index + 1;
        tokio::time::sleep_until((placing.started + kill.at).into()).await;
        let at_secs = placing.started.elapsed().as_secs_f64();
        let orders_placed_before = placing.placed.load(Ordering::Relaxed);
        let process = kill.target.0.clone();
        let killed = {
            let (stack, process) = (stack.clone(), process.clone());
            tokio::task::spawn_blocking(move || stack.kill(&process)).await
        };
        let (pid, mut error) = match killed {
            Ok(Ok(pid)) => (Some(pid), None),
            Ok(Err(error)) => (None, Some(format!("{error:#}"))),
            Err(error) => (None, Some(error.to_string())),
        };
        println!(
            "chaos: kill {number} at {at_secs:.1} s: {process} ({}) after {orders_placed_before} orders",
            pid.map_or_else(|| "not running".to_owned(), |pid| format!("pid {pid}"))
        );
        tokio::time::sleep(kill.downtime).await;
        let restarting = Instant::now();
        let log = run_dir.join(format!("up-{number:02}-{process}.log"));
        let restarted = {
            let stack = stack.clone();
            tokio::task::spawn_blocking(move || stack.up(&log)).await
        };
        let restart_secs = restarting.elapsed().as_secs_f64();
        match restarted {
            Ok(Ok(())) => println!("chaos: {process} back after {restart_secs:.1} s"),
            Ok(Err(failure)) => {
                println!("chaos: bringing {process} back failed: {failure:#}");
                error.get_or_insert_with(|| format!("{failure:#}"));
            }
            Err(failure) => {
                error.get_or_insert_with(|| failure.to_string());
            }
        }
        reports.push(KillReport {
            number,
            process,
            pid,
            at_secs,
            orders_placed_before,
            downtime_secs: kill.downtime.as_secs_f64(),
            restart_secs,
            error,
        });
    }
    reports
}

/// Reads the run's state until it is at rest or `timeout` passes; the last reading either way.
async fn settle(
    pool: &MySqlPool,
    customers: &[String],
    products: &BTreeMap<String, i64>,
    timeout: Duration,
) -> anyhow::Result<state::RunState> {
    let started = Instant::now();
    let mut last_report = Instant::now();
    loop {
        match state::read(pool, customers, products).await {
            Ok(reading) if reading.at_rest() || started.elapsed() > timeout => return Ok(reading),
            Ok(reading) => {
                if last_report.elapsed() > Duration::from_secs(10) {
                    println!(
                        "chaos: settling for {:.0} s: {} orders open, {} outbox rows unpublished",
                        started.elapsed().as_secs_f64(),
                        reading.open_orders(),
                        reading.left_in_outbox
                    );
                    last_report = Instant::now();
                }
            }
            Err(error) if started.elapsed() > timeout => return Err(error),
            Err(error) => println!("chaos: reading the databases failed ({error:#}); trying again"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The saga's events of the run's orders (by order, by type, by distinct id) and every dead
/// letter written since the run began.
fn read_kafka(
    bootstrap_servers: &str,
    since_millis: i64,
    run_orders: &BTreeSet<String>,
) -> anyhow::Result<(EventsOnKafka, Vec<DeadLetter>)> {
    let saga_topics: Vec<String> = [
        events::topics::ORDERING_ORDER,
        events::topics::INVENTORY_STOCK,
        events::topics::PAYMENT_PAYMENT,
    ]
    .iter()
    .map(|topic| topic.name.to_owned())
    .collect();
    let mut on_kafka = EventsOnKafka::new();
    for record in kafka::records_since(bootstrap_servers, &saga_topics, since_millis, KAFKA_READ_DEADLINE)? {
        if !run_orders.contains(&record.key) {
            continue;
        }
        let (Some(ty), Some(id)) = (record.header("ce_type"), record.header("ce_id")) else {
            continue;
        };
        on_kafka
            .entry(record.key.clone())
            .or_default()
            .entry(ty.to_owned())
            .or_default()
            .insert(id.to_owned());
    }
    let dead_letter_topics = kafka::dead_letter_topics(bootstrap_servers)?;
    let dead_letters = kafka::records_since(
        bootstrap_servers,
        &dead_letter_topics,
        since_millis,
        KAFKA_READ_DEADLINE,
    )?
    .into_iter()
    .map(|record| {
        let header = |name: &str| record.header(name).unwrap_or_default().to_owned();
        DeadLetter {
            event_type: header("ce_type"),
            event_id: header("ce_id"),
            function: header("dlq-function"),
            attempts: header("dlq-attempts"),
            reason: header("dlq-reason"),
            key: record.key.clone(),
            topic: record.topic.clone(),
        }
    })
    .collect();
    Ok((on_kafka, dead_letters))
}
