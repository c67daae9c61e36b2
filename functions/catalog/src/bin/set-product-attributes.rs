//! `set-product-attributes`: PUT /admin/products/{id}/attributes: replaces a product's
//! attribute values, checked against its category's attributes.

use std::sync::Arc;

use catalog::http::{CatalogApi, set_product_attributes_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "set-product-attributes");
    let api = CatalogApi::from_env()?;
    let ready = store::mariadb::readiness(api.pool.clone());
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    runtime::http::HttpFunction::new(set_product_attributes_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
