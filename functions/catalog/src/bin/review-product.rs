//! `review-product`: `POST /products/{id}/reviews` writes the buyer's review of an order line; `PUT` and `DELETE /reviews/{id}` let its author change or delete it.

use std::sync::Arc;

use catalog::http::{CatalogApi, review_product_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "review-product");
    let api = CatalogApi::from_env()?;
    let ready = store::mariadb::readiness(api.pool.clone());
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    runtime::http::HttpFunction::new(review_product_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
