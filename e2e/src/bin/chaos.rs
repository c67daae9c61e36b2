//! `chaos`: places orders through the gateway while it kills the stack's processes — the
//! relay, the dispatcher, saga functions, Kafka and MariaDB — with SIGKILL at seeded random
//! moments and brings them back with `local-stack/up`, then checks the saga's invariants and
//! writes a report (see `e2e::chaos` and docs/chaos.md). Exits 1 when an invariant broke.
//!
//! It works on the stack of `$STACK_HOME` (default `local-stack/var`) and kills its processes:
//! run it on a stack nobody else is using.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use e2e::chaos::plan::{Kind, Mix, Settings};
use e2e::chaos::{RunOptions, run};

/// Orders through the gateway while the stack's processes are killed; then the invariants.
#[derive(Debug, Parser)]
#[command(name = "chaos")]
struct Args {
    /// Orders to place.
    #[arg(long, default_value_t = 300)]
    orders: usize,
    /// Processes to kill during the run.
    #[arg(long, default_value_t = 6)]
    kills: usize,
    /// The seed of the plan (products, orders, kill moments and targets); random by default
    /// and printed, so a run can be repeated.
    #[arg(long, env = "CHAOS_SEED")]
    seed: Option<u64>,
    /// Orders per second.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Customers placing orders at the same time.
    #[arg(long, default_value_t = 8)]
    shoppers: usize,
    /// Weights of the payment tokens.
    #[arg(long, default_value = "approve=70,decline=10,timeout=5,flaky=15", value_parser = Mix::parse)]
    mix: Mix,
    /// Products that every other order line wants and that sell out during the run.
    #[arg(long, default_value_t = 2)]
    hot_products: usize,
    /// Products with more stock than the run can sell.
    #[arg(long, default_value_t = 20)]
    spread_products: usize,
    /// Kinds of process to kill, comma-separated: relay, dispatcher, functions, kafka, mariadb.
    #[arg(long, value_delimiter = ',', default_value = "relay,dispatcher,functions,kafka,mariadb", value_parser = Kind::parse)]
    targets: Vec<Kind>,
    /// A killed process stays down for a random time up to this many seconds.
    #[arg(long, default_value_t = 5.0)]
    max_downtime_secs: f64,
    /// How long the saga may take to settle every order after the last kill, in seconds.
    #[arg(long, default_value_t = 600)]
    settle_timeout_secs: u64,
    /// Where the run's folder goes (default: `$STACK_HOME/chaos`).
    #[arg(long)]
    report_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.rate > 0.0, "--rate must be positive");
    anyhow::ensure!(!args.targets.is_empty(), "--targets names no kind of process");
    let options = RunOptions {
        settings: Settings {
            orders: args.orders,
            kills: args.kills,
            rate: args.rate,
            hot_skus: args.hot_products,
            spread_skus: args.spread_products,
            mix: args.mix,
            kinds: args.targets,
            max_downtime: Duration::from_secs_f64(args.max_downtime_secs.max(0.0)),
        },
        seed: args.seed.unwrap_or_else(rand::random),
        shoppers: args.shoppers,
        settle_timeout: Duration::from_secs(args.settle_timeout_secs),
        report_dir: args.report_dir,
    };
    let (report, path) = run(options).await?;
    print!("{}", report.summary());
    println!("chaos: report {}", path.display());
    if !report.passed {
        std::process::exit(1);
    }
    Ok(())
}
