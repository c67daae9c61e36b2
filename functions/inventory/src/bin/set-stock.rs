//! `set-stock`: PUT /admin/inventory/{sku}, sets the units on hand of a SKU.

use std::sync::Arc;

use inventory::http::{InventoryApi, set_stock_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("inventory", "set-stock");
    let api = InventoryApi::from_env()?;
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    let ready = store::mariadb::readiness(api.pool.clone());
    runtime::http::HttpFunction::new(set_stock_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
