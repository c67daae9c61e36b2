//! An operator gets a stopped relay past a transaction it cannot read, with the real
//! `outbox-relay` commands, against the local stack's MariaDB and Kafka (start them with
//! `local-stack/up`).
//!
//! Each test runs a supervised relay, as the `outbox-relay` process runs it, over a throw-away
//! outbox schema of its own, publishing to a throw-away topic; every row uses one aggregate,
//! so one partition shows the order in which everything was published.
//!
//! - A statement-logged insert stops the relay; its health names the table and the
//!   transaction; `outbox-relay republish` publishes that transaction's rows in their place
//!   and the relay goes on by itself.
//! - DDL on an outbox stops the relay; `outbox-relay skip` refuses without a reason, while
//!   the relay runs, and for any transaction but the one the relay stops at; with a reason it
//!   moves the relay past the DDL, and the audit table says who did what and why.

mod support;

use std::collections::HashSet;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use relay::{RelayConfig, RelayState, RelayStatus, StatusSnapshot};
use sqlx::MySqlPool;
use support::*;

const AGGREGATE: &str = "order-under-repair";

/// A relay supervised as the process runs it, stopped by [`Supervised::stop`].
struct Supervised {
    status: Arc<RelayStatus>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), relay::RelayError>>,
}

impl Supervised {
    fn start(config: &RelayConfig) -> Self {
        let status = Arc::new(RelayStatus::default());
        let (stop, stop_requested) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(relay::supervisor::run(
            config.clone(),
            Arc::clone(&status),
            async {
                let _ = stop_requested.await;
            },
        ));
        Self { status, stop, task }
    }

