//! `create-category`: POST /admin/categories, adds a category to the tree.

use std::sync::Arc;

use catalog::http::{CatalogApi, create_category_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "create-category");
    let api = CatalogApi::from_env()?;
    let ready = store::mariadb::readiness(api.pool.clone());
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    runtime::http::HttpFunction::new(create_category_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
