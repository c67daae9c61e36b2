//! `get-availability`: GET /inventory/{sku} and POST /inventory/availability, what is available
//! of one SKU or of many.

use inventory::http::{InventoryApi, get_availability_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("inventory", "get-availability");
    let api = InventoryApi::from_env()?;
    let ready = store::mariadb::readiness(api.pool.clone());
    runtime::http::HttpFunction::new(get_availability_routes(api))
        .readiness_check("database", ready)
        .run()
        .await
}
