//! `release-stock`: gives a cancelled order's reserved stock back on commerce.ordering.order.cancelled.v1

use inventory::handlers::ReleaseStock;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("inventory", "release-stock");
    let pool = inventory::lazy_pool(&runtime::config::required("DATABASE_URL")?)?;
    runtime::events::serve(ReleaseStock::new(pool)).await
}
