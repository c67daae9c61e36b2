//! `void-payment`: voids a cancelled order's authorization (or prevents it).

use payment::handlers::VoidPayment;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("payment", "void-payment");
    runtime::events::serve(store::consumer::Runner::new(VoidPayment(payment::from_env()?))).await
}
