//! `place-order`: POST /orders, places an order priced from the catalog projection (Idempotency-Key required).

use std::sync::Arc;

use ordering::http::{OrderingApi, place_order_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("ordering", "place-order");
    let api = OrderingApi::from_env()?;
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    let ready = store::mariadb::readiness(api.pool.clone());
    runtime::http::HttpFunction::new(place_order_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
