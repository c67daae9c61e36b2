//! How well and how fast keyword search finds products, Korean and English
//! (docs/benchmarks/catalog-search.md).
//!
//! Seeds a throw-away database in the local stack's MariaDB with the generated catalog
//! (`catalog::seed`, the same as `catalog-seed`), then runs every query of the labelled set
//! (`benches/search/queries.tsv`) two ways:
//!
//! - **n-gram FULLTEXT**: what `GET /products?q=` does (catalog's own tokens, MariaDB's
//!   FULLTEXT index in boolean mode, ranked by relevance);
//! - **substring**: the original platform's search, `name LIKE '%q%' OR description LIKE
//!   '%q%'`, newest first.
//!
//! For each it prints precision at 10 (of the first ten results, how many are what the query
//! wants), recall (of all the products the query wants, how many it found at all) and the
//! latency of the whole browse (page and count), median and 95th percentile.
//!
//! ```sh
//! set -a; . local-stack/var/stack.env; set +a
//! cargo run --release -p benches --bin catalog-search-bench -- --products 10000 --repeat 20
//! ```

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use catalog::domain::{Page, Sort};
use catalog::products::{self, BrowseFilter};
use catalog::search::Keywords;
use clap::Parser;
use sqlx::MySqlPool;
use store::testing::TestDatabase;

#[derive(Debug, Parser)]
#[command(about = "Precision, recall and latency of catalog keyword search on a generated catalog")]
struct Arguments {
    #[arg(long, default_value_t = 10_000)]
    products: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Timed runs of every query and method.
    #[arg(long, default_value_t = 20)]
    repeat: usize,
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/search/queries.tsv"))]
    queries: std::path::PathBuf,
}

/// What a labelled query wants: kinds of goods, or a brand's products.
#[derive(Debug)]
enum Wanted {
    Kinds(BTreeSet<String>),
    Brand(String),
}

#[derive(Debug)]
struct Labelled {
    query: String,
    wanted: Wanted,
}

fn read_queries(path: &std::path::Path) -> anyhow::Result<Vec<Labelled>> {
    let text = std::fs::read_to_string(path)?;
    let mut queries = Vec::new();
    for line in text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
    {
        let mut columns = line.split('\t');
        let (Some(query), Some(wanted)) = (columns.next(), columns.next()) else {
            anyhow::bail!(
                "{}: a line needs a query and its labels: {line:?}",
                path.display()
            );
        };
        let wanted = match wanted.strip_prefix("brand:") {
            Some(brand) => Wanted::Brand(brand.to_owned()),
            None => Wanted::Kinds(wanted.split(',').map(str::to_owned).collect()),
        };
        queries.push(Labelled {
            query: query.to_owned(),
            wanted,
        });
    }
    Ok(queries)
}

/// The right answers, from the generator rather than from what search reads.
struct Truth {
    kind_of: HashMap<String, &'static str>,
    brand_of: HashMap<String, String>,
}

impl Truth {
    fn is_wanted(&self, product_id: &str, wanted: &Wanted) -> bool {
        match wanted {
            Wanted::Kinds(kinds) => self
                .kind_of
                .get(product_id)
                .is_some_and(|kind| kinds.contains(*kind)),
            Wanted::Brand(brand) => self.brand_of.get(product_id) == Some(brand),
        }
    }

    fn wanted_count(&self, wanted: &Wanted) -> usize {
        self.kind_of
            .keys()
            .filter(|id| self.is_wanted(id, wanted))
            .count()
    }
}

#[derive(Debug, Clone, Copy)]
enum Method {
    Ngram,
    Substring,
}

/// The first page (10) and every match of a query.
async fn run(pool: &MySqlPool, method: Method, query: &str) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    match method {
        Method::Ngram => {
            let keywords = Keywords::parse(query).map_err(|error| anyhow::anyhow!("{query:?}: {error}"))?;
            let filter = BrowseFilter {
                keywords: Some(keywords.clone()),
                ..BrowseFilter::default()
            };
            let page = products::browse(pool, &filter, Sort::Relevance, Page::new(1, 10)?).await?;
            let all: Vec<String> = sqlx::query_scalar(
                "SELECT product_id FROM product WHERE status = 'ACTIVE'
                 AND MATCH (search_text) AGAINST (? IN BOOLEAN MODE)",
            )
            .bind(keywords.boolean_query())
            .fetch_all(pool)
            .await?;
            Ok((
                page.products
                    .into_iter()
                    .map(|product| product.product_id)
                    .collect(),
                all,
            ))
        }
        Method::Substring => {
            let pattern = format!("%{query}%");
            let first: Vec<String> = sqlx::query_scalar(
                "SELECT product_id FROM product WHERE status = 'ACTIVE' AND (name LIKE ? OR description LIKE ?)
                 ORDER BY created_at DESC, product_id LIMIT 10",
            )
            .bind(&pattern)
            .bind(&pattern)
            .fetch_all(pool)
            .await?;
            let _count: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM product WHERE status = 'ACTIVE' AND (name LIKE ? OR description LIKE ?)",
            )
            .bind(&pattern)
            .bind(&pattern)
            .fetch_one(pool)
            .await?;
            let all: Vec<String> = sqlx::query_scalar(
                "SELECT product_id FROM product WHERE status = 'ACTIVE' AND (name LIKE ? OR description LIKE ?)",
            )
            .bind(&pattern)
            .bind(&pattern)
            .fetch_all(pool)
            .await?;
            Ok((first, all))
        }
    }
}

