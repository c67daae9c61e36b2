//! `activate-product`: POST /admin/products/{id}/activate, lets a discontinued product be ordered again.

use std::sync::Arc;

use catalog::http::{CatalogApi, activate_product_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "activate-product");
    let api = CatalogApi::from_env()?;
    let ready = store::mariadb::readiness(api.pool.clone());
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    runtime::http::HttpFunction::new(activate_product_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
