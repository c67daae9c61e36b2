//! `project-catalog-product`: keeps ordering's copy of catalog prices up to date from
//! `commerce.catalog.product` events.

use ordering::catalog_projection::ProjectCatalogProduct;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("ordering", "project-catalog-product");
    let database_url = runtime::config::required("DATABASE_URL")?;
    // Lazy: the pool connects on first use, so start-up (Lambda's init phase) stays fast and a
    // database that is briefly down makes events retry instead of the function crash-looping.
    // A short acquire timeout answers "retry later" quickly when the database is down, instead
    // of holding the delivery for sqlx's default 30 s.
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(5)
        .acquire_timeout(std::time::Duration::from_secs(3))
        .connect_lazy(&database_url)?;
    runtime::events::serve(ProjectCatalogProduct::new(pool)).await
}
