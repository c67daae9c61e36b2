//! `project-customer-status`: keeps ordering's copy of whether a customer may order from
//! identity's `user.locked`, `user.unlocked` and `user.withdrawn` events, and erases a
//! withdrawn customer's personal data.

use ordering::customer_status::ProjectCustomerStatus;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("ordering", "project-customer-status");
    let pool = store::mariadb::pool_from_env()?;
    runtime::events::serve(store::consumer::Runner::new(pool, ProjectCustomerStatus)).await
}
