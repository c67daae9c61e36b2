//! `discontinue-product`: POST /admin/products/{id}/discontinue, stops a product from being ordered.

use std::sync::Arc;

use catalog::http::{CatalogApi, discontinue_product_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "discontinue-product");
    let api = CatalogApi::from_env()?;
    let ready = store::mariadb::readiness(api.pool.clone());
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    runtime::http::HttpFunction::new(discontinue_product_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
