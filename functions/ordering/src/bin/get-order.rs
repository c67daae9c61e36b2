//! `get-order`: GET /orders/{id}, one of the caller's orders with its history.

use std::sync::Arc;

use ordering::http::{OrderingApi, get_order_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("ordering", "get-order");
    let api = OrderingApi::from_env()?;
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    let ready = store::mariadb::readiness(api.pool.clone());
    runtime::http::HttpFunction::new(get_order_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
