//! `list-orders`: GET /orders, the caller's orders, newest first.

use std::sync::Arc;

use ordering::http::{OrderingApi, list_orders_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("ordering", "list-orders");
    let api = OrderingApi::from_env()?;
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    runtime::http::HttpFunction::new(list_orders_routes(api, verifier))
        .run()
        .await
}
