//! `request-refund`: POST /orders/{id}/refunds, the owner asks to refund lines of a confirmed order.

use std::sync::Arc;

use ordering::http::OrderingApi;
use ordering::refund_http::request_refund_routes;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("ordering", "request-refund");
    let api = OrderingApi::from_env()?;
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    let ready = store::mariadb::readiness(api.pool.clone());
    runtime::http::HttpFunction::new(request_refund_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
