//! `get-order`: GET /orders/{id}, one of the caller's orders with its history.

use std::sync::Arc;

use ordering::http::{OrderingApi, get_order_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("ordering", "get-order");
    let api = OrderingApi::from_env()?;
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    runtime::http::HttpFunction::new(get_order_routes(api, verifier))
        .run()
        .await
}
