//! `change-product-options`: `POST /admin/products/{id}/options` adds options to a group (and
//! makes the SKUs they complete); `DELETE /admin/products/{id}/options/{optionId}` removes one
//! (and deactivates its SKUs).

use std::sync::Arc;

use catalog::http::{CatalogApi, change_product_options_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "change-product-options");
    let api = CatalogApi::from_env()?;
    let ready = store::mariadb::readiness(api.pool.clone());
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    runtime::http::HttpFunction::new(change_product_options_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
