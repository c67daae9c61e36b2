//! `browse-products`: GET /products, active products by category, sorted and paged.

use catalog::http::{CatalogApi, browse_products_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "browse-products");
    let api = CatalogApi::from_env()?;
    let ready = store::mariadb::readiness(api.pool.clone());
    runtime::http::HttpFunction::new(browse_products_routes(api))
        .readiness_check("database", ready)
        .run()
        .await
}
