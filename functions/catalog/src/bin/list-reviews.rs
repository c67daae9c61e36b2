//! `list-reviews`: `GET /products/{id}/reviews`, a product's visible reviews, newest first.

use catalog::http::{CatalogApi, list_reviews_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "list-reviews");
    let api = CatalogApi::from_env()?;
    let ready = store::mariadb::readiness(api.pool.clone());
    runtime::http::HttpFunction::new(list_reviews_routes(api))
        .readiness_check("database", ready)
        .run()
        .await
}
