//! `void-payment`: voids a cancelled order's authorization (or prevents it).

use payment::handlers::VoidPayment;
use store::consumer::Runner;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("payment", "void-payment");
    let pool = store::mariadb::pool_from_env()?;
    runtime::events::serve(Runner::new(pool, VoidPayment(payment::from_env()?))).await
}
