//! The processes of the running stack, as the end-to-end tests reach them.

use testkit::stack;

/// The local URL of a function (with a trailing slash), on the port the stack gives it:
/// template.yaml's functions in order from `FUNCTION_BASE_PORT`, as `stackctl plan` assigns them.
pub fn function_url(name: &str) -> String {
    let base_port = stack::setting("FUNCTION_BASE_PORT")
        .and_then(|port| port.parse().ok())
        .unwrap_or(8100);
    let registry =
        template::Registry::load(&stack::repository().join("template.yaml")).expect("template.yaml");
    let port = registry
        .local_ports(base_port)
        .into_iter()
        .find(|(function, _)| function.name == name)
        .map(|(_, port)| port)
        .unwrap_or_else(|| panic!("{name} is in template.yaml"));
    format!("http://127.0.0.1:{port}/")
}

/// What the replay tool reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    pub acknowledged: u64,
    pub dead_lettered: u64,
}

/// Re-delivers records of `topic` to `function` with the platform's replay tool; `selection`
/// picks them (e.g. `["--key", order_id]` or `["--from-time", since]`).
pub fn replay(function: &str, topic: &str, selection: &[&str]) -> Replayed {
    let output = std::process::Command::new(stack::binary("replay"))
        .args(["--function", function, "--topic", topic])
        .args(["--target", &function_url(function)])
        .args([
            "--bootstrap-servers",
            &stack::setting("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|| "127.0.0.1:9092".to_owned()),
        ])
        .args(selection)
        .output()
        .expect("replay runs (local-stack/up builds it)");
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "replay to {function} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let count = |field: &str| {
        summary
            .lines()
            .find_map(|line| line.trim().strip_prefix(field))
            .and_then(|rest| rest.trim_end_matches(',').trim().parse().ok())
            .unwrap_or_else(|| panic!("replay printed no {field} for {function}: {summary}"))
    };
    Replayed {
        acknowledged: count("acknowledged:"),
        dead_lettered: count("dead_lettered:"),
    }
}

/// Kills a process the stack started (by its pid file) with SIGKILL: no chance to clean up.
pub fn kill(process: &str) {
    let pid_file = stack::home().join(format!("run/{process}.pid"));
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap_or_else(|_| panic!("{process}'s pid file (is local-stack/up running?)"))
        .trim()
        .to_owned();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .expect("kill");
    assert!(killed.success(), "{process} (pid {pid}) could be killed");
}

/// Runs `local-stack/up`, which starts again whatever is down, as an operator would.
pub fn bring_the_stack_back() {
    let up = std::process::Command::new(stack::repository().join("local-stack/up"))
        .output()
        .expect("run local-stack/up");
    assert!(
        up.status.success(),
        "local-stack/up could not bring the killed processes back:\n{}\n{}",
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr)
    );
}
