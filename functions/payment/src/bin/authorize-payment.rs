//! `authorize-payment`: authorizes an order's payment once the order is placed and its stock reserved.

use payment::handlers::AuthorizePayment;
use store::consumer::Runner;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("payment", "authorize-payment");
    let pool = store::mariadb::pool_from_env()?;
    runtime::events::serve(Runner::new(pool, AuthorizePayment(payment::from_env()?))).await
}
