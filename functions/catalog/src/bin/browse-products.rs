//! `browse-products`: GET /products, active products by category, sorted and paged.

use catalog::http::{CatalogApi, browse_products_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "browse-products");
    runtime::http::HttpFunction::new(browse_products_routes(CatalogApi::from_env()?))
        .run()
        .await
}
