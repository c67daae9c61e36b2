//! `record-order-progress`: records when inventory reserved an order's stock and payment
//! authorized it, from `stock.reserved` and `payment.authorized`, for the order's page.

use ordering::progress::RecordOrderProgress;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("ordering", "record-order-progress");
    let pool = store::mariadb::pool_from_env()?;
    runtime::events::serve(store::consumer::Runner::new(pool, RecordOrderProgress)).await
}
