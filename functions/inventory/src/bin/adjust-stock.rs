//! `adjust-stock`: POST /admin/inventory/{sku}/adjustments, adds or removes units of a SKU.

use std::sync::Arc;

use inventory::http::{InventoryApi, adjust_stock_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("inventory", "adjust-stock");
    let api = InventoryApi {
        pool: store::mariadb::pool_from_env()?,
    };
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    runtime::http::HttpFunction::new(adjust_stock_routes(api, verifier))
        .run()
        .await
}
