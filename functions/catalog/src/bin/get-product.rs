//! `get-product`: GET /products/{id}, one product.

use catalog::http::{CatalogApi, get_product_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "get-product");
    runtime::http::HttpFunction::new(get_product_routes(CatalogApi::from_env()?))
        .run()
        .await
}
