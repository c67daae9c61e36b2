//! `confirm-order`: confirms an order on commerce.payment.payment.authorized.v1.

use ordering::saga::ConfirmOrder;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("ordering", "confirm-order");
    let pool = store::mariadb::pool_from_env()?;
    runtime::events::serve(store::consumer::Runner::new(pool, ConfirmOrder)).await
}
