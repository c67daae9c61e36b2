//! The outbox relay: MariaDB binlog → Kafka (see the library docs).

use std::sync::Arc;

use relay::{RelayConfig, RelayStatus};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("outbox-relay", "outbox-relay");
    let config = RelayConfig::from_env()?;
    let port = runtime::config::parsed_or("PORT", 9465_u16)?;
    let status = Arc::new(RelayStatus::default());
    let side_doors = tokio::spawn(relay::server::serve(port, Arc::clone(&status)));
    let outcome = relay::supervisor::run(config, status, relay::server::shutdown_signal()).await;
    side_doors.abort();
    outcome.map_err(Into::into)
}
