//! `update-product`: PUT /admin/products/{id}, edits a product's name, description and category.

use std::sync::Arc;

use catalog::http::{CatalogApi, update_product_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "update-product");
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    runtime::http::HttpFunction::new(update_product_routes(CatalogApi::from_env()?, verifier))
        .run()
        .await
}
