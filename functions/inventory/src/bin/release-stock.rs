//! `release-stock`: gives a cancelled order's reserved stock back on commerce.ordering.order.cancelled.v1

use inventory::cache::{ForgetsAvailability, StockCache};
use inventory::handlers::ReleaseStock;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("inventory", "release-stock");
    let pool = store::mariadb::pool_from_env()?;
    let consumer = ForgetsAvailability::new(ReleaseStock, StockCache::from_env()?);
    runtime::events::serve(store::consumer::Runner::new(pool, consumer)).await
}
