//! `list-categories`: GET /categories, the category tree.

use catalog::http::{CatalogApi, list_categories_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "list-categories");
    let api = CatalogApi::from_env()?;
    let ready = store::mariadb::readiness(api.pool.clone());
    runtime::http::HttpFunction::new(list_categories_routes(api))
        .readiness_check("database", ready)
        .run()
        .await
}
