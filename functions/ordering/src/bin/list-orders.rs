//! `list-orders`: GET /orders, the caller's orders, newest first.

use std::sync::Arc;

use ordering::http::{OrderingApi, list_orders_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("ordering", "list-orders");
    let api = OrderingApi::from_env()?;
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    let ready = store::mariadb::readiness(api.pool.clone());
    runtime::http::HttpFunction::new(list_orders_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
