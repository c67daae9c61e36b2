//! `manage-category-attributes`: POST /admin/categories/{id}/attributes, PUT and DELETE
//! /admin/categories/{id}/attributes/{attributeId}: defines a category's attributes.

use std::sync::Arc;

use catalog::http::{CatalogApi, manage_category_attributes_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "manage-category-attributes");
    let api = CatalogApi::from_env()?;
    let ready = store::mariadb::readiness(api.pool.clone());
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    runtime::http::HttpFunction::new(manage_category_attributes_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
