//! The local trigger dispatcher: Kafka topics → functions over HTTP (see the library docs).

use clap::Parser;
use dispatcher::Dispatcher;
use dispatcher::cli::DispatcherArgs;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("trigger-dispatcher", "trigger-dispatcher");
    let args = DispatcherArgs::parse();
    let dispatcher = Dispatcher::new(args.config(), args.subscriptions()?)?;

    let listener = dispatcher::server::bind(args.metrics_port).await?;
    let side_doors = tokio::spawn(dispatcher::server::serve(listener));
    let outcome = dispatcher.run(dispatcher::server::shutdown_signal()).await;
    side_doors.abort();
    outcome
}
