//! What a chaos run did and found: written as JSON next to the run's logs and printed as a
//! short summary.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::checks::{DeadLetter, Verdict};

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub seed: u64,
    /// Names the run's products, customers and idempotency keys.
    pub run: String,
    pub started_at: String,
    pub stack_home: String,
    pub settings: SettingsReport,
    pub kills: Vec<KillReport>,
    pub timings: Timings,
    /// Orders per outcome: `confirmed`, `cancelled: <reason>`, or a status that is not final.
    pub outcomes: BTreeMap<String, usize>,
    pub dead_letters: Vec<DeadLetter>,
    pub verdicts: Vec<Verdict>,
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SettingsReport {
    pub orders: usize,
    pub kills: usize,
    pub rate_per_second: f64,
    pub shoppers: usize,
    pub payment_mix: String,
    pub hot_products: usize,
    pub spread_products: usize,
    pub kinds: Vec<String>,
    pub max_downtime_secs: f64,
    pub settle_timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct KillReport {
    pub number: usize,
    pub process: String,
    /// `None` when the process was not running at its moment.
    pub pid: Option<u32>,
    /// Seconds after the first order was due.
    pub at_secs: f64,
    pub orders_placed_before: usize,
    /// How long it stayed down before `local-stack/up` was run.
    pub downtime_secs: f64,
    /// How long `local-stack/up` took to bring it back (healthy).
    pub restart_secs: f64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub setup_secs: f64,
    pub placing_secs: f64,
    pub kills_done_secs: f64,
    pub settle_secs: f64,
    pub checks_secs: f64,
    pub total_secs: f64,
}

impl Report {
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, serde_json::to_vec_pretty(self)?)?;
        Ok(())
    }

    /// The summary printed at the end of a run.
    pub fn summary(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "chaos: seed {}, run {}, {} orders at {}/s, {} kills",
            self.seed,
            self.run,
            self.settings.orders,
            self.settings.rate_per_second,
            self.kills.len()
        );
        for kill in &self.kills {
            let _ = writeln!(
                text,
                "  kill {:>2} at {:>6.1} s: {:<20} {:<12} after {:>5} orders; down {:.1} s; back after {:.1} s{}",
                kill.number,
                kill.at_secs,
                kill.process,
                kill.pid
                    .map_or_else(|| "(not running)".to_owned(), |pid| format!("(pid {pid})")),
                kill.orders_placed_before,
                kill.downtime_secs,
                kill.restart_secs,
                kill.error
                    .as_deref()
                    .map_or_else(String::new, |error| format!(" — {error}"))
            );
        }
        let outcomes: Vec<String> = self
            .outcomes
            .iter()
            .map(|(outcome, count)| format!("{outcome} {count}"))
            .collect();
        let _ = writeln!(text, "outcomes: {}", outcomes.join(", "));
        let timings = &self.timings;
        let _ = writeln!(
            text,
            "timings: setup {:.0} s, placing {:.0} s, kills done at {:.0} s, settling {:.0} s, checks {:.0} s, total {:.0} s",
            timings.setup_secs,
            timings.placing_secs,
            timings.kills_done_secs,
            timings.settle_secs,
            timings.checks_secs,
            timings.total_secs
        );
        for verdict in &self.verdicts {
            let _ = writeln!(
                text,
                "{} {} — {}",
                if verdict.passed { "PASS" } else { "FAIL" },
                verdict.check,
                verdict.summary
            );
            for problem in &verdict.problems {
                let _ = writeln!(text, "       {problem}");
            }
            if verdict.problem_count > verdict.problems.len() {
                let _ = writeln!(
                    text,
                    "       … and {} more (see the report file)",
                    verdict.problem_count - verdict.problems.len()
                );
            }
        }
        let _ = writeln!(
            text,
            "chaos: {}",
            if self.passed {
                "every invariant held"
            } else {
                "INVARIANTS BROKEN"
            }
        );
        text
    }
}
