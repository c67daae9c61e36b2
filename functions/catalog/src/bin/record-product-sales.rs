//! `record-product-sales`: counts the units confirmed orders sold into their products' sales
//! (commerce.ordering.order.confirmed.v1), and remembers each line for its buyer's review.

use catalog::activity::RecordProductSales;
use catalog::cache::{CatalogCache, ForgetsProducts};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "record-product-sales");
    let pool = store::mariadb::pool_from_env()?;
    let consumer = ForgetsProducts::new(RecordProductSales, CatalogCache::from_env()?);
    runtime::events::serve(store::consumer::Runner::new(pool, consumer)).await
}
