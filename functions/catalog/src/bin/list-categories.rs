//! `list-categories`: GET /categories, the category tree.

use catalog::http::{CatalogApi, list_categories_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "list-categories");
    runtime::http::HttpFunction::new(list_categories_routes(CatalogApi::from_env()?))
        .run()
        .await
}
