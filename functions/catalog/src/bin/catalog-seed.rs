//! `catalog-seed`: fills the catalog with a generated, realistic assortment (an operator
//! command, not a function). Every product is created through the same use case as
//! `POST /admin/products`, so its events reach inventory and ordering through the relay.
//!
//! ```sh
//! set -a; . local-stack/var/stack.env; set +a
//! target/release/catalog-seed --products 10000 --seed 7
//! ```

use std::time::Instant;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "Fills the catalog with generated products, SKUs, categories and brands")]
struct Arguments {
    /// How many products; kinds are dealt round-robin, so 10,000 make 40,500 SKUs.
    #[arg(long, default_value_t = 10_000)]
    products: usize,
    /// The same seed and size always make the same catalog.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Products created at once (one transaction each).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    #[arg(long, env = "CATALOG_DATABASE_URL", hide_env_values = true)]
    database_url: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "catalog-seed");
    let arguments = Arguments::parse();
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(u32::try_from(arguments.concurrency).unwrap_or(8).max(1))
        .connect(&arguments.database_url)
        .await?;
    let started = Instant::now();
    let products = catalog::seed::generate(arguments.seed, arguments.products);
    let skus: usize = products
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
        "Seeding {} products ({skus} SKUs) from seed {}.",
        products.len(),
        arguments.seed
    );
    let total = products.len();
    let written = catalog::seed::write(&pool, products, arguments.concurrency, move |done| {
        eprintln!("  {done} of {total} products");
    })
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "Created {} products ({} existed already) in {seconds:.1} s: {:.0} products/s.",
        written.products,
        written.skipped,
        written.products as f64 / seconds.max(0.001)
    );
    Ok(())
}
