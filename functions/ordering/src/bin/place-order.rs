//! `place-order`: POST /orders, places an order priced from the catalog projection, and
//! POST /cart/checkout, places the customer's cart (Idempotency-Key required for both).

use std::sync::Arc;

use ordering::http::{OrderingApi, place_order_routes};
use ordering::shop_http::{ShopApi, checkout_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("ordering", "place-order");
    let api = OrderingApi::from_env()?;
    let shop = ShopApi::for_checkout(&api)?;
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    let ready = store::mariadb::readiness(api.pool.clone());
    let routes = place_order_routes(api, verifier.clone()).merge(checkout_routes(shop, verifier));
    runtime::http::HttpFunction::new(routes)
        .readiness_check("database", ready)
        .run()
        .await
}
