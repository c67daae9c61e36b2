//! `list-promotions`: `GET /products/{id}/promotions`, the promotions running or to come.

use catalog::http::{CatalogApi, list_promotions_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("catalog", "list-promotions");
    let api = CatalogApi::from_env()?;
    let ready = store::mariadb::readiness(api.pool.clone());
    runtime::http::HttpFunction::new(list_promotions_routes(api))
        .readiness_check("database", ready)
        .run()
        .await
}
