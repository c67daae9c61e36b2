//! `stackctl`: provisions the local stack once its servers run. Called by `local-stack/up`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use stackctl::settings::StackSettings;
use stackctl::{binlog, database, kafka};

#[derive(Debug, Parser)]
#[command(about = "Provisions the local stack's MariaDB schemas, users, migrations and Kafka topics")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create each context's schema and user, the CDC user, and apply the migrations.
    Provision {
        /// The folder with one sub-folder of sqlx migrations per context.
        #[arg(long, default_value = "migrations")]
        migrations: PathBuf,
    },
    /// Create the platform's Kafka topics that do not exist yet.
    Topics {
        #[arg(long, default_value_t = 1)]
        replication_factor: i32,
    },
    /// Check the MariaDB settings that binlog CDC needs; fails naming every wrong one.
    CheckBinlog,
    /// Print what the local stack starts, from template.yaml: one line per function
    /// (`function NAME CONTEXT PORT POOL`, POOL its database connections, 0 without a
    /// database), subscription (`subscribe NAME TOPIC PORT`) and route
    /// (`route METHOD PATH NAME PORT`).
    Plan {
        #[arg(long, default_value = "template.yaml")]
        template: PathBuf,
        /// The port of the first function; the others follow in name order.
        #[arg(long, env = "FUNCTION_BASE_PORT", default_value_t = 8100)]
        base_port: u16,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = StackSettings::from_env();
    match run(cli.command, &settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("stackctl: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: &StackSettings) -> anyhow::Result<()> {
    match command {
        Command::Provision { migrations } => database::provision(settings, &migrations).await,
        Command::Topics { replication_factor } => {
            let created = kafka::ensure_topics(
                &settings.kafka_bootstrap_servers,
                events::topics::ALL,
                replication_factor,
            )
            .await?;
            for topic in events::topics::ALL {
                let state = if created.iter().any(|name| name == topic.name) {
                    "created"
                } else {
                    "exists"
                };
                println!("topic {}: {state} ({} partitions)", topic.name, topic.partitions);
            }
            Ok(())
        }
        Command::Plan { template, base_port } => {
            let registry = template::Registry::load(&template)?;
            for (function, port) in registry.local_ports(base_port) {
                let context = function.context.as_deref().ok_or_else(|| {
                    anyhow::anyhow!(
                        "function {} has no `context` tag in {}",
                        function.name,
                        template.display()
                    )
                })?;
                let pool = stackctl::database_pool(function)?;
                println!("function {} {context} {port} {pool}", function.name);
                for subscription in &function.subscriptions {
                    println!("subscribe {} {} {port}", function.name, subscription.topic);
                }
                for route in &function.routes {
                    println!("route {} {} {} {port}", route.method, route.path, function.name);
                }
            }
            Ok(())
        }
        Command::CheckBinlog => {
            let pool = database::connect(&settings.mariadb_admin_url).await?;
            let report = binlog::check(&pool).await?;
            for check in &report.checks {
                let mark = if check.ok { "ok   " } else { "WRONG" };
                println!(
                    "{mark} {} = {} (needs {})",
                    check.variable, check.actual, check.expected
                );
            }
            if !report.is_ok() {
                let wrong: Vec<_> = report.wrong().map(|check| check.variable).collect();
                anyhow::bail!("binlog settings unfit for CDC: {}", wrong.join(", "));
            }
            Ok(())
        }
    }
}
