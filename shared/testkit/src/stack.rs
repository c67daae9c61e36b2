//! The running local stack, as `local-stack/up` leaves it: its home (`$STACK_HOME`, by
//! default `local-stack/var`) holds the signing keys, the pid files of the processes it started
//! and `stack.env`, the settings it used (ports, database URLs).
//!
//! A setting is read from the environment first (`local-stack/test` exports `stack.env`), then
//! from `stack.env`, so a test run by hand follows a stack started on other ports.

use std::path::PathBuf;

/// The root of the repository (the workspace).
pub fn repository() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Where the local stack keeps its files.
pub fn home() -> PathBuf {
    std::env::var_os("STACK_HOME").map_or_else(|| repository().join("local-stack/var"), PathBuf::from)
}

/// A setting of the running stack, e.g. `GATEWAY_PORT` or `ORDERING_DATABASE_URL`.
pub fn setting(name: &str) -> Option<String> {
    std::env::var(name).ok().or_else(|| {
        let settings = std::fs::read_to_string(home().join("stack.env")).ok()?;
        let prefix = format!("{name}=");
        settings
            .lines()
            .find_map(|line| line.strip_prefix(prefix.as_str()))
            .map(str::to_owned)
    })
}

/// A built binary of the workspace, as `local-stack/up` builds it (`target/debug/<name>`).
pub fn binary(name: &str) -> PathBuf {
    repository().join("target/debug").join(name)
}
