//! `set-stock`: PUT /admin/inventory/{sku}, sets the units on hand of a SKU.

use std::sync::Arc;

use inventory::http::{InventoryApi, set_stock_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("inventory", "set-stock");
    let api = InventoryApi {
        pool: store::mariadb::pool_from_env()?,
    };
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    runtime::http::HttpFunction::new(set_stock_routes(api, verifier))
        .run()
        .await
}
