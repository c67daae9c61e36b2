//! `confirm-order`: confirms an order on commerce.payment.payment.authorized.v1.

use ordering::saga::ConfirmOrder;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("ordering", "confirm-order");
    let pool = ordering::lazy_pool(&runtime::config::required("DATABASE_URL")?)?;
    runtime::events::serve(ConfirmOrder::new(pool)).await
}
