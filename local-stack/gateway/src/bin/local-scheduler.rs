//! `local-scheduler`: runs the scheduled functions of `template.yaml` (`POST /run`) at their
//! declared rates, as EventBridge does in AWS. Serves `/healthz` on `$PORT`.

use std::time::Duration;

use clap::Parser;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "template.yaml")]
    template: std::path::PathBuf,
    /// The port of the first function; the others follow in name order (see `stackctl plan`).
    #[arg(long, env = "FUNCTION_BASE_PORT", default_value_t = 8100)]
    function_base_port: u16,
    #[arg(long, default_value = "127.0.0.1")]
    function_host: String,
    /// Run every schedule this often instead of its declared rate (seconds), e.g. in tests.
    #[arg(long, env = "SCHEDULE_EVERY_SECONDS")]
    every_seconds: Option<u64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("local-stack", "local-scheduler");
    let args = Args::parse();
    let registry = template::Registry::load(&args.template)?;
    let every = args.every_seconds.map(Duration::from_secs);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    for job in gateway::scheduler::jobs(&registry, &args.function_host, args.function_base_port, every) {
        tracing::info!(function = %job.function, every_seconds = job.every.as_secs(), "Schedule");
        tokio::spawn(gateway::scheduler::run(client.clone(), job));
    }
    runtime::http::HttpFunction::new(axum::Router::new()).run().await
}
