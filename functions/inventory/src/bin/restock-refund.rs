//! `restock-refund`: puts refunded units back on hand on commerce.ordering.order.refunded.v1, once per refund.

use inventory::cache::{ForgetsAvailability, StockCache};
use inventory::handlers::RestockRefund;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("inventory", "restock-refund");
    let pool = store::mariadb::pool_from_env()?;
    let consumer = ForgetsAvailability::new(RestockRefund, StockCache::from_env()?);
    runtime::events::serve(store::consumer::Runner::new(pool, consumer)).await
}
