//! `project-catalog-product`: keeps ordering's copy of catalog prices up to date from
//! `commerce.catalog.product` events.

use ordering::catalog_projection::ProjectCatalogProduct;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("ordering", "project-catalog-product");
    let pool = store::mariadb::pool_from_env()?;
    runtime::events::serve(store::consumer::Runner::new(pool, ProjectCatalogProduct)).await
}
