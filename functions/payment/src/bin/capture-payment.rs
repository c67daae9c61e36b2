//! `capture-payment`: captures a confirmed order's authorized payment, once.

use payment::handlers::CapturePayment;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("payment", "capture-payment");
    runtime::events::serve(store::consumer::Runner::new(CapturePayment(payment::from_env()?))).await
}
