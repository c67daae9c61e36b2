//! `list-category-attributes`: GET /categories/{id}/attributes?includeInherited=: a category's
//! attributes, with its ancestors' by default.

use catalog::http::{CatalogApi, list_category_attributes_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "list-category-attributes");
    let api = CatalogApi::from_env()?;
    let ready = store::mariadb::readiness(api.pool.clone());
    runtime::http::HttpFunction::new(list_category_attributes_routes(api))
        .readiness_check("database", ready)
        .run()
        .await
}
