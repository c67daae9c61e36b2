//! The `outbox-relay` command line: relaying (the default), and the operator's commands that
//! move a stopped relay past a transaction (docs/adr/0026). Every command reads the relay's
//! settings from the environment ([`RelayConfig::from_env`]), so an operator runs them with
//! the environment the relay runs with.

use std::fmt::Write as _;

use clap::{Args, Parser, Subcommand};

use crate::RelayConfig;
use crate::gtid::Gtid;
use crate::intervention::{Action, Intervention, Outcome};
use crate::position::RecordedIntervention;

/// Publishes every committed outbox row from the MariaDB binlog to Kafka.
#[derive(Debug, Parser)]
#[command(name = "outbox-relay")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Relays until stopped, serving /metrics, /healthz and /readyz on $PORT (the default).
    Run,
    /// Moves the stopped relay past one transaction without publishing anything from it
    /// (for reviewed DDL on an outbox).
    Skip(InterventionArgs),
    /// Publishes the outbox rows of the transaction the relay stopped at (a statement-logged
    /// insert), then moves the relay past it.
    Republish {
        #[command(flatten)]
        intervention: InterventionArgs,
        /// The id of a row the transaction's statement inserted, when the statement does not
        /// name its ids as literals (INSERT … SELECT, UUID()); repeat for each row.
        #[arg(long = "id", value_name = "EVENT_ID")]
        ids: Vec<String>,
    },
    /// Lists the recorded skips and republishes of this relay, newest first.
    Interventions {
        #[arg(long, default_value_t = 20)]
        last: u32,
    },
}

#[derive(Debug, Args)]
pub struct InterventionArgs {
    /// The transaction, as the relay's /healthz (`last_error.transaction`) and its log name
    /// it: domain-server-sequence, e.g. 0-1-4711.
    #[arg(long, value_parser = parse_gtid)]
    pub gtid: Gtid,
    /// Why; kept with the action in relay.relay_intervention.
    #[arg(long)]
    pub reason: String,
    /// Shows what would be done and changes nothing.
    #[arg(long)]
    pub dry_run: bool,
}

fn parse_gtid(text: &str) -> Result<Gtid, String> {
    text.parse()
}

impl InterventionArgs {
    /// The intervention these arguments ask for.
    pub fn intervention(&self, action: Action) -> Intervention {
        Intervention {
            gtid: self.gtid,
            action,
            reason: self.reason.clone(),
            dry_run: self.dry_run,
            performed_by: operating_system_user(),
        }
    }
}

/// The user running the command, as the environment names it, or else its numeric user id
/// (a container's shell often sets no `USER`).
fn operating_system_user() -> String {
    use std::os::unix::fs::MetadataExt as _;
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|variable| std::env::var(variable).ok().filter(|user| !user.is_empty()))
        .or_else(|| {
            std::fs::metadata("/proc/self")
                .ok()
                .map(|process| format!("uid {}", process.uid()))
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// What an intervention did, for the terminal.
pub fn describe_outcome(outcome: &Outcome, dry_run: bool) -> String {
    let mut text = String::new();
    let verb = if dry_run { "Would" } else { "Did" };
    let _ = writeln!(
        text,
        "{verb} {} transaction {}: stored position {} -> {}",
        outcome.action, outcome.gtid, outcome.position_before, outcome.position_after
    );
    for statement in &outcome.statements {
        let _ = writeln!(text, "  statement on an outbox: {statement}");
    }
    for problem in &outcome.problems {
        let _ = writeln!(text, "  unreadable: {problem}");
    }
    for row in &outcome.published {
        let _ = writeln!(
            text,
            "  {} {} ({}, key {}) to {}",
            if dry_run { "would publish" } else { "published" },
            row.id,
            row.event_type,
            row.aggregate_id,
            row.topic
        );
    }
    if !outcome.unpublished_event_ids.is_empty() {
        let _ = writeln!(
            text,
            "  left unpublished: {}",
            outcome.unpublished_event_ids.join(", ")
        );
    }
    match outcome.audit_id {
        Some(id) => {
            let _ = writeln!(
                text,
                "Recorded as relay.relay_intervention #{id}. A relay waiting in the failed state starts \
                 again by itself within a second or two; otherwise start it."
            );
        }
        None => text.push_str("Nothing was changed (--dry-run).\n"),
    }
    text
}

/// The audit rows, for the terminal.
pub fn describe_interventions(interventions: &[RecordedIntervention]) -> String {
    if interventions.is_empty() {
        return "No interventions recorded.\n".to_owned();
    }
    let mut text = String::new();
    for recorded in interventions {
        let _ = writeln!(
            text,
            "#{} {} {} {} by {}: {} -> {}; reason: {}",
            recorded.id,
            recorded.performed_at,
            recorded.action,
            recorded.gtid,
            recorded.performed_by,
            recorded.position_before,
            recorded.position_after,
            recorded.reason
        );
    }
    text
}

/// Runs an operator's command; returns what to print.
pub async fn run_operator_command(command: Command) -> anyhow::Result<String> {
    let config = RelayConfig::from_env()?;
    match command {
        Command::Run => anyhow::bail!("`run` is not an operator command"),
        Command::Skip(arguments) => {
            let outcome = crate::intervention::run(&config, &arguments.intervention(Action::Skip)).await?;
            Ok(describe_outcome(&outcome, arguments.dry_run))
        }
        Command::Republish { intervention, ids } => {
            let outcome =
                crate::intervention::run(&config, &intervention.intervention(Action::Republish { ids }))
                    .await?;
            Ok(describe_outcome(&outcome, intervention.dry_run))
        }
        Command::Interventions { last } => {
            let store =
                crate::position::PositionStore::connect(&config.position_store_url, &config.name).await?;
            let recorded = store.interventions(last).await;
            store.close().await;
            Ok(describe_interventions(&recorded?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skip_needs_a_gtid_and_a_reason() {
        assert!(Cli::try_parse_from(["outbox-relay", "skip", "--gtid", "0-1-5"]).is_err());
        assert!(Cli::try_parse_from(["outbox-relay", "skip", "--reason", "reviewed"]).is_err());
        assert!(Cli::try_parse_from(["outbox-relay", "skip", "--gtid", "0-1", "--reason", "x"]).is_err());
        let parsed = Cli::try_parse_from([
            "outbox-relay",
            "republish",
            "--gtid",
            "0-1-5",
            "--reason",
            "statement-logged hotfix",
            "--id",
            "a",
            "--id",
            "b",
        ])
        .expect("valid");
        match parsed.command {
            Some(Command::Republish { intervention, ids }) => {
                assert_eq!(intervention.gtid.to_string(), "0-1-5");
                assert_eq!(ids, ["a", "b"]);
                assert!(!intervention.dry_run);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            Cli::try_parse_from(["outbox-relay"])
                .expect("valid")
                .command
                .is_none()
        );
    }
}
