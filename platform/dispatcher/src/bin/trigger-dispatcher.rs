//! The local trigger dispatcher: Kafka topics → functions over HTTP (see the library docs).

use clap::Parser;
use dispatcher::Dispatcher;
use dispatcher::cli::DispatcherArgs;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("trigger-dispatcher", "trigger-dispatcher");
    let args = DispatcherArgs::parse();
    let subscriptions = args.subscriptions()?;
    let mut functions: Vec<String> = subscriptions.iter().map(|s| s.function.clone()).collect();
    functions.sort_unstable();
    functions.dedup();
    faults::init(faults::Role::Dispatcher(functions));
    let dispatcher = Dispatcher::new(args.config(), subscriptions)?;

    let listener = dispatcher::server::bind(args.metrics_port).await?;
    let side_doors = tokio::spawn(dispatcher::server::serve(listener));
    let outcome = dispatcher.run(dispatcher::server::shutdown_signal()).await;
    side_doors.abort();
    outcome
}
