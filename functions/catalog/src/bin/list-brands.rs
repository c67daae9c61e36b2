//! `list-brands`: GET /brands and /brands/{id}: the brands that were not deleted.

use catalog::http::{CatalogApi, list_brands_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "list-brands");
    let api = CatalogApi::from_env()?;
    let ready = store::mariadb::readiness(api.pool.clone());
    runtime::http::HttpFunction::new(list_brands_routes(api))
        .readiness_check("database", ready)
        .run()
        .await
}
