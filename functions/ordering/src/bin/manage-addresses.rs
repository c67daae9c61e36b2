//! `manage-addresses`: the customer's shipping addresses under /users/me/addresses.

use std::sync::Arc;

use ordering::shop_http::{ShopApi, address_routes};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("ordering", "manage-addresses");
    let api = ShopApi::from_env()?;
    let verifier = Arc::new(security::AccessTokenVerifier::from_env()?);
    let ready = store::mariadb::readiness(api.pool.clone());
    runtime::http::HttpFunction::new(address_routes(api, verifier))
        .readiness_check("database", ready)
        .run()
        .await
}
