//! `project-stock-availability`: whether each SKU, and so each product, has stock, from
//! inventory's commerce.inventory.stock.depleted.v1 and restored.v1.

use catalog::activity::ProjectStockAvailability;
use catalog::cache::{CatalogCache, ForgetsProducts};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "project-stock-availability");
    let pool = store::mariadb::pool_from_env()?;
    let consumer = ForgetsProducts::new(ProjectStockAvailability, CatalogCache::from_env()?);
    runtime::events::serve(store::consumer::Runner::new(pool, consumer)).await
}
