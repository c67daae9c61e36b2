//! Static group membership against the local stack's broker: a dispatcher killed with
//! SIGKILL and started again under the same instance name gets its partitions back without
//! waiting for its old member's session to run out, and two dispatchers that were given one
//! name do not share it silently.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Child, Command, Stdio};

use dispatcher::{ConsumerConfig, InstanceName};
use serde_json::json;
use support::*;

/// Far longer than any test waits: if a restart had to wait for the old member's session to
/// end, the test's deadline would pass first.
const LONG_SESSION_SECS: &str = "300";

/// A `trigger-dispatcher` process, killed with SIGKILL when dropped.
struct DispatcherProcess(Child);

impl DispatcherProcess {
    fn start(topic: &str, target: &str, group_prefix: &str, instance: &str) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_trigger-dispatcher"))
            .args(["--bootstrap-servers", &bootstrap_servers()])
            .args(["--subscribe", &format!("restarted={topic}={target}")])
            .args(["--group-prefix", group_prefix])
            .args(["--instance-id", instance])
            .args(["--session-timeout-secs", LONG_SESSION_SECS])
            // A port of its own choosing: the name is given, so the port need not be stable.
            .args(["--metrics-port", "0"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("trigger-dispatcher starts");
        Self(child)
    }

    /// SIGKILL: no offsets committed, no goodbye to the group.
    fn kill(mut self) {
        self.0.kill().expect("SIGKILL");
        self.0.wait().expect("reaped");
    }
}

impl Drop for DispatcherProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dispatcher_killed_and_restarted_under_its_name_resumes_before_its_old_session_would_end() {
    let topic = TestTopic::create(3).await;
    let function = FakeFunction::acknowledging().await;
    let (group_prefix, instance) = (unique("test.static"), unique("dispatcher"));
    let producer = producer();
    let produce = |range: std::ops::Range<u32>| {
        let (producer, topic) = (&producer, &topic.name);
        async move {
            for sequence in range {
                produce_event(
                    producer,
                    topic,
                    &format!("event-{sequence}"),
                    &format!("key-{sequence}"),
                    json!({}),
                )
                .await;
            }
        }
    };

    let first = DispatcherProcess::start(&topic.name, &function.url, &group_prefix, &instance);
    produce(0..12).await;
    eventually("the first dispatcher delivered every record", || {
        function.distinct_ids().len() == 12
    })
    .await;
    first.kill();

    let _second = DispatcherProcess::start(&topic.name, &function.url, &group_prefix, &instance);
    produce(12..24).await;
    eventually(
        "the restarted dispatcher delivered the records produced after the kill",
        || function.distinct_ids().len() == 24,
    )
    .await;
    topic.delete(&["restarted"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_dispatchers_given_one_name_the_older_stops_and_says_why() {
    let topic = TestTopic::create(2).await;
    let function = FakeFunction::acknowledging().await;
    let group = unique("test.fenced");
    let instance = InstanceName::parse(&unique("shared-name")).unwrap();
    let config = || {
        let mut config = test_config();
        config.consumer = ConsumerConfig {
            instance: Some(instance.clone()),
            ..config.consumer
        };
        config
    };
    let subscribe = || vec![subscription("fenced", &topic.name, &function.url, &group)];
    let producer = producer();

    let older = RunningDispatcher::start(config(), subscribe());
    produce_event(&producer, &topic.name, "before", "key", json!({})).await;
    eventually("the older dispatcher delivered a record", || {
        function.distinct_ids().contains("before")
    })
    .await;

    let newer = RunningDispatcher::start(config(), subscribe());
    let error = older
        .ended()
        .await
        .expect_err("the older dispatcher cannot go on under a name the newer one took");
    let message = format!("{error:#}");
    assert!(
        message.contains("fenced") && message.contains(instance.as_str()),
        "the error names what happened and the shared name: {message}"
    );

    produce_event(&producer, &topic.name, "after", "key", json!({})).await;
    eventually("the newer dispatcher delivers", || {
        function.distinct_ids().contains("after")
    })
    .await;
    newer.stop().await;
    topic.delete(&["fenced"]).await;
}
