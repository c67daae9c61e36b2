//! `manage-promotions`: `POST /admin/products/{id}/promotions` adds a promotion (a rate or an
//! amount off for a time window); `DELETE /admin/products/{id}/promotions/{promotionId}` ends
//! one now.

use std::sync::Arc;

use catalog::http::{CatalogApi, manage_promotions_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "manage-promotions");
    let api = CatalogApi::from_env()?;
    let ready = store::mariadb::readiness(api.pool.clone());
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    runtime::http::HttpFunction::new(manage_promotions_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
