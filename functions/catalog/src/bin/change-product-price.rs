//! `change-product-price`: PUT /admin/products/{id}/price, sets a product's price and announces it.

use std::sync::Arc;

use catalog::http::{CatalogApi, change_price_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "change-product-price");
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    runtime::http::HttpFunction::new(change_price_routes(CatalogApi::from_env()?, verifier))
        .run()
        .await
}
