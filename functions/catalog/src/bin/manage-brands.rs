//! `manage-brands`: POST /admin/brands, PUT and DELETE /admin/brands/{id}: creates, renames and (softly) deletes brands.

use std::sync::Arc;

use catalog::http::{CatalogApi, manage_brands_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "manage-brands");
    let api = CatalogApi::from_env()?;
    let ready = store::mariadb::readiness(api.pool.clone());
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    runtime::http::HttpFunction::new(manage_brands_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
