//! `change-product-status`: `PATCH /admin/products/{id}/status` moves a product along its
//! lifecycle (DRAFT → ACTIVE ↔ SUSPENDED → DELETED); `DELETE /admin/products/{id}` deletes it.

use std::sync::Arc;

use catalog::http::{CatalogApi, change_product_status_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "change-product-status");
    let api = CatalogApi::from_env()?;
    let ready = store::mariadb::readiness(api.pool.clone());
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    runtime::http::HttpFunction::new(change_product_status_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
