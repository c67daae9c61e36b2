//! `customer-cancel-order`: POST /orders/{id}/cancel, the caller cancels an order that is not confirmed.

use std::sync::Arc;

use ordering::http::{OrderingApi, cancel_order_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("ordering", "customer-cancel-order");
    let api = OrderingApi::from_env()?;
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    let ready = store::mariadb::readiness(api.pool.clone());
    runtime::http::HttpFunction::new(cancel_order_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
