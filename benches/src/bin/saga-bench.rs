//! `saga-bench`: how fast the order saga runs on the local stack, end to end.
//!
//! Through the gateway, like a storefront: an admin creates a product with enough stock for
//! every order, then `--concurrency` customers place `--orders` orders back to back
//! (`tok_approve`). It prints place-order's latency and throughput as clients see them, and
//! the saga's own time from PLACED to CONFIRMED, taken from each order's history (server
//! clocks, so polling adds nothing). Every order must end CONFIRMED; anything else is counted
//! and reported, by status and cancellation reason.
//!
//! `--skus N` spreads the orders over N products in turn, and `--stock N` gives each of them
//! N units instead of one per order it receives: `--skus 1 --stock 50` with 300 orders is a
//! flash sale, where exactly 50 may be confirmed (more is an oversell, and fails the run).
//! `--timeout-every N` pays every Nth order with `tok_timeout` instead: the simulated gateway
//! times out on it until the order is cancelled, which holds up the deliveries queued behind
//! it. The PLACED → CONFIRMED figures of the other orders show how far that spreads.
//! `--orders-csv FILE` writes one line per order (its SKU, final status, reason and times)
//! for the experiments in docs/experiments/.
//!
//! Needs a running stack (`local-stack/up`); tokens are signed with its keys
//! (`$STACK_HOME/keys`). Build with `--release`; see docs/benchmarks/saga.md. Not a function:
//! it is not in template.yaml.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use benches::saga::{Outcomes, SkuPlan, csv_line, records_handled};
use chrono::{DateTime, Utc};
use clap::Parser;
use security::{Role, SigningKeys, TokenIssuer};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(about = "End-to-end benchmark of the order saga through the local gateway")]
struct Arguments {
    /// The gateway, e.g. http://127.0.0.1:8080 (default: GATEWAY_PORT of the stack).
    #[arg(long)]
    gateway: Option<String>,
    /// The stack's home (keys and stack.env).
    #[arg(long, env = "STACK_HOME", default_value = "local-stack/var")]
    stack_home: PathBuf,
    #[arg(long, env = "JWT_ISSUER", default_value = "https://identity.commerce.local")]
    issuer: String,
    #[arg(long, env = "JWT_AUDIENCE", default_value = "commerce")]
    audience: String,
    /// Orders to place.
    #[arg(long, default_value_t = 500)]
    orders: usize,
    /// Customers placing orders at the same time.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Orders per second, spread evenly (an open arrival rate, as a steady stream of
    /// shoppers); without it the customers place orders back to back (a burst).
    #[arg(long)]
    rate: Option<f64>,
    /// How long every order may take to settle.
    #[arg(long, default_value_t = 300)]
    deadline_secs: u64,
    /// Products the orders are spread over, in turn (order n buys SKU n mod N).
    #[arg(long, default_value_t = 1)]
    skus: usize,
    /// Units each product starts with (default: as many as the orders it receives, so all
    /// can be confirmed). Less than that is a sale that sells out.
    #[arg(long)]
    stock: Option<usize>,
    /// Pays every Nth order (the Nth, the 2Nth, …) with `tok_timeout`: a payment the simulated
    /// gateway never answers in time, so that order ends CANCELLED after its retries.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    timeout_every: Option<u64>,
    /// Writes one CSV line per order here: order id, SKU, final status, cancellation reason,
    /// placed and settled times (server clocks) and the saga's milliseconds.
    #[arg(long)]
    orders_csv: Option<PathBuf>,
    /// The trigger dispatcher's metrics, watched before the clock starts until the setup's
    /// events are all delivered (default: DISPATCHER_PORT of the stack).
    #[arg(long)]
    dispatcher_metrics: Option<String>,
}

struct Shop {
    client: reqwest::Client,
    base: String,
    issuer: TokenIssuer,
}

