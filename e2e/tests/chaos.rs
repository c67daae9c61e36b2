//! A short chaos run on the running stack: the `chaos` binary places a hundred and twenty
//! orders while it kills, one of each, the outbox relay, the trigger dispatcher, a saga
//! function, Kafka and MariaDB, and brings each back with `local-stack/up`; it passes only if
//! every invariant it checks held (docs/chaos.md lists them). The seed is random unless
//! `CHAOS_SEED` is set; the run prints it, and the report names it, so a failure can be
//! replayed.
//!
//! Kept in its own test binary because it kills processes the other end-to-end tests rely on.

use std::process::Command;

#[test]
fn a_short_chaos_run_breaks_no_invariant_of_the_saga() {
    let status = Command::new(env!("CARGO_BIN_EXE_chaos"))
        .args(["--orders", "120", "--rate", "3", "--shoppers", "6"])
        .args([
            "--kills",
            "5",
            "--targets",
            "relay,dispatcher,functions,kafka,mariadb",
        ])
        .args(["--max-downtime-secs", "2", "--settle-timeout-secs", "150"])
        .args(["--mix", "approve=75,decline=10,timeout=5,flaky=10"])
        .status()
        .expect("the chaos binary runs");
    assert!(
        status.success(),
        "the chaos run found a broken invariant or could not run (its summary is above)"
    );
}