    async fn until(&self, done: impl Fn(&StatusSnapshot) -> bool) -> StatusSnapshot {
        poll_until(|| async { self.status.snapshot() }, done).await
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Runs `outbox-relay` with the settings of `config`, as an operator would.
async fn outbox_relay(config: &RelayConfig, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_outbox-relay"));
    command
        .args(args)
        .env("CDC_DATABASE_URL", &config.cdc_url)
        .env("RELAY_DATABASE_URL", &config.position_store_url)
        .env("KAFKA_BOOTSTRAP_SERVERS", &config.kafka_bootstrap_servers)
        .env("RELAY_NAME", &config.name)
        .env("RELAY_SERVER_ID", config.server_id.to_string())
        .env("RELAY_SCHEMAS", config.schemas.join(","))
        .env("USER", "relay-test-operator");
    tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the command's thread")
        .expect("run outbox-relay")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Inserts one row the ordinary way: a row event in the binlog.
async fn insert_row(pool: &MySqlPool, topic: &str, id: &str) {
    sqlx::query(
        "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, topic, source, occurred_at)
         VALUES (?, 'order', ?, 'commerce.test.repair-probe.v1', JSON_OBJECT('id', ?), ?, 'relay-intervention-test',
                 UTC_TIMESTAMP(6))",
    )
    .bind(id)
    .bind(AGGREGATE)
    .bind(id)
    .bind(topic)
    .execute(pool)
    .await
    .expect("insert an outbox row");
}

/// Reads the test topic from the beginning, keeping event ids in arrival order.
struct Reader {
    consumer: StreamConsumer,
    seen: Vec<String>,
}

impl Reader {
    fn new(topic: &str) -> Self {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", settings().kafka_bootstrap_servers)
            .set(
                "group.id",
                format!("relay-intervention-{}", uuid::Uuid::new_v4().simple()),
            )
            .set("enable.auto.commit", "false")
            .create()
            .expect("a consumer");
        let mut assignment = TopicPartitionList::new();
        for partition in 0..6 {
            assignment
                .add_partition_offset(topic, partition, Offset::Beginning)
                .expect("an assignment");
        }
        consumer.assign(&assignment).expect("assign");
        Self {
            consumer,
            seen: Vec::new(),
        }
    }

    /// Reads until `id` arrived or the deadline passed.
    async fn until_seen(&mut self, id: &str) {
        let start = Instant::now();
        while !self.seen.iter().any(|seen| seen == id) && start.elapsed() < DEADLINE {
            let Ok(record) = tokio::time::timeout(Duration::from_millis(200), self.consumer.recv()).await
            else {
                continue;
            };
            let record = record.expect("a record");
            if let Some(event_id) = record
                .headers()
                .and_then(|headers| headers.iter().find(|header| header.key == "ce_id"))
                .and_then(|header| header.value)
            {
                self.seen.push(text(event_id));
            }
        }
    }
}

async fn audit_rows(store: &Scratch) -> Vec<(String, String, String, String, String)> {
    sqlx::query_as(
        "SELECT CAST(action AS CHAR), gtid, reason, published_event_ids, performed_by
         FROM relay_intervention ORDER BY id",
    )
    .fetch_all(&store.pool().await)
    .await
    .expect("read the audit table")
}

async fn stored_position(store: &Scratch, relay: &str) -> String {
    sqlx::query_scalar("SELECT gtid_position FROM relay_position WHERE relay = ?")
        .bind(relay)
        .fetch_one(&store.pool().await)
        .await
        .expect("a stored position")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_statement_logged_insert_is_republished_in_its_place_and_the_relay_goes_on_by_itself() {
    let (store, context, config) = scratch_relay().await;
    let topic = TestTopic::create("relay-republish").await;
    let mut reader = Reader::new(&topic.name);
    let relay = Supervised::start(&config);
    let ready = relay.until(StatusSnapshot::is_ready).await;
    assert!(ready.is_ready(), "the relay starts: {ready:?}");
    let outbox = context.pool().await;

    let (before, by_literal, by_parameter, after) = (new_id(), new_id(), new_id(), new_id());
    insert_row(&outbox, &topic.name, &before).await;
    // A session that logs statements, as a hand-run script with binlog_format=STATEMENT
    // would: one insert with literals, one prepared with parameters, in one transaction.
    let mut session = outbox.acquire().await.expect("a connection");
    sqlx::raw_sql("SET SESSION binlog_format = 'STATEMENT'")
        .execute(&mut *session)
        .await
        .expect("statement logging for this session");
    sqlx::raw_sql("BEGIN")
        .execute(&mut *session)
        .await
        .expect("begin");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO `{schema}`.outbox (id, aggregatetype, aggregateid, type, payload, topic, source, occurred_at)
         VALUES ('{by_literal}', 'order', '{AGGREGATE}', 'commerce.test.repair-probe.v1', '{{\"id\": \"{by_literal}\"}}',
                 '{topic}', 'relay-intervention-test', '2026-12-02 04:00:00.000001')",
        schema = context.schema,
        topic = topic.name,
    )))
    .execute(&mut *session)
    .await
    .expect("a statement-logged insert with literals");
    sqlx::query(
        "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, topic, source, occurred_at)
         VALUES (?, 'order', ?, 'commerce.test.repair-probe.v1', ?, ?, 'relay-intervention-test',
                 '2026-12-02 04:00:00.000002')",
    )
    .bind(&by_parameter)
    .bind(AGGREGATE)
    .bind(format!(r#"{{"id": "{by_parameter}"}}"#))
    .bind(&topic.name)
    .execute(&mut *session)
    .await
    .expect("a statement-logged insert with parameters");
    sqlx::raw_sql("COMMIT")
        .execute(&mut *session)
        .await
        .expect("commit");
    drop(session);

    let failed = relay.until(|status| status.state == RelayState::Failed).await;
    // Committed while the relay waits: published after the repaired transaction.
    insert_row(&outbox, &topic.name, &after).await;
    let last_error = failed
        .last_error
        .clone()
        .expect("the failure is on the health answer");
    let transaction = last_error
        .transaction
        .clone()
        .expect("the transaction it stopped at");
    let health = relay::server::body(&failed);

    let without_reason = outbox_relay(
        &config,
        &["republish", "--gtid", transaction.as_str(), "--reason", " "],
    )
    .await;
    let dry_run = outbox_relay(
        &config,
        &[
            "republish",
            "--gtid",
            transaction.as_str(),
            "--reason",
            "hand-run hotfix script",
            "--dry-run",
        ],
    )
    .await;
    let position_after_dry_run = stored_position(&store, &config.name).await;
    let republished = outbox_relay(
        &config,
        &[
            "republish",
            "--gtid",
            transaction.as_str(),
            "--reason",
            "hand-run hotfix script",
        ],
    )
    .await;
    let resumed = relay.until(StatusSnapshot::is_ready).await;
    reader.until_seen(&after).await;
    let left_in_outbox = poll_until(|| async { outbox_rows(&context).await }, |rows| *rows == 0).await;
    let audit = audit_rows(&store).await;
    let position_before_repair = failed.stored_position.clone();

    relay.stop().await;
    drop(outbox);
    context.drop().await;
    store.drop().await;
    topic.delete().await;

    assert_eq!(last_error.kind, "statement-on-outbox");
    assert!(last_error.needs_operator);
    let table = format!("{}.outbox", config.schemas[0]);
    assert!(
        last_error.message.starts_with(&format!(
            "statement-logged DML on {table} in transaction {transaction}"
        )),
        "the message names the table and the transaction: {}",
        last_error.message
    );
    assert_eq!(health["state"], "failed");
    assert_eq!(health["status"], "not ready");
    assert_eq!(health["last_error"]["transaction"], transaction.as_str());

    assert!(!without_reason.status.success(), "a blank reason is refused");
    assert!(
        text(&without_reason.stderr).contains("a reason is required"),
        "{}",
        text(&without_reason.stderr)
    );
    let dry_run_output = text(&dry_run.stdout);
    assert!(dry_run.status.success(), "{}", text(&dry_run.stderr));
    assert!(
        dry_run_output.contains(&format!("would publish {by_literal}"))
            && dry_run_output.contains(&format!("would publish {by_parameter}")),
        "{dry_run_output}"
    );
    assert_eq!(
        position_after_dry_run, position_before_repair,
        "a dry run changes nothing"
    );
    assert!(
        republished.status.success(),
        "republish: {}{}",
        text(&republished.stdout),
        text(&republished.stderr)
    );

    assert!(resumed.is_ready(), "the relay went on by itself: {resumed:?}");
    assert_eq!(
        reader.seen,
        [before.clone(), by_literal.clone(), by_parameter.clone(), after],
        "every row once, the repaired transaction's rows in their place"
    );
    assert_eq!(left_in_outbox, 0, "republished rows are purged");
    assert_eq!(
        audit,
        [(
            "republish".to_owned(),
            transaction,
            "hand-run hotfix script".to_owned(),
            serde_json::json!([by_literal, by_parameter]).to_string(),
            "relay-test-operator".to_owned(),
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reviewed_ddl_on_an_outbox_is_skipped_with_a_reason_and_only_where_the_relay_stops() {
    let (store, context, config) = scratch_relay().await;
    let topic = TestTopic::create("relay-skip").await;
    let mut reader = Reader::new(&topic.name);
    let relay = Supervised::start(&config);
    relay.until(StatusSnapshot::is_ready).await;
    let outbox = context.pool().await;

    let while_running = outbox_relay(
        &config,
        &["skip", "--gtid", "0-1-4000000000", "--reason", "too early"],
    )
    .await;
    sqlx::raw_sql("ALTER TABLE outbox ADD COLUMN note VARCHAR(64) NULL")
        .execute(&outbox)
        .await
        .expect("DDL on the outbox");
    let failed = relay.until(|status| status.state == RelayState::Failed).await;
    let ddl = failed
        .last_error
        .as_ref()
        .and_then(|error| error.transaction.clone())
        .expect("the transaction it stopped at");
    let after = new_id();
    insert_row(&outbox, &topic.name, &after).await;
    let later: String = sqlx::query_scalar("SELECT @@GLOBAL.gtid_binlog_pos")
        .fetch_one(&outbox)
        .await
        .expect("the server's position");
    let later = later
        .split(',')
        .find(|gtid| gtid.split('-').next() == ddl.split('-').next())
        .expect("a GTID in the DDL's domain")
        .to_owned();

    let no_reason = outbox_relay(&config, &["skip", "--gtid", ddl.as_str()]).await;
    let not_where_it_stops = outbox_relay(
        &config,
        &["skip", "--gtid", later.as_str(), "--reason", "wrong one"],
    )
    .await;
    let skipped = outbox_relay(
        &config,
        &[
            "skip",
            "--gtid",
            ddl.as_str(),
            "--reason",
            "reviewed: a nullable column, no event changes",
        ],
    )
    .await;
    let resumed = relay.until(StatusSnapshot::is_ready).await;
    reader.until_seen(&after).await;
    let again = outbox_relay(&config, &["skip", "--gtid", ddl.as_str(), "--reason", "twice"]).await;
    let listed = outbox_relay(&config, &["interventions"]).await;
    let audit = audit_rows(&store).await;

    relay.stop().await;
    drop(outbox);
    context.drop().await;
    store.drop().await;
    topic.delete().await;

    assert!(!while_running.status.success());
    assert!(
        text(&while_running.stderr).contains("is running"),
        "{}",
        text(&while_running.stderr)
    );
    let message = failed
        .last_error
        .as_ref()
        .map(|error| error.message.clone())
        .unwrap_or_default();
    assert!(
        message.starts_with(&format!(
            "DDL on {}.outbox in transaction {ddl}",
            config.schemas[0]
        )),
        "{message}"
    );
    assert!(!no_reason.status.success(), "a reason is required");
    assert!(
        text(&no_reason.stderr).contains("--reason"),
        "{}",
        text(&no_reason.stderr)
    );
    assert!(!not_where_it_stops.status.success());
    assert!(
        text(&not_where_it_stops.stderr).contains(&format!("but before it, at transaction {ddl}")),
        "{}",
        text(&not_where_it_stops.stderr)
    );
    assert!(
        skipped.status.success(),
        "skip: {}{}",
        text(&skipped.stdout),
        text(&skipped.stderr)
    );
    assert!(resumed.is_ready(), "the relay went on by itself: {resumed:?}");
    assert_eq!(reader.seen, [after], "the row after the DDL is published");
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("already past it"),
        "{}",
        text(&again.stderr)
    );
    assert!(
        text(&listed.stdout).contains(&format!("skip {ddl} by relay-test-operator")),
        "{}",
        text(&listed.stdout)
    );
    let distinct: HashSet<&str> = audit.iter().map(|row| row.0.as_str()).collect();
    assert_eq!(distinct, HashSet::from(["skip"]), "{audit:?}");
    assert_eq!(audit.len(), 1, "only the accepted skip is recorded: {audit:?}");
    assert_eq!(audit[0].1, ddl);
    assert_eq!(audit[0].2, "reviewed: a nullable column, no event changes");
    assert_eq!(audit[0].3, "[]");
}
