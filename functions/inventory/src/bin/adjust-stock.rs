//! `adjust-stock`: POST /admin/inventory/{sku}/adjustments, adds or removes units of a SKU.

use std::sync::Arc;

use inventory::http::{InventoryApi, adjust_stock_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("inventory", "adjust-stock");
    let api = InventoryApi::from_env()?;
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    let ready = store::mariadb::readiness(api.pool.clone());
    runtime::http::HttpFunction::new(adjust_stock_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
