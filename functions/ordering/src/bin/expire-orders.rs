//! `expire-orders`: on a schedule, cancels placed orders whose payment did not arrive in time
//! (`order.cancelled` with reason `payment-expired`).

use ordering::saga::ExpireOrders;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("ordering", "expire-orders");
    let pool = store::mariadb::pool_from_env()?;
    runtime::schedule::serve(ExpireOrders::new(pool)).await
}
