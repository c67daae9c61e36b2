//! `commit-stock`: turns a confirmed order's reservation into a sale on commerce.ordering.order.confirmed.v1

use inventory::handlers::CommitStock;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("inventory", "commit-stock");
    let pool = inventory::lazy_pool(&runtime::config::required("DATABASE_URL")?)?;
    runtime::events::serve(CommitStock::new(pool)).await
}
