//! `reserve-stock`: reserves an order's lines (all or none) on commerce.ordering.order.placed.v1

use inventory::cache::{ForgetsAvailability, StockCache};
use inventory::handlers::ReserveStock;
use store::consumer::Runner;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("inventory", "reserve-stock");
    let pool = store::mariadb::pool_from_env()?;
    let ttl_minutes: i64 = runtime::config::parsed_or("RESERVATION_TTL_MINUTES", 30)?;
    let reserve = ReserveStock {
        ttl: chrono::Duration::minutes(ttl_minutes),
    };
    let consumer = ForgetsAvailability::new(reserve, StockCache::from_env()?);
    runtime::events::serve(Runner::new(pool, consumer)).await
}
