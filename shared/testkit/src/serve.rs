//! Real HTTP servers for tests, on ports no other test can be handed in the meantime.
//!
//! Binding port 0, reading the number and closing the listener before someone else binds it
//! again races: another test (or process) can be given the same number in between, and then
//! either the server cannot start or the test talks to the wrong one. So the listener is
//! never let go: [`router`] serves on the listener it bound, and [`ServedBinary`] starts a
//! function with `PORT=0` and reads the port it bound from its log.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::Router;
use serde_json::Value;

/// How long a function binary may take to start serving.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// Serves `router` on a loopback port of its own until the test's runtime ends; answers its
/// address.
pub async fn router(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("the listener's address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

/// A function binary serving HTTP for a test, killed when dropped.
#[derive(Debug)]
pub struct ServedBinary {
    child: Child,
    port: u16,
}

impl ServedBinary {
    /// Starts `command` (a function binary with its settings) with `PORT=0` so it binds a port
    /// the system chooses, and waits until it logs that it serves and on which port. Its other
    /// log lines (warnings and errors) go to the test's output.
    ///
    /// # Panics
    /// When the binary cannot start, exits, or does not serve within a minute.
    pub async fn start(mut command: Command) -> Self {
        let program = command.get_program().to_string_lossy().into_owned();
        command
            .env("PORT", "0")
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .env_remove("LOG_FORMAT")
            // Only warnings, and the runtime's line that names the port.
            .env("RUST_LOG", "warn,runtime::http=info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("{program} starts (is it built?): {error}"));
        let stdout = child.stdout.take().expect("the piped stdout");
        // Held from here on, so the process is killed if the start fails below.
        let mut served = Self { child, port: 0 };

        let (report, reported) = tokio::sync::oneshot::channel();
        // A thread of its own reads the log for as long as the process lives, so the process
        // never blocks on a full pipe, whatever the test's runtime is doing.
        std::thread::spawn(move || {
            let mut report = Some(report);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = serving_port(&line)
                    && let Some(report) = report.take()
                {
                    let _ = report.send(port);
                } else {
                    eprintln!("{line}");
                }
            }
        });
        match tokio::time::timeout(START_DEADLINE, reported).await {
            // A binary built before the runtime logged the port it bound reports the 0 it
            // was given.
            Ok(Ok(0)) => panic!("{program} reports port 0; rebuild it"),
            Ok(Ok(port)) => served.port = port,
            Ok(Err(_)) => panic!("{program} ended before it served: {:?}", served.child.wait()),
            Err(_) => panic!("{program} did not serve within {START_DEADLINE:?}"),
        }
        served
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for ServedBinary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port of the runtime's "Serving HTTP" log line (one flat JSON object per line).
fn serving_port(line: &str) -> Option<u16> {
    let line: Value = serde_json::from_str(line).ok()?;
    if line["message"] != "Serving HTTP" {
        return None;
    }
    line["port"].as_u64().and_then(|port| u16::try_from(port).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_is_read_from_the_runtime_log_line_only() {
        let serving = r#"{"timestamp":"…","level":"INFO","message":"Serving HTTP","port":40123,"target":"runtime::http"}"#;
        assert_eq!(serving_port(serving), Some(40123));
        assert_eq!(serving_port(r#"{"message":"Event rejected","port":1}"#), None);
        assert_eq!(serving_port("not json"), None);
    }

    /// A stand-in for a function binary: prints the runtime's line, then keeps running.
    fn announcing(line: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", &format!("echo '{line}'; exec sleep 600")]);
        command
    }

    #[tokio::test]
    async fn a_binary_is_served_on_the_port_it_reports() {
        let served = ServedBinary::start(announcing(
            r#"{"level":"INFO","message":"Serving HTTP","port":40123}"#,
        ))
        .await;
        assert_eq!(served.url(), "http://127.0.0.1:40123");
    }

    #[tokio::test]
    #[should_panic(expected = "ended before it served")]
    async fn a_binary_that_ends_without_serving_fails_the_test_at_once() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo 'Cannot listen'; exit 1"]);
        ServedBinary::start(command).await;
    }

    #[tokio::test]
    async fn a_served_router_answers_on_the_port_it_was_given() {
        let address = router(Router::new().route("/", axum::routing::get(|| async { "hello" }))).await;
        let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("hello"), "{answer}");
    }
}
