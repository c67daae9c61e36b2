//! The outbox relay: MariaDB binlog → Kafka (see the library docs).

use relay::{Relay, RelayConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("outbox-relay", "outbox-relay");
    let config = RelayConfig::from_env()?;
    let port = std::env::var("PORT")
        .ok()
        .and_then(|port| port.parse().ok())
        .unwrap_or(9465);
    let mut relay = Relay::start(config).await?;
    let side_doors = tokio::spawn(relay::server::serve(port, relay.status()));
    let outcome = tokio::select! {
        error = relay.failed() => Err(error.into()),
        () = relay::server::shutdown_signal() => relay.stop().await.map_err(Into::into),
    };
    side_doors.abort();
    outcome
}
