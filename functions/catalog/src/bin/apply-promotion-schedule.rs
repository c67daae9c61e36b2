//! `apply-promotion-schedule`: on a schedule, reprices the products whose promotion windows
//! opened or closed since their prices were last computed (`sku-price-changed` for each SKU
//! whose selling price changed).

use catalog::cache::CatalogCache;
use catalog::promotions::ApplyPromotionSchedule;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "apply-promotion-schedule");
    let pool = store::mariadb::pool_from_env()?;
    let job = ApplyPromotionSchedule::new(pool).with_cache(CatalogCache::from_env()?);
    runtime::schedule::serve(job).await
}