impl Shop {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {token}"));
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let body = serde_json::from_slice(&response.bytes().await?).unwrap_or(Value::Null);
        Ok((status, body))
    }

    fn token(&self, role: Role) -> anyhow::Result<String> {
        Ok(self.issuer.issue(uuid::Uuid::now_v7(), &[role])?.token)
    }
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    // Nearest rank: small samples stay honest instead of interpolating between two values.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((fraction * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn print_latencies(label: &str, mut values: Vec<Duration>) {
    values.sort();
    println!(
        "{label:<32} n={:<5} p50={:>7.1} ms  p95={:>7.1} ms  p99={:>7.1} ms  max={:>7.1} ms",
        values.len(),
        percentile(&values, 0.50).as_secs_f64() * 1e3,
        percentile(&values, 0.95).as_secs_f64() * 1e3,
        percentile(&values, 0.99).as_secs_f64() * 1e3,
        values.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

/// Records the dispatcher has handled so far, over every function and topic.
async fn records_delivered(client: &reqwest::Client, metrics: &str) -> anyhow::Result<f64> {
    let text = client
        .get(metrics)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    Ok(records_handled(&text))
}

/// Waits until the dispatcher has handled no record for two seconds; returns how long that
/// took and how many records it handled meanwhile.
async fn wait_until_quiet(
    client: &reqwest::Client,
    metrics: &str,
    deadline: Instant,
) -> anyhow::Result<(Duration, u64)> {
    const STILL_FOR: Duration = Duration::from_secs(2);
    let started = Instant::now();
    let first = records_delivered(client, metrics).await?;
    let (mut last, mut still_since) = (first, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = records_delivered(client, metrics).await?;
        if now != last {
            (last, still_since) = (now, Instant::now());
        } else if still_since.elapsed() >= STILL_FOR {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            return Ok((started.elapsed().saturating_sub(STILL_FOR), (last - first) as u64));
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the dispatcher was still delivering the setup's events at the deadline"
        );
    }
}

/// How an order's saga ended, from its history (server clocks).
#[derive(Debug)]
struct Settled {
    status: String,
    placed_at: DateTime<Utc>,
    settled_at: DateTime<Utc>,
}

impl Settled {
    /// PLACED → final status.
    fn elapsed(&self) -> Duration {
        (self.settled_at - self.placed_at).to_std().unwrap_or_default()
    }
}

/// The final status of a settled order and when it was placed and settled.
fn settled(order: &Value) -> Option<Settled> {
    let history = order["history"].as_array()?;
    let at = |entry: &Value| {
        entry["at"]
            .as_str()
            .and_then(|at| at.parse::<DateTime<Utc>>().ok())
    };
    let last = history.last()?;
    Some(Settled {
        status: last["to"].as_str()?.to_owned(),
        placed_at: at(history.first()?)?,
        settled_at: at(last)?,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let arguments = Arguments::parse();
    let keys = SigningKeys::from_file(&arguments.stack_home.join("keys/signing-keys.json"))?;
    let stack_port = |name: &str, default: &str| -> anyhow::Result<String> {
        let settings = std::fs::read_to_string(arguments.stack_home.join("stack.env"))?;
        let prefix = format!("{name}=");
        Ok(settings
            .lines()
            .find_map(|line| line.strip_prefix(prefix.as_str()))
            .unwrap_or(default)
            .to_owned())
    };
    let gateway = match arguments.gateway.clone() {
        Some(gateway) => gateway,
        None => format!("http://127.0.0.1:{}", stack_port("GATEWAY_PORT", "8080")?),
    };
    let dispatcher_metrics = match arguments.dispatcher_metrics.clone() {
        Some(url) => url,
        None => format!(
            "http://127.0.0.1:{}/metrics",
            stack_port("DISPATCHER_PORT", "9464")?
        ),
    };
    let shop = Arc::new(Shop {
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?,
        base: gateway,
        issuer: TokenIssuer::new(
            keys,
            arguments.issuer.clone(),
            arguments.audience.clone(),
            Duration::from_secs(900),
        ),
    });

    // The products, with their stock, and ordering's copy of each.
    let plan = SkuPlan::new(arguments.orders, arguments.skus, arguments.stock).map_err(anyhow::Error::msg)?;
    let admin = shop.token(Role::Admin)?;
    let run = uuid::Uuid::now_v7().simple().to_string();
    let products: Vec<String> = (0..plan.skus())
        .map(|sku| {
            if plan.skus() == 1 {
                format!("bench-{run}")
            } else {
                format!("bench-{run}-{sku}")
            }
        })
        .collect();
    for product in &products {
        let created = shop
            .call(
                reqwest::Method::POST,
                "/admin/products",
                &admin,
                None,
                Some(
                    json!({"productId": product, "name": "Bench cup", "priceMinor": 100, "currency": "EUR"}),
                ),
            )
            .await?;
        anyhow::ensure!(created.0 == 201, "creating the product failed: {}", created.1);
        let stocked = shop
            .call(
                reqwest::Method::PUT,
                &format!("/admin/inventory/{product}"),
                &admin,
                None,
                Some(json!({"onHand": plan.stock()})),
            )
            .await?;
        anyhow::ensure!(stocked.0 == 200, "setting the stock failed: {}", stocked.1);
    }
    // Ordering learns each product from its event: a probe order (declined) is retried until
    // ordering knows the product. The probes must settle before the clock starts, so that the
    // unit each one held is back in stock when the sale begins.
    let probe_customer = shop.token(Role::Customer)?;
    let started = Instant::now();
    let mut probes = Vec::new();
    for product in &products {
        let probe_key = uuid::Uuid::now_v7().to_string();
        loop {
            let body =
                json!({"lines": [{"productId": product, "quantity": 1}], "paymentToken": "tok_decline"});
            let (status, answer) = shop
                .call(
                    reqwest::Method::POST,
                    "/orders",
                    &probe_customer,
                    Some(&probe_key),
                    Some(body),
                )
                .await?;
            match status {
                201 => {
                    probes.push(answer["data"]["orderId"].as_str().unwrap_or_default().to_owned());
                    break;
                }
                422 if answer["error"]["code"] == "UNKNOWN_PRODUCT" => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                other => anyhow::bail!("the probe order got {other}: {answer}"),
            }
        }
    }
    let known = started.elapsed();
    let probe_deadline = Instant::now() + Duration::from_secs(arguments.deadline_secs);
    for probe in &probes {
        loop {
            let (_, answer) = shop
                .call(
                    reqwest::Method::GET,
                    &format!("/orders/{probe}"),
                    &probe_customer,
                    None,
                    None,
                )
                .await?;
            if answer["data"]["status"] != "PLACED" {
                break;
            }
            anyhow::ensure!(
                Instant::now() < probe_deadline,
                "probe order {probe} did not settle in time"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // The setup leaves events behind (the products' projections, the probes' cancellations and
    // released stock: thousands with many SKUs). The clock starts once they are delivered, so
    // that the run measures the orders and not the tail of its own setup.
    let quiet = wait_until_quiet(&shop.client, &dispatcher_metrics, probe_deadline).await;
    if plan.skus() == 1 {
        println!(
            "product {} with {} units; ordering knew it {:.0} ms after it was created",
            products[0],
            plan.stock(),
            known.as_secs_f64() * 1e3
        );
    } else {
        println!(
            "{} products bench-{run}-0.. with {} units each; ordering knew them {:.0} ms after they were created",
            plan.skus(),
            plan.stock(),
            known.as_secs_f64() * 1e3
        );
    }

    match quiet {
        Ok((waited, records)) => println!(
            "the setup's last {records} records were delivered {:.0} ms after its orders settled",
            waited.as_secs_f64() * 1e3
        ),
        Err(error) => println!("not waiting for the setup's events to be delivered: {error:#}"),
    }

    // Place every order, `concurrency` at a time.
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let placing = Instant::now();
    let paced_from = tokio::time::Instant::now();
    let rate = arguments.rate.filter(|rate| *rate > 0.0);
    let products = Arc::new(products);
    let workers: Vec<_> = (0..arguments.concurrency)
        .map(|_| {
            let shop = Arc::clone(&shop);
            let next = Arc::clone(&next);
            let products = Arc::clone(&products);
            let total = arguments.orders;
            let timeout_every = arguments.timeout_every;
            tokio::spawn(async move {
                let customer = shop.token(Role::Customer)?;
                let mut placed = Vec::new();
                let mut latencies = Vec::new();
                let mut busy = 0_usize;
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= total {
                        break;
                    }
                    if let Some(rate) = rate {
                        tokio::time::sleep_until(paced_from + Duration::from_secs_f64(n as f64 / rate)).await;
                    }
                    let key = uuid::Uuid::now_v7().to_string();
                    let sku = plan.sku_of(n);
                    let times_out = timeout_every.is_some_and(|every| (n as u64 + 1).is_multiple_of(every));
                    let token = if times_out { "tok_timeout" } else { "tok_approve" };
                    let body = json!({"lines": [{"productId": products[sku], "quantity": 1}], "paymentToken": token});
                    loop {
                        let sent = Instant::now();
                        let (status, answer) = shop
                            .call(reqwest::Method::POST, "/orders", &customer, Some(&key), Some(body.clone()))
                            .await?;
                        latencies.push(sent.elapsed());
                        match status {
                            201 => {
                                placed.push((answer["data"]["orderId"].as_str().unwrap_or_default().to_owned(), sku));
                                break;
                            }
                            // Not yet projected, or overloaded: the same key again, like a client.
                            422 if answer["error"]["code"] == "UNKNOWN_PRODUCT" => {
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                            503 => {
                                busy += 1;
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                            other => anyhow::bail!("place-order answered {other}: {answer}"),
                        }
                    }
                }
                Ok::<_, anyhow::Error>((customer, placed, latencies, busy))
            })
        })
        .collect();
    let mut customers = Vec::new();
    let mut latencies = Vec::new();
    let mut busy = 0;
    for worker in workers {
        let (customer, placed, worker_latencies, worker_busy) = worker.await??;
        latencies.extend(worker_latencies);
        busy += worker_busy;
        customers.push((customer, placed));
    }
    let placing_time = placing.elapsed();
    #[allow(clippy::cast_precision_loss)]
    let rate = arguments.orders as f64 / placing_time.as_secs_f64();
    println!(
        "placed {} orders in {:.2} s ({rate:.1} orders/s) with {} customers; {busy} answers were 503 SERVICE_BUSY",
        arguments.orders,
        placing_time.as_secs_f64(),
        arguments.concurrency
    );
    print_latencies("place-order (client)", latencies);

    // Wait for every order to settle and read its saga time from its history.
    let deadline = Instant::now() + Duration::from_secs(arguments.deadline_secs);
    let mut saga_times = Vec::new();
    let mut cancelled_times = Vec::new();
    let mut outcomes = Outcomes::default();
    let mut csv = vec![csv_line(&[
        "order_id",
        "sku",
        "status",
        "cancel_reason",
        "placed_at",
        "settled_at",
        "saga_ms",
    ])];
    for (customer, placed) in &customers {
        for (order_id, sku) in placed {
            loop {
                let (_, answer) = shop
                    .call(
                        reqwest::Method::GET,
                        &format!("/orders/{order_id}"),
                        customer,
                        None,
                        None,
                    )
                    .await?;
                let order = &answer["data"];
                if order["status"] != "PLACED" {
                    let reason = order["cancelReason"].as_str();
                    let status = order["status"].as_str().unwrap_or("UNKNOWN");
                    outcomes.add(status, reason);
                    let ended = settled(order);
                    match &ended {
                        Some(ended) if ended.status == "CONFIRMED" => saga_times.push(ended.elapsed()),
                        Some(ended) => cancelled_times.push(ended.elapsed()),
                        None => {}
                    }
                    let (placed_at, settled_at, saga_ms) = ended.map_or_else(Default::default, |ended| {
                        (
                            ended.placed_at.to_rfc3339(),
                            ended.settled_at.to_rfc3339(),
                            ended.elapsed().as_millis().to_string(),
                        )
                    });
                    csv.push(csv_line(&[
                        order_id,
                        &products[*sku],
                        status,
                        reason.unwrap_or_default(),
                        &placed_at,
                        &settled_at,
                        &saga_ms,
                    ]));
                    break;
                }
                anyhow::ensure!(
                    Instant::now() < deadline,
                    "order {order_id} did not settle in time"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    println!(
        "all settled {:.2} s after the first order; {} did not end CONFIRMED",
        placing.elapsed().as_secs_f64(),
        outcomes.total() - outcomes.confirmed()
    );
    println!("outcomes: {outcomes}");
    print_latencies("saga PLACED -> CONFIRMED (server)", saga_times);
    if !cancelled_times.is_empty() {
        print_latencies("saga PLACED -> CANCELLED (server)", cancelled_times);
    }
    if let Some(path) = &arguments.orders_csv {
        std::fs::write(path, csv.join("\n") + "\n")?;
        println!("wrote {} orders to {}", csv.len() - 1, path.display());
    }
    // Selling more than the stock is the one outcome no fault may cause.
    let confirmable = plan.confirmable();
    anyhow::ensure!(
        outcomes.confirmed() <= confirmable,
        "OVERSOLD: {} orders confirmed, but the stock allowed {confirmable}",
        outcomes.confirmed()
    );
    if plan.stock() * plan.skus() < arguments.orders {
        println!(
            "stock {} x {} SKUs for {} orders: {} confirmed, {confirmable} at most",
            plan.stock(),
            plan.skus(),
            arguments.orders,
            outcomes.confirmed()
        );
    }
    Ok(())
}
