//! The outbox relay: MariaDB binlog → Kafka (see the library docs), and the operator's
//! commands that move a stopped relay past a transaction (`outbox-relay --help`).

use std::sync::Arc;

use clap::Parser;
use relay::cli::{Cli, Command};
use relay::{RelayConfig, RelayStatus};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command.unwrap_or(Command::Run) {
        Command::Run => run_relay().await,
        operator_command => match relay::cli::run_operator_command(operator_command).await {
            Ok(report) => {
                print!("{report}");
                Ok(())
            }
            // An operator reads the reason, not a backtrace; nothing was changed.
            Err(error) => {
                eprintln!("error: {error:#}");
                std::process::exit(1);
            }
        },
    }
}

async fn run_relay() -> anyhow::Result<()> {
    telemetry::init("outbox-relay", "outbox-relay");
    faults::init(faults::Role::Relay);
    let config = RelayConfig::from_env()?;
    let port = runtime::config::parsed_or("PORT", 9465_u16)?;
    let status = Arc::new(RelayStatus::default());
    let side_doors = tokio::spawn(relay::server::serve(port, Arc::clone(&status)));
    let backlog = tokio::spawn(relay::backlog::watch(config.clone()));
    let outcome = relay::supervisor::run(config, status, relay::server::shutdown_signal()).await;
    backlog.abort();
    side_doors.abort();
    outcome.map_err(Into::into)
}
