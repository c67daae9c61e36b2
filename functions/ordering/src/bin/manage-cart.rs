//! `manage-cart`: the customer's cart — GET/DELETE /cart, POST /cart/items, PATCH/DELETE /cart/items/{sku}.

use std::sync::Arc;

use ordering::shop_http::{ShopApi, cart_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("ordering", "manage-cart");
    let api = ShopApi::from_env()?;
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    let ready = store::mariadb::readiness(api.pool.clone());
    runtime::http::HttpFunction::new(cart_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
