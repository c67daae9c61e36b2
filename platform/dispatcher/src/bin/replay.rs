//! Replays a topic (or a function's dead letters) to a function: see `dispatcher::replay`.

use std::io::Write;

use clap::Parser;
use dispatcher::cli::ReplayArgs;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("replay", "replay");
    let (config, request) = ReplayArgs::parse().request()?;
    let (stop, stopping) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        dispatcher::server::shutdown_signal().await;
        let _ = stop.send(true);
    });
    let summary = dispatcher::replay::replay(&config, request, stopping, |so_far, total| {
        let done = so_far.read;
        if done % 100 == 0 || done == total {
            eprint!(
                "\rreplay: {done}/{total} read, {} acknowledged, {} dead-lettered",
                so_far.acknowledged, so_far.dead_lettered
            );
            let _ = std::io::stderr().flush();
        }
    })
    .await?;
    eprintln!();
    println!("{summary:#?}");
    Ok(())
}
