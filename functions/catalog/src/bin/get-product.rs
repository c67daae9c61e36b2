//! `get-product`: GET /products/{id}, one product; /products/{id}/skus, the SKU a choice of
//! options names; /products/{id}/attributes, its attribute values.

use catalog::http::{CatalogApi, get_product_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "get-product");
    let api = CatalogApi::from_env()?;
    let ready = store::mariadb::readiness(api.pool.clone());
    runtime::http::HttpFunction::new(get_product_routes(api))
        .readiness_check("database", ready)
        .run()
        .await
}
