//! `list-stock-changes`: GET /admin/inventory/{sku}/changes, a SKU's stock change log, newest first.

use std::sync::Arc;

use inventory::http::{InventoryApi, list_stock_changes_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("inventory", "list-stock-changes");
    let api = InventoryApi::from_env()?;
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    let ready = store::mariadb::readiness(api.pool.clone());
    runtime::http::HttpFunction::new(list_stock_changes_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
