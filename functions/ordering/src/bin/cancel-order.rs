//! `cancel-order`: cancels an order on commerce.inventory.stock.reservation-failed.v1 or commerce.payment.payment.declined.v1.

use ordering::saga::CancelOrder;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("ordering", "cancel-order");
    let pool = ordering::lazy_pool(&runtime::config::required("DATABASE_URL")?)?;
    runtime::events::serve(CancelOrder::new(pool)).await
}
