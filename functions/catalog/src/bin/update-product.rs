//! `update-product`: PUT /admin/products/{id}, edits a product's name, description and category.

use std::sync::Arc;

use catalog::http::{CatalogApi, update_product_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "update-product");
    let api = CatalogApi::from_env()?;
    let ready = store::mariadb::readiness(api.pool.clone());
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    runtime::http::HttpFunction::new(update_product_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
