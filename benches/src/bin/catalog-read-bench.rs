//! What the Redis read cache does to the hottest reads (docs/benchmarks/catalog-reads.md):
//! a product's page (`GET /products/{id}`), browse pages (`GET /products?…`, four filter and
//! sort combinations, pages 1–3) and availability (`GET /inventory/{sku}` and a five-SKU cart,
//! `POST /inventory/availability`).
//!
//! Seeds a throw-away catalog database with the generated catalog (`catalog::seed`) and a
//! throw-away inventory database with stock for its SKUs, then calls the real routers
//! in-process (the runtime's envelope and metrics middleware included, no TCP) from
//! `--concurrency` tasks back to back, for `--seconds` per run, `--runs` times, in three modes:
//!
//! - **no cache**: every read goes to MariaDB;
//! - **hit**: the cache on the stack's Redis, warmed first, so reads come from Redis;
//! - **miss**: the cache on, but each request's entry is deleted (or, for browse, the
//!   generation bumped) just before it, outside the timing: a read that looks in Redis, goes
//!   to MariaDB and fills the entry. Concurrent tasks may fill an entry another reads next, so
//!   the share of real misses is printed.
//!
//! ```sh
//! set -a; . local-stack/var/stack.env; set +a
//! cargo run --release -p benches --bin catalog-read-bench        # --products 2000 --seconds 2 --runs 3
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use cache::{Counts, ReadCache, Settings};
use catalog::cache::CatalogCache;
use catalog::http::{CatalogApi, browse_products_routes, get_product_routes};
use clap::Parser;
use inventory::cache::StockCache;
use inventory::http::{InventoryApi, get_availability_routes};
use sqlx::MySqlPool;
use store::testing::TestDatabase;
use tower::ServiceExt;

#[derive(Debug, Clone, Parser)]
#[command(about = "Latency and throughput of catalog and inventory reads with and without the Redis cache")]
struct Arguments {
    #[arg(long, default_value_t = 2_000)]
    products: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Tasks sending requests back to back.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Length of one timed run.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Timed runs of every read and mode.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Products (and SKUs) the reads pick from: the hot set a cache holds.
    #[arg(long, default_value_t = 500)]
    hot: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    bench(Arguments::parse()).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    NoCache,
    Hit,
    Miss,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Self::NoCache => "no cache",
            Self::Hit => "hit",
            Self::Miss => "miss",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    Product,
    Browse,
    Availability,
    Cart,
}

impl Read {
    fn name(self) -> &'static str {
        match self {
            Self::Product => "product page",
            Self::Browse => "browse page",
            Self::Availability => "availability (1 SKU)",
            Self::Cart => "availability (cart of 5)",
        }
    }
}

/// What the reads pick from.
struct Catalog {
    products: Vec<String>,
    browses: Vec<String>,
}

/// The routers of one mode and the caches behind them.
struct Setup {
    catalog: Router,
    inventory: Router,
    catalog_cache: CatalogCache,
    stock_cache: StockCache,
}

fn setup(mode: Mode, catalog_pool: &MySqlPool, inventory_pool: &MySqlPool) -> anyhow::Result<Setup> {
    let (catalog_cache, stock_cache) = match mode {
        Mode::NoCache => (CatalogCache::off(), StockCache::off()),
        Mode::Hit | Mode::Miss => {
            let url = std::env::var("REDIS_URL").map_err(|_| anyhow::anyhow!("REDIS_URL is not set"))?;
            let prefix = format!("bench:{}:", uuid::Uuid::now_v7());
            let cache = ReadCache::redis(&url, &prefix, Settings::default())?;
            (CatalogCache::new(cache.clone()), StockCache::new(cache))
        }
    };
    let api = CatalogApi::new(catalog_pool.clone()).with_cache(catalog_cache.clone());
    let catalog = runtime::http::HttpFunction::new(
        Router::new()
            .merge(get_product_routes(api.clone()))
            .merge(browse_products_routes(api)),
    )
    .into_router();
    let inventory = runtime::http::HttpFunction::new(get_availability_routes(
        InventoryApi::new(inventory_pool.clone()).with_cache(stock_cache.clone()),
    ))
    .into_router();
    Ok(Setup {
        catalog,
        inventory,
        catalog_cache,
        stock_cache,
    })
}

