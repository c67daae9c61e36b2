//! `create-product`: POST /admin/products, creates an active product and announces it.

use std::sync::Arc;

use catalog::http::{CatalogApi, create_product_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "create-product");
    let api = CatalogApi::from_env()?;
    let ready = store::mariadb::readiness(api.pool.clone());
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    runtime::http::HttpFunction::new(create_product_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