/// The page and the count, as a shopper's request costs them (not the full match list).
async fn timed(pool: &MySqlPool, method: Method, query: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    match method {
        Method::Ngram => {
            let filter = BrowseFilter {
                keywords: Some(Keywords::parse(query).map_err(|error| anyhow::anyhow!("{error}"))?),
                ..BrowseFilter::default()
            };
            products::browse(pool, &filter, Sort::Relevance, Page::new(1, 20)?).await?;
        }
        Method::Substring => {
            let pattern = format!("%{query}%");
            let _: Vec<String> = sqlx::query_scalar(
                "SELECT product_id FROM product WHERE status = 'ACTIVE' AND (name LIKE ? OR description LIKE ?)
                 ORDER BY created_at DESC, product_id LIMIT 20",
            )
            .bind(&pattern)
            .bind(&pattern)
            .fetch_all(pool)
            .await?;
            let _: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM product WHERE status = 'ACTIVE' AND (name LIKE ? OR description LIKE ?)",
            )
            .bind(&pattern)
            .bind(&pattern)
            .fetch_one(pool)
            .await?;
        }
    }
    Ok(started.elapsed())
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let arguments = Arguments::parse();
    let queries = read_queries(&arguments.queries)?;
    let database = TestDatabase::with_migrations_of("catalog").await;
    let generated = catalog::seed::generate(arguments.seed, arguments.products);
    let truth = Truth {
        kind_of: generated
            .iter()
            .map(|seed| (seed.product.product_id.as_str().to_owned(), seed.kind))
            .collect(),
        brand_of: generated
            .iter()
            .filter_map(|seed| {
                let brand = seed.product.brand_id.as_ref()?;
                Some((
                    seed.product.product_id.as_str().to_owned(),
                    brand.as_str().to_owned(),
                ))
            })
            .collect(),
    };
    let skus: usize = generated
        .iter()
        .map(|seed| {
            seed.product
                .option_groups
                .iter()
                .map(|group| group.options.len())
                .product::<usize>()
        })
        .sum();
    eprintln!(
        "Seeding {} products, {skus} SKUs, into {}…",
        generated.len(),
        database.name
    );
    let started = Instant::now();
    catalog::seed::write(&database.pool, generated, 4, |done| {
        eprintln!("  {done} products")
    })
    .await?;
    let seeded = started.elapsed();
    println!(
        "Seeded {} products ({skus} SKUs, with their outbox events) in {:.1} s: {:.0} products/s.",
        arguments.products,
        seeded.as_secs_f64(),
        arguments.products as f64 / seeded.as_secs_f64()
    );
    sqlx::query("ANALYZE TABLE product")
        .execute(&database.pool)
        .await?;

    println!();
    println!(
        "| query | wanted | n-gram P@10 | n-gram recall | n-gram matches | substring P@10 | substring recall | substring matches |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut sums = [0.0_f64; 4];
    for labelled in &queries {
        let wanted = truth.wanted_count(&labelled.wanted);
        let mut row = Vec::new();
        for (slot, method) in [Method::Ngram, Method::Substring].into_iter().enumerate() {
            let (first, all) = run(&database.pool, method, &labelled.query).await?;
            let relevant_first = first
                .iter()
                .filter(|id| truth.is_wanted(id, &labelled.wanted))
                .count();
            // Precision at 10 over the results there are (a query with 4 results, all right, is 1.0).
            let precision = if first.is_empty() {
                0.0
            } else {
                relevant_first as f64 / first.len() as f64
            };
            let found = all
                .iter()
                .filter(|id| truth.is_wanted(id, &labelled.wanted))
                .count();
            let recall = found as f64 / wanted.max(1) as f64;
            sums[slot * 2] += precision;
            sums[slot * 2 + 1] += recall;
            row.push(format!("{precision:.2} | {recall:.2} | {}", all.len()));
        }
        println!("| {} | {wanted} | {} | {} |", labelled.query, row[0], row[1]);
    }
    let count = queries.len() as f64;
    println!(
        "| **mean of {} queries** | | **{:.3}** | **{:.3}** | | **{:.3}** | **{:.3}** | |",
        queries.len(),
        sums[0] / count,
        sums[1] / count,
        sums[2] / count,
        sums[3] / count
    );

    println!();
    println!("| method | requests | median ms | p95 ms | max ms |");
    println!("|---|---:|---:|---:|---:|");
    for method in [Method::Ngram, Method::Substring] {
        let mut times = Vec::new();
        for _ in 0..arguments.repeat {
            for labelled in &queries {
                times.push(timed(&database.pool, method, &labelled.query).await?);
            }
        }
        times.sort();
        println!(
            "| {method:?} | {} | {:.2} | {:.2} | {:.2} |",
            times.len(),
            millis(percentile(&times, 0.5)),
            millis(percentile(&times, 0.95)),
            millis(percentile(&times, 1.0))
        );
    }
    database.drop().await;
    Ok(())
}