/// The `n`-th request of a read, and what a miss must clear before it.
fn request(read: Read, catalog: &Catalog, n: usize) -> (Request<Body>, String) {
    let product = &catalog.products[n % catalog.products.len()];
    match read {
        Read::Product => (get(&format!("/products/{product}")), product.clone()),
        Read::Browse => (get(&catalog.browses[n % catalog.browses.len()]), String::new()),
        Read::Availability => (get(&format!("/inventory/{product}")), product.clone()),
        Read::Cart => {
            let skus: Vec<&String> = (0..5)
                .map(|offset| &catalog.products[(n + offset * 97) % catalog.products.len()])
                .collect();
            let body = serde_json::json!({ "skus": skus }).to_string();
            let request = Request::builder()
                .method("POST")
                .uri("/inventory/availability")
                .header("content-type", "application/json")
                .body(Body::from(body))
                .expect("request");
            (
                request,
                skus.iter().map(|sku| sku.as_str()).collect::<Vec<_>>().join(","),
            )
        }
    }
}

fn get(path: &str) -> Request<Body> {
    Request::builder().uri(path).body(Body::empty()).expect("request")
}

/// Makes the next read of `key` miss.
async fn clear(read: Read, setup: &Setup, key: &str) {
    match read {
        Read::Product => setup.catalog_cache.forget_products([key]).await,
        Read::Browse => setup.catalog_cache.forget_browse().await,
        Read::Availability | Read::Cart => setup.stock_cache.forget(key.split(',')).await,
    }
}

