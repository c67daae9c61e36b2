//! `settle-refund`: settles a refund on commerce.payment.payment.refunded.v1 or refund-failed.v1.

use ordering::refund_saga::SettleRefund;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("ordering", "settle-refund");
    let pool = store::mariadb::pool_from_env()?;
    runtime::events::serve(store::consumer::Runner::new(pool, SettleRefund)).await
}
