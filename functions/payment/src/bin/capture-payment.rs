//! `capture-payment`: captures a confirmed order's authorized payment, once.

use payment::handlers::CapturePayment;
use store::consumer::Runner;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("payment", "capture-payment");
    let pool = store::mariadb::pool_from_env()?;
    runtime::events::serve(Runner::new(pool, CapturePayment(payment::from_env()?))).await
}
