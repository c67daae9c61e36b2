//! The stack's processes as the chaos run reaches them: found through the pid files
//! `local-stack/up` writes under `$STACK_HOME/run`, killed with SIGKILL, and brought back by
//! running `local-stack/up` as an operator would.
//!
//! A pid is trusted only while the process still names the stack's home on its command line
//! (the servers) or in its environment (the platform's own processes), the rule the scripts
//! keep, so a recycled pid of an unrelated process is never signalled.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// The stack the run works on: its home (canonical, as the scripts see it), its repository
/// and the settings `local-stack/up` wrote to its `stack.env`.
#[derive(Debug, Clone)]
pub struct Stack {
    pub home: PathBuf,
    pub repository: PathBuf,
    settings: String,
}

impl Stack {
    /// The stack of `testkit::stack::home()`; refuses a home without `stack.env`, and a
    /// `stack.env` that does not say every port `local-stack/up` needs to restart a server
    /// where it was (older stacks did not write Kafka's controller port).
    pub fn find() -> anyhow::Result<Self> {
        let home = std::fs::canonicalize(testkit::stack::home())
            .context("the stack's home (is local-stack/up running?)")?;
        let repository = std::fs::canonicalize(testkit::stack::repository())?;
        let settings = std::fs::read_to_string(home.join("stack.env"))
            .with_context(|| format!("{}/stack.env (run local-stack/up)", home.display()))?;
        anyhow::ensure!(
            settings
                .lines()
                .any(|line| line.starts_with("KAFKA_CONTROLLER_PORT=")),
            "{}/stack.env does not name Kafka's controller port, so a restart could move Kafka; \
             run local-stack/up of this version once to rewrite it",
            home.display()
        );
        Ok(Self {
            home,
            repository,
            settings,
        })
    }

    /// A setting of this stack's `stack.env`. Unlike `testkit::stack::setting`, the
    /// environment is not asked first: a run kills this stack, so it must also check this
    /// stack, whatever another stack's settings a shell still exports.
    pub fn setting(&self, name: &str) -> anyhow::Result<String> {
        let prefix = format!("{name}=");
        self.settings
            .lines()
            .find_map(|line| line.strip_prefix(prefix.as_str()))
            .map(str::to_owned)
            .with_context(|| format!("{}/stack.env has no {name}", self.home.display()))
    }

    /// The pid of `process` if it runs and belongs to this stack.
    pub fn pid_of(&self, process: &str) -> Option<u32> {
        let text = std::fs::read_to_string(self.home.join("run").join(format!("{process}.pid"))).ok()?;
        let pid: u32 = text.trim().parse().ok()?;
        (is_alive(pid) && self.owns(pid)).then_some(pid)
    }

    /// Every process that has a pid file, and whether it runs.
    pub fn processes(&self) -> Vec<(String, bool)> {
        let mut found = Vec::new();
        if let Ok(entries) = std::fs::read_dir(self.home.join("run")) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                // mariadbd.pid is the one MariaDB writes itself, next to the stack's mariadb.pid.
                if let Some(process) = name.strip_suffix(".pid")
                    && process != "mariadbd"
                {
                    found.push((process.to_owned(), self.pid_of(process).is_some()));
                }
            }
        }
        found.sort();
        found
    }

    /// SIGKILLs `process` and waits until it is gone; returns its pid.
    pub fn kill(&self, process: &str) -> anyhow::Result<u32> {
        let pid = self
            .pid_of(process)
            .with_context(|| format!("{process} is not running"))?;
        let status = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .context("running kill")?;
        anyhow::ensure!(status.success(), "kill -KILL {pid} ({process}) failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        while is_alive(pid) {
            anyhow::ensure!(
                Instant::now() < deadline,
                "{process} (pid {pid}) outlived SIGKILL"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(pid)
    }

    /// Runs `local-stack/up` with the settings the stack was started with (its `stack.env`),
    /// so every server comes back on its own port. Its output goes to `log`.
    pub fn up(&self, log: &Path) -> anyhow::Result<()> {
        let up = self.repository.join("local-stack/up");
        let output = Command::new("bash")
            .arg("-c")
            .arg(r#"set -a; . "$STACK_HOME/stack.env"; set +a; exec "$0""#)
            .arg(&up)
            .env("STACK_HOME", &self.home)
            .output()
            .context("running local-stack/up")?;
        let mut text = output.stdout;
        text.extend_from_slice(&output.stderr);
        std::fs::write(log, &text).with_context(|| format!("writing {}", log.display()))?;
        if output.status.success() {
            Ok(())
        } else {
            let text = String::from_utf8_lossy(&text);
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            anyhow::bail!(
                "local-stack/up failed ({}); its output is in {}:\n{}",
                output.status,
                log.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )
        }
    }

    fn owns(&self, pid: u32) -> bool {
        let home = self.home.to_string_lossy();
        let read = |file: &str| std::fs::read(format!("/proc/{pid}/{file}")).unwrap_or_default();
        let command_line = String::from_utf8_lossy(&read("cmdline")).replace('\0', " ");
        if command_line.contains(home.as_ref()) {
            return true;
        }
        String::from_utf8_lossy(&read("environ"))
            .split('\0')
            .filter_map(|variable| variable.strip_prefix("STACK_HOME="))
            .any(|value| std::fs::canonicalize(value).is_ok_and(|value| value == self.home))
    }
}

/// Alive and not a zombie (a killed process nobody reaps yet stays in /proc as state Z).
fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The state follows the command name, which is in parentheses and may hold spaces.
            let after_name = stat.rsplit_once(')')?.1;
            after_name.split_whitespace().next().map(|state| state != "Z")
        })
        .unwrap_or(false)
}
