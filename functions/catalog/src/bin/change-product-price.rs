//! `change-product-price`: PUT /admin/products/{id}/price, sets a product's price and announces it.

use std::sync::Arc;

use catalog::http::{CatalogApi, change_price_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "change-product-price");
    let api = CatalogApi::from_env()?;
    let ready = store::mariadb::readiness(api.pool.clone());
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    runtime::http::HttpFunction::new(change_price_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
