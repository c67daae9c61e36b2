//! `commit-stock`: turns a confirmed order's reservation into a sale on commerce.ordering.order.confirmed.v1

use inventory::cache::{ForgetsAvailability, StockCache};
use inventory::handlers::CommitStock;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("inventory", "commit-stock");
    let pool = store::mariadb::pool_from_env()?;
    let consumer = ForgetsAvailability::new(CommitStock, StockCache::from_env()?);
    runtime::events::serve(store::consumer::Runner::new(pool, consumer)).await
}
