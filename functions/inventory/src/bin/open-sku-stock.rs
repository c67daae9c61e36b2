//! `open-sku-stock`: opens the stock of every SKU catalog announces on commerce.catalog.product.sku-created.v1

use inventory::cache::{ForgetsAvailability, StockCache};
use inventory::handlers::OpenSkuStock;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("inventory", "open-sku-stock");
    let pool = store::mariadb::pool_from_env()?;
    let consumer = ForgetsAvailability::new(OpenSkuStock, StockCache::from_env()?);
    runtime::events::serve(store::consumer::Runner::new(pool, consumer)).await
}
