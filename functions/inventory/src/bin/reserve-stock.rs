//! `reserve-stock`: reserves an order's lines (all or none) on commerce.ordering.order.placed.v1

use inventory::handlers::ReserveStock;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("inventory", "reserve-stock");
    let pool = store::mariadb::pool_from_env()?;
    let ttl_minutes: i64 = runtime::config::parsed_or("RESERVATION_TTL_MINUTES", 30)?;
    let ttl = chrono::Duration::minutes(ttl_minutes);
    runtime::events::serve(store::consumer::Runner::new(ReserveStock::new(pool, ttl))).await
}
