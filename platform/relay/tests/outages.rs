//! The relay through outages of the servers it depends on, and on server settings it must
//! refuse. These tests stop and restart servers, so they run on a stack of their own (own
//! STACK_HOME and ports, started with `local-stack/up --servers-only`, removed afterwards),
//! one scenario after the other in a single test.
//!
//! - Kafka down for a while: the relay stops reading (events wait in flight, none is lost)
//!   and catches up by itself when Kafka is back.
//! - MariaDB restarted: the relay reconnects by itself and goes on from its stored position.
//! - A wrong server setting: the relay refuses to start and names the setting.
//! - A compressed binlog event: the relay stops, and its stored position stays before the
//!   event, so starting it again meets the same event instead of skipping it.

use std::collections::{HashMap, HashSet};
use std::future::ready;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use relay::{Relay, RelayConfig, RelayError, RelayState, RelayStatus};
use sqlx::MySqlPool;
use testkit::poll::Polling;

const TOPIC: &str = "commerce.ordering.order";
const DEADLINE: Duration = Duration::from_secs(90);

/// Ports of the private stack; overridable where they clash with something.
fn port(variable: &str, default: u16) -> String {
    std::env::var(format!("OUTAGES_{variable}")).unwrap_or_else(|_| default.to_string())
}

struct PrivateStack {
    home: PathBuf,
    ports: Vec<(&'static str, String)>,
    settings: HashMap<String, String>,
}

impl PrivateStack {
    fn stack_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../local-stack")
    }

    fn command(&self, script: &str, args: &[&str]) -> Command {
        let mut command = Command::new(Self::stack_dir().join(script));
        command.args(args).env("STACK_HOME", &self.home);
        for (variable, value) in &self.ports {
            command.env(variable, value);
        }
        // The main stack's settings must not leak into this one.
        for (variable, _) in std::env::vars() {
            if variable.ends_with("_DATABASE_URL")
                || ["STACK_MARIADB_ADMIN_URL", "KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL"]
                    .contains(&variable.as_str())
            {
                command.env_remove(variable);
            }
        }
        command
    }

