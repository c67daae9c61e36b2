//! `refund-payment`: refunds part of a captured payment on commerce.ordering.order.refund-requested.v1, once per refund.

use payment::handlers::RefundPayment;
use store::consumer::Runner;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("payment", "refund-payment");
    let pool = store::mariadb::pool_from_env()?;
    runtime::events::serve(Runner::new(pool, RefundPayment(payment::from_env()?))).await
}