#[derive(Debug, Clone, Copy)]
struct Figures {
    per_second: f64,
    p50: Duration,
    p95: Duration,
    p99: Duration,
    failures: u64,
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

/// One timed run: `concurrency` tasks back to back for `seconds`.
async fn run(
    read: Read,
    mode: Mode,
    setup: &Arc<Setup>,
    catalog: &Arc<Catalog>,
    arguments: &Arguments,
) -> Figures {
    let deadline = Instant::now() + Duration::from_secs_f64(arguments.seconds);
    let next = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..arguments.concurrency {
        let (setup, catalog, next, failures) =
            (setup.clone(), catalog.clone(), next.clone(), failures.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                let (request, key) = request(read, &catalog, n);
                if mode == Mode::Miss {
                    clear(read, &setup, &key).await;
                }
                let router = match read {
                    Read::Product | Read::Browse => setup.catalog.clone(),
                    Read::Availability | Read::Cart => setup.inventory.clone(),
                };
                let begun = Instant::now();
                let status = match router.oneshot(request).await {
                    Ok(response) => {
                        let status = response.status();
                        // The body is part of the answer's cost.
                        let _ = axum::body::to_bytes(response.into_body(), usize::MAX).await;
                        status
                    }
                    Err(never) => match never {},
                };
                latencies.push(begun.elapsed());
                if status != StatusCode::OK {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("a bench task"));
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Figures {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.50),
        p95: percentile(&latencies, 0.95),
        p99: percentile(&latencies, 0.99),
        failures: failures.load(Ordering::Relaxed),
    }
}

fn millis(duration: Duration) -> String {
    format!("{:.2}", duration.as_secs_f64() * 1000.0)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn counts_of(setup: &Setup, read: Read) -> Counts {
    match read {
        Read::Product | Read::Browse => setup.catalog_cache.read_cache().counts(),
        Read::Availability | Read::Cart => setup.stock_cache.read_cache().counts(),
    }
}

async fn seed(arguments: &Arguments) -> anyhow::Result<(TestDatabase, TestDatabase, Catalog)> {
    let catalog_database = TestDatabase::with_migrations_of("catalog").await;
    let inventory_database = TestDatabase::with_migrations_of("inventory").await;
    let started = Instant::now();
    let generated = catalog::seed::generate(arguments.seed, arguments.products);
    catalog::seed::write(&catalog_database.pool, generated, 4, |_| {}).await?;
    sqlx::query("ANALYZE TABLE product, sku")
        .execute(&catalog_database.pool)
        .await?;
    // Products without options are their own SKU; the reads ask for those.
    let products: Vec<String> = sqlx::query_scalar(
        "SELECT product_id FROM product WHERE NOT has_options AND status = 'ACTIVE' ORDER BY product_id LIMIT ?",
    )
    .bind(arguments.hot as u64)
    .fetch_all(&catalog_database.pool)
    .await?;
    for (number, sku) in products.iter().enumerate() {
        sqlx::query("INSERT INTO stock (sku, on_hand, reserved) VALUES (?, ?, ?)")
            .bind(sku)
            .bind(10 + number as i64 % 40)
            .bind(number as i64 % 3)
            .execute(&inventory_database.pool)
            .await?;
    }
    let category: String = sqlx::query_scalar(
        "SELECT category_id FROM product WHERE category_id IS NOT NULL GROUP BY category_id ORDER BY COUNT(*) DESC, category_id LIMIT 1",
    )
    .fetch_one(&catalog_database.pool)
    .await?;
    let brand: String = sqlx::query_scalar(
        "SELECT brand_id FROM product WHERE brand_id IS NOT NULL GROUP BY brand_id ORDER BY COUNT(*) DESC, brand_id LIMIT 1",
    )
    .fetch_one(&catalog_database.pool)
    .await?;
    let filters = [
        "sort=newest".to_owned(),
        format!("category={category}&sort=price_asc"),
        format!("brand={brand}&sort=popularity"),
        "minPrice=1000&maxPrice=50000&sort=rating".to_owned(),
    ];
    let browses = filters
        .iter()
        .flat_map(|filter| (1..=3).map(move |page| format!("/products?{filter}&page={page}&size=20")))
        .collect();
    println!(
        "Seeded {} products ({} stocked SKUs read) in {:.1} s; browse category {category}, brand {brand}.",
        arguments.products,
        products.len(),
        started.elapsed().as_secs_f64()
    );
    Ok((
        catalog_database,
        inventory_database,
        Catalog { products, browses },
    ))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

async fn bench(arguments: Arguments) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!("machine: {cores} cores, load average {} at start", load_average());
    let (catalog_database, inventory_database, catalog) = seed(&arguments).await?;
    let catalog = Arc::new(catalog);
    // Pools of their own, larger than the test databases' four, so the tasks never queue for
    // a connection.
    let connect = |url: String| {
        sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(arguments.concurrency as u32 + 2)
            .connect_lazy(&url)
    };
    let catalog_pool = connect(catalog_database.url())?;
    let inventory_pool = connect(inventory_database.url())?;

    println!();
    println!(
        "| read | mode | requests/s | p50 ms | p95 ms | p99 ms | cache hits / misses / errors | failures |"
    );
    println!("|---|---|---:|---:|---:|---:|---|---:|");
    let mut summary = Vec::new();
    for read in [Read::Product, Read::Browse, Read::Availability, Read::Cart] {
        for mode in [Mode::NoCache, Mode::Hit, Mode::Miss] {
            let setup = Arc::new(setup(mode, &catalog_pool, &inventory_pool)?);
            // Warm-up: connections, the allocator, and then in the hit mode every entry the
            // runs read.
            let warm_up = Arguments {
                seconds: 0.5,
                ..arguments.clone()
            };
            run(read, Mode::NoCache, &setup, &catalog, &warm_up).await;
            if mode == Mode::Hit {
                for n in 0..catalog.products.len().max(catalog.browses.len()) {
                    let (request, _) = request(read, &catalog, n);
                    let router = match read {
                        Read::Product | Read::Browse => setup.catalog.clone(),
                        Read::Availability | Read::Cart => setup.inventory.clone(),
                    };
                    let _ = router.oneshot(request).await;
                }
            }
            let before = counts_of(&setup, read);
            let mut runs = Vec::new();
            for _ in 0..arguments.runs {
                let figures = run(read, mode, &setup, &catalog, &arguments).await;
                runs.push(figures);
            }
            let after = counts_of(&setup, read);
            let counted = format!(
                "{} / {} / {}",
                after.hits - before.hits,
                after.misses - before.misses,
                after.errors - before.errors
            );
            for figures in &runs {
                println!(
                    "| {} | {} | {:.0} | {} | {} | {} | {counted} | {} |",
                    read.name(),
                    mode.name(),
                    figures.per_second,
                    millis(figures.p50),
                    millis(figures.p95),
                    millis(figures.p99),
                    figures.failures
                );
            }
            summary.push((read, mode, runs));
        }
    }
    println!();
    println!("Medians of the {} runs:", arguments.runs);
    println!();
    println!("| read | mode | requests/s | p50 ms | p95 ms | p99 ms |");
    println!("|---|---|---:|---:|---:|---:|");
    for (read, mode, runs) in &summary {
        let of = |pick: fn(&Figures) -> f64| median(runs.iter().map(pick).collect());
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} |",
            read.name(),
            mode.name(),
            of(|figures| figures.per_second),
            of(|figures| figures.p50.as_secs_f64() * 1000.0),
            of(|figures| figures.p95.as_secs_f64() * 1000.0),
            of(|figures| figures.p99.as_secs_f64() * 1000.0),
        );
    }
    println!();
    println!("load average {} at the end", load_average());
    catalog_pool.close().await;
    inventory_pool.close().await;
    catalog_database.drop().await;
    inventory_database.drop().await;
    Ok(())
}
