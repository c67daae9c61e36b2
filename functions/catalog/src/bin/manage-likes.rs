//! `manage-likes`: `PUT` and `DELETE` `/products/{id}/like` and `/reviews/{id}/like`: likes a product or a review, or takes the like back (both idempotent).

use std::sync::Arc;

use catalog::http::{CatalogApi, manage_likes_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "manage-likes");
    let api = CatalogApi::from_env()?;
    let ready = store::mariadb::readiness(api.pool.clone());
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    runtime::http::HttpFunction::new(manage_likes_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
