//! `authorize-payment`: authorizes an order's payment once the order is placed and its stock reserved.

use payment::handlers::AuthorizePayment;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("payment", "authorize-payment");
    runtime::events::serve(store::consumer::Runner::new(AuthorizePayment(
        payment::from_env()?
    )))
    .await
}
