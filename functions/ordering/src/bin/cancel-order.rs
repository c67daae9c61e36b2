//! `cancel-order`: cancels an order on commerce.inventory.stock.reservation-failed.v1 or commerce.payment.payment.declined.v1.

use ordering::saga::CancelOrder;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("ordering", "cancel-order");
    let pool = store::mariadb::pool_from_env()?;
    runtime::events::serve(store::consumer::Runner::new(pool, CancelOrder)).await
}