    /// Starts (or restarts whatever is stopped of) the private stack's servers.
    fn up(&mut self) {
        let output = self
            .command("up", &["--servers-only"])
            .output()
            .expect("run local-stack/up --servers-only");
        assert!(
            output.status.success(),
            "local-stack/up --servers-only failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let env = std::fs::read_to_string(self.home.join("stack.env")).expect("the private stack.env");
        self.settings = env
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
    }

    fn start() -> Self {
        let home = std::env::temp_dir().join(format!("relay-outages-{}", uuid::Uuid::new_v4().simple()));
        let mut stack = Self {
            home,
            ports: vec![
                ("MARIADB_PORT", port("MARIADB_PORT", 3357)),
                ("KAFKA_PORT", port("KAFKA_PORT", 9492)),
                ("KAFKA_CONTROLLER_PORT", port("KAFKA_CONTROLLER_PORT", 9493)),
                ("REDIS_PORT", port("REDIS_PORT", 6440)),
            ],
            settings: HashMap::new(),
        };
        stack.up();
        stack
    }

    fn setting(&self, name: &str) -> String {
        self.settings
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in the private stack.env"))
    }

    fn pid(&self, server: &str) -> Option<i32> {
        std::fs::read_to_string(self.home.join("run").join(format!("{server}.pid")))
            .ok()
            .and_then(|pid| pid.trim().parse().ok())
    }

    /// Stops one server with SIGTERM (a clean shutdown, as in a restart) and waits until it
    /// is gone.
    fn stop(&self, server: &str) {
        let pid = self.pid(server).unwrap_or_else(|| panic!("{server} runs"));
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "signal {server}");
        let start = Instant::now();
        while is_alive(pid) {
            assert!(start.elapsed() < DEADLINE, "{server} did not stop");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn relay_config(&self, name: &str) -> RelayConfig {
        let mut config = RelayConfig::new(
            self.setting("CDC_DATABASE_URL"),
            self.setting("RELAY_DATABASE_URL"),
            self.setting("KAFKA_BOOTSTRAP_SERVERS"),
        );
        config.name = name.to_owned();
        config.schemas = vec!["ordering".to_owned()];
        config
    }

    async fn admin(&self) -> MySqlPool {
        sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(2)
            .connect(&format!("{}/ordering", self.setting("STACK_MARIADB_ADMIN_URL")))
            .await
            .expect("the private MariaDB")
    }
}

impl Drop for PrivateStack {
    fn drop(&mut self) {
        let _ = self.command("down", &[]).output();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// Running and not a zombie (nothing reaps killed processes in some containers).
fn is_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.split_whitespace().nth(2).map(|state| state != "Z"))
        .unwrap_or(false)
}

/// Inserts `count` rows in one transaction and returns their ids.
async fn insert_rows(pool: &MySqlPool, count: usize, payload_bytes: usize) -> Vec<String> {
    let ids: Vec<String> = (0..count).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let filler = "x".repeat(payload_bytes);
    let mut transaction = pool.begin().await.expect("begin");
    for id in &ids {
        sqlx::query(
            "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, topic, source, occurred_at)
             VALUES (?, 'order', ?, 'commerce.test.outage-probe.v1', JSON_OBJECT('filler', ?), ?, 'relay-outage-test', UTC_TIMESTAMP(6))",
        )
        .bind(id)
        .bind(format!("order-{}", &id[30..]))
        .bind(&filler)
        .bind(TOPIC)
        .execute(&mut *transaction)
        .await
        .expect("insert an outbox row");
    }
    transaction.commit().await.expect("commit");
    ids
}

/// Reads the topic from the beginning, remembering every event id.
struct Reader {
    consumer: StreamConsumer,
    seen: HashSet<String>,
}

impl Reader {
    fn new(bootstrap: &str) -> Self {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set(
                "group.id",
                format!("relay-outages-{}", uuid::Uuid::new_v4().simple()),
            )
            .set("enable.auto.commit", "false")
            .create()
            .expect("a consumer");
        let mut assignment = TopicPartitionList::new();
        for partition in 0..6 {
            assignment
                .add_partition_offset(TOPIC, partition, Offset::Beginning)
                .expect("an assignment");
        }
        consumer.assign(&assignment).expect("assign");
        Self {
            consumer,
            seen: HashSet::new(),
        }
    }

    /// Reads until every id of `expected` was seen or the deadline passes; returns the
    /// missing ones.
    async fn wait_for(&mut self, expected: &[String]) -> Vec<String> {
        let start = Instant::now();
        while expected.iter().any(|id| !self.seen.contains(id)) && start.elapsed() < DEADLINE {
            let Ok(record) = tokio::time::timeout(Duration::from_millis(200), self.consumer.recv()).await
            else {
                continue;
            };
            // A broker that is restarting makes the consumer report transport errors.
            let Ok(record) = record else { continue };
            if let Some(id) = record
                .headers()
                .and_then(|headers| headers.iter().find(|header| header.key == "ce_id"))
                .and_then(|header| header.value)
            {
                self.seen.insert(String::from_utf8_lossy(id).into_owned());
            }
        }
        expected
            .iter()
            .filter(|id| !self.seen.contains(*id))
            .cloned()
            .collect()
    }
}

/// How the test waits for the relay's status: every 100 ms until the deadline.
const STATUS: Polling = Polling::new(DEADLINE, Duration::from_millis(100));

async fn stored_position(stack: &PrivateStack, relay: &str) -> String {
    let pool = stack.admin().await;
    let position: String =
        sqlx::query_scalar("SELECT gtid_position FROM relay.relay_position WHERE relay = ?")
            .bind(relay)
            .fetch_one(&pool)
            .await
            .expect("a stored position");
    pool.close().await;
    position
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_relay_rides_out_kafka_and_mariadb_outages_and_refuses_unsafe_settings() {
    // The relay's own log lines (shown with --nocapture) say what it did in each outage.
    telemetry::init("relay-outages-test", "outage-relay");
    let mut stack = PrivateStack::start();
    let pool = stack.admin().await;
    let mut reader = Reader::new(&stack.setting("KAFKA_BOOTSTRAP_SERVERS"));

    // The supervised relay, as the outbox-relay process runs it.
    let status = Arc::new(RelayStatus::default());
    let (stop_relay, stop_requested) = tokio::sync::oneshot::channel::<()>();
    let supervised = tokio::spawn(relay::supervisor::run(
        stack.relay_config("outage-relay"),
        Arc::clone(&status),
        async {
            let _ = stop_requested.await;
        },
    ));
    let relaying = STATUS
        .until(
            || ready(status.snapshot().state),
            |state| *state == RelayState::Relaying,
        )
        .await;
    assert_eq!(relaying, RelayState::Relaying, "the relay starts");

    let before = insert_rows(&pool, 50, 10).await;
    assert_eq!(
        reader.wait_for(&before).await,
        Vec::<String>::new(),
        "rows before any outage arrive"
    );

    // Kafka down: what is committed meanwhile waits in flight.
    stack.stop("kafka");
    let during_kafka_outage = insert_rows(&pool, 50, 10).await;
    let waiting = STATUS
        .until(
            || ready(status.snapshot()),
            |snapshot| snapshot.events_in_flight == 50,
        )
        .await;
    assert_eq!(
        waiting.events_in_flight, 50,
        "the rows wait for Kafka: {waiting:?}"
    );
    assert_ne!(
        waiting.read_position, waiting.delivered_position,
        "nothing counts as delivered"
    );
    stack.up();
    assert_eq!(
        reader.wait_for(&during_kafka_outage).await,
        Vec::<String>::new(),
        "rows committed while Kafka was down arrive once it is back"
    );

    // MariaDB restarted: the relay notices, reconnects by itself, and goes on.
    stack.stop("mariadb");
    let reconnecting = STATUS
        .until(
            || ready(status.snapshot().state),
            |state| *state == RelayState::Reconnecting,
        )
        .await;
    stack.up();
    let pool = stack.admin().await;
    let back = STATUS
        .until(
            || ready(status.snapshot().state),
            |state| *state == RelayState::Relaying,
        )
        .await;
    let after_restart = insert_rows(&pool, 50, 10).await;
    let missing_after_restart = reader.wait_for(&after_restart).await;
    assert_eq!(
        reconnecting,
        RelayState::Reconnecting,
        "the relay noticed the restart"
    );
    assert_eq!(back, RelayState::Relaying, "the relay reconnected by itself");
    assert_eq!(
        missing_after_restart,
        Vec::<String>::new(),
        "rows after the restart arrive"
    );

    let _ = stop_relay.send(());
    supervised
        .await
        .expect("the supervisor task")
        .expect("the relay stops cleanly");

    // A wrong setting: refused at start, naming it.
    sqlx::raw_sql("SET GLOBAL binlog_format = 'MIXED'")
        .execute(&pool)
        .await
        .expect("break a setting");
    let refused = Relay::start(stack.relay_config("outage-relay")).await;
    sqlx::raw_sql("SET GLOBAL binlog_format = 'ROW'")
        .execute(&pool)
        .await
        .expect("restore the setting");
    match refused {
        Err(RelayError::WrongServerSettings(message)) => {
            assert!(message.contains("binlog_format is MIXED"), "{message}");
        }
        other => panic!("expected the relay to refuse the settings, got {other:?}"),
    }

    // A compressed event: the relay stops, and does not move past it, not even when restarted.
    let mut relay = Relay::start(stack.relay_config("outage-relay"))
        .await
        .expect("the relay starts");
    sqlx::raw_sql("SET GLOBAL log_bin_compress = ON")
        .execute(&pool)
        .await
        .expect("turn on binlog compression");
    // New connections see the global value; large enough to be compressed.
    let compressing_pool = stack.admin().await;
    insert_rows(&compressing_pool, 1, 4_096).await;
    compressing_pool.close().await;
    sqlx::raw_sql("SET GLOBAL log_bin_compress = OFF")
        .execute(&pool)
        .await
        .expect("turn binlog compression off again");
    let first_stop = tokio::time::timeout(DEADLINE, relay.failed())
        .await
        .expect("the relay stops");
    let position_after_stop = stored_position(&stack, "outage-relay").await;
    let mut again = Relay::start(stack.relay_config("outage-relay"))
        .await
        .expect("the relay starts again from its stored position");
    let second_stop = tokio::time::timeout(DEADLINE, again.failed())
        .await
        .expect("it stops again");
    let position_after_second_stop = stored_position(&stack, "outage-relay").await;
    drop(reader);
    pool.close().await;
    drop(stack);

    assert!(
        matches!(first_stop, RelayError::CompressedEvent { .. }),
        "{first_stop}"
    );
    assert!(
        matches!(second_stop, RelayError::CompressedEvent { .. }),
        "{second_stop}"
    );
    assert_eq!(
        position_after_stop, position_after_second_stop,
        "the stored position does not move past the compressed event"
    );
}
