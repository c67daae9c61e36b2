//! `expire-reservations`: on a schedule, releases reservations of orders that were neither
//! confirmed nor cancelled in time.

// The release build's layout of the serving future nests deeper than the default 128.
#![recursion_limit = "256"]

use inventory::cache::StockCache;
use inventory::handlers::ExpireReservations;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("inventory", "expire-reservations");
    let pool = store::mariadb::pool_from_env()?;
    let job = ExpireReservations::new(pool).with_cache(StockCache::from_env()?);
    runtime::schedule::serve(job).await
}
