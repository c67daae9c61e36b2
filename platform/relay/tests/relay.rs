//! The relay against the local stack's real MariaDB and Kafka (start them with
//! `local-stack/up`; the addresses come from `local-stack/var/stack.env`).
//!
//! Each test runs its own relay (own name, own replica server id, own throw-away position
//! store schema) over a throw-away context schema of its own with the outbox table of the
//! migrations, so the stack's relay (which reads only the real context schemas) and the other
//! tests never publish its rows. It inserts rows with unique aggregate ids as the admin user
//! and reads `commerce.ordering.order` from the partitions' current ends, keeping only its own
//! aggregates.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use relay::{Relay, RelayError, RelayState};
use serde_json::json;
use sqlx::MySqlPool;

const TOPIC: &str = "commerce.ordering.order";
mod support;

use support::*;

/// One outbox row a test inserts.
#[derive(Debug, Clone)]
struct Row {
    id: String,
    aggregate: String,
    payload: serde_json::Value,
}

fn row(aggregate: &str, number: u32) -> Row {
    Row {
        id: uuid::Uuid::now_v7().to_string(),
        aggregate: aggregate.to_owned(),
        payload: json!({"aggregate": aggregate, "number": number, "name": "Zoë \"quoted\""}),
    }
}

fn aggregate(label: &str) -> String {
    format!("relay-test-{label}-{}", uuid::Uuid::new_v4().simple())
}

const INSERT: &str = "INSERT INTO outbox
    (id, aggregatetype, aggregateid, type, payload, topic, source, traceparent, tracestate,
     correlationid, causationid, occurred_at)
    VALUES (?, 'order', ?, 'commerce.test.relay-probe.v1', ?, ?, 'relay-tests', ?, NULL, ?, ?,
            '2025-01-31 12:34:56.123456')";

async fn insert<'c, E: sqlx::MySqlExecutor<'c>>(executor: E, row: &Row) {
    sqlx::query(INSERT)
        .bind(&row.id)
        .bind(&row.aggregate)
        .bind(row.payload.to_string())
        .bind(TOPIC)
        .bind("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        .bind(format!("flow-{}", row.aggregate))
        .bind(format!("cause-{}", row.id))
        .execute(executor)
        .await
        .expect("insert an outbox row");
}

/// Inserts the rows in one transaction.
async fn commit(pool: &MySqlPool, rows: &[Row]) {
    let mut transaction = pool.begin().await.expect("begin");
    for row in rows {
        insert(&mut *transaction, row).await;
    }
    transaction.commit().await.expect("commit");
}

/// A record read back from Kafka.
#[derive(Debug, Clone)]
struct Received {
    key: String,
    headers: BTreeMap<String, String>,
    payload: serde_json::Value,
}

/// A reader of the topic from the current end of every partition, so only records produced
/// after it was made are seen.
struct TopicReader {
    consumer: StreamConsumer,
}

impl TopicReader {
    fn new() -> Self {
        let config = {
            let mut config = ClientConfig::new();
            config
                .set("bootstrap.servers", settings().kafka_bootstrap_servers)
                .set(
                    "group.id",
                    format!("relay-test-{}", uuid::Uuid::new_v4().simple()),
                )
                .set("enable.auto.commit", "false");
            config
        };
        let metadata_client: BaseConsumer = config.create().expect("consumer");
        let metadata = metadata_client
            .fetch_metadata(Some(TOPIC), Duration::from_secs(10))
            .expect("topic metadata");
        let mut assignment = TopicPartitionList::new();
        for partition in metadata.topics()[0].partitions() {
            let (_, high) = metadata_client
                .fetch_watermarks(TOPIC, partition.id(), Duration::from_secs(10))
                .expect("watermarks");
            assignment
                .add_partition_offset(TOPIC, partition.id(), Offset::Offset(high))
                .expect("offset");
        }
        let consumer: StreamConsumer = config.create().expect("consumer");
        consumer.assign(&assignment).expect("assign");
        Self { consumer }
    }

    /// Reads until every id in `expected` arrived, keeping only records keyed by one of
    /// `aggregates`; then commits one end marker per aggregate through `outbox` and reads on
    /// until the markers arrive. The relay publishes in commit order and an aggregate's
    /// records share a partition, so any duplicate of an expected record arrives before its
    /// aggregate's marker: no waiting on the clock is needed to catch duplicates. The markers
    /// are not returned.
    async fn read(
        &self,
        outbox: &MySqlPool,
        aggregates: &[&str],
        expected: &HashSet<String>,
    ) -> Vec<Received> {
        let mut received = self.read_until(aggregates, expected).await;
        let markers: Vec<Row> = aggregates
            .iter()
            .map(|aggregate| row(aggregate, u32::MAX))
            .collect();
        commit(outbox, &markers).await;
        let marker_ids: HashSet<String> = markers.into_iter().map(|marker| marker.id).collect();
        received.extend(self.read_until(aggregates, &marker_ids).await);
        received.retain(|record| !marker_ids.contains(&record.headers["ce_id"]));
        received
    }

    /// Reads records keyed by one of `aggregates` until every id in `expected` arrived or the
    /// deadline passed.
    async fn read_until(&self, aggregates: &[&str], expected: &HashSet<String>) -> Vec<Received> {
        let mut received: Vec<Received> = Vec::new();
        let mut missing = expected.clone();
        let start = Instant::now();
        while !missing.is_empty() && start.elapsed() < DEADLINE {
            let Ok(message) = tokio::time::timeout(Duration::from_millis(200), self.consumer.recv()).await
            else {
                continue;
            };
            let message = message.expect("a record");
            let key = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
            if !aggregates.contains(&key.as_str()) {
                continue;
            }
            let headers: BTreeMap<String, String> = message
                .headers()
                .map(|headers| {
                    headers
                        .iter()
                        .map(|header| {
                            (
                                header.key.to_owned(),
                                String::from_utf8_lossy(header.value.unwrap_or_default()).into_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let payload =
                serde_json::from_slice(message.payload().unwrap_or_default()).expect("a JSON payload");
            if let Some(id) = headers.get("ce_id") {
                missing.remove(id);
            }
            received.push(Received {
                key,
                headers,
                payload,
            });
        }
        received
    }
}

fn ids_of(received: &[Received], aggregate: &str) -> Vec<String> {
    received
        .iter()
        .filter(|record| record.key == aggregate)
        .map(|record| record.headers["ce_id"].clone())
        .collect()
}

fn ids(rows: &[&Row]) -> Vec<String> {
    rows.iter().map(|row| row.id.clone()).collect()
}

#[tokio::test]
async fn committed_rows_are_published_with_their_headers_in_commit_order_per_aggregate() {
    let (store, context, config) = scratch_relay().await;
    let reader = TopicReader::new();
    let relay = Relay::start(config).await.expect("the relay starts");
    let ordering = context.pool().await;
    let (first, second) = (aggregate("a"), aggregate("b"));
    let rows = [
        row(&first, 1),
        row(&first, 2),
        row(&second, 1),
        row(&first, 3),
        row(&second, 2),
        row(&first, 4),
    ];

    commit(&ordering, &rows[0..3]).await;
    commit(&ordering, &rows[3..4]).await;
    commit(&ordering, &rows[4..6]).await;

    let expected: HashSet<String> = rows.iter().map(|row| row.id.clone()).collect();
    let received = reader.read(&ordering, &[&first, &second], &expected).await;
    let left_in_outbox = poll_until(|| async { outbox_rows(&context).await }, |rows| *rows == 0).await;
    relay.stop().await.expect("the relay stops cleanly");
    context.drop().await;
    store.drop().await;

    assert_eq!(left_in_outbox, 0, "published rows are purged from the outbox");

    assert_eq!(
        ids_of(&received, &first),
        ids(&[&rows[0], &rows[1], &rows[3], &rows[5]])
    );
    assert_eq!(ids_of(&received, &second), ids(&[&rows[2], &rows[4]]));
    let record = received
        .iter()
        .find(|record| record.headers["ce_id"] == rows[0].id)
        .expect("the first row");
    let header = |name: &str| record.headers.get(name).map(String::as_str);
    assert_eq!(record.key, first);
    assert_eq!(header("ce_specversion"), Some("1.0"));
    assert_eq!(header("ce_type"), Some("commerce.test.relay-probe.v1"));
    assert_eq!(header("ce_source"), Some("relay-tests"));
    assert_eq!(header("ce_subject"), Some(first.as_str()));
    assert_eq!(header("ce_partitionkey"), Some(first.as_str()));
    assert_eq!(header("ce_time"), Some("2025-01-31T12:34:56.123456Z"));
    assert_eq!(
        header("ce_traceparent"),
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    );
    assert_eq!(header("ce_correlationid"), Some(format!("flow-{first}").as_str()));
    assert_eq!(
        header("ce_causationid"),
        Some(format!("cause-{}", rows[0].id).as_str())
    );
    assert_eq!(header("ce_tracestate"), None, "a NULL column is no header");
    assert_eq!(header("content-type"), Some("application/json"));
    assert_eq!(record.payload, rows[0].payload);
}

#[tokio::test]
async fn a_rolled_back_transaction_publishes_nothing() {
    let (store, context, config) = scratch_relay().await;
    let reader = TopicReader::new();
    let relay = Relay::start(config).await.expect("the relay starts");
    let ordering = context.pool().await;
    let label = aggregate("rollback");
    let (rolled_back, committed) = (row(&label, 1), row(&label, 2));

    let mut transaction = ordering.begin().await.expect("begin");
    insert(&mut *transaction, &rolled_back).await;
    transaction.rollback().await.expect("rollback");
    // A later committed row marks how far the relay got.
    commit(&ordering, std::slice::from_ref(&committed)).await;

    let received = reader
        .read(&ordering, &[&label], &HashSet::from([committed.id.clone()]))
        .await;
    relay.stop().await.expect("the relay stops cleanly");
    context.drop().await;
    store.drop().await;

    assert_eq!(ids_of(&received, &label), [committed.id]);
}

#[tokio::test]
async fn a_transaction_that_inserted_first_but_committed_last_is_published_after_the_other() {
    let (store, context, config) = scratch_relay().await;
    let reader = TopicReader::new();
    let relay = Relay::start(config).await.expect("the relay starts");
    let ordering = context.pool().await;
    let label = aggregate("interleaved");
    let (early, late) = (row(&label, 1), row(&label, 2));

    let mut slow = ordering.begin().await.expect("begin");
    insert(&mut *slow, &early).await;
    commit(&ordering, std::slice::from_ref(&late)).await;
    slow.commit().await.expect("commit");

    let expected = HashSet::from([early.id.clone(), late.id.clone()]);
    let received = reader.read(&ordering, &[&label], &expected).await;
    relay.stop().await.expect("the relay stops cleanly");
    context.drop().await;
    store.drop().await;

    // Commit order, not insert order: the row a polling relay would skip comes second.
    assert_eq!(ids_of(&received, &label), [late.id, early.id]);
}

#[tokio::test]
async fn a_restarted_relay_resumes_from_its_stored_position_and_loses_nothing() {
    let (store, context, config) = scratch_relay().await;
    let reader = TopicReader::new();
    let config_name = config.name.clone();
    let ordering = context.pool().await;
    let label = aggregate("restart");
    let before: Vec<Row> = (0..20).map(|number| row(&label, number)).collect();
    let while_down: Vec<Row> = (20..40).map(|number| row(&label, number)).collect();
    let after: Vec<Row> = (40..50).map(|number| row(&label, number)).collect();

    let relay = Relay::start(config.clone()).await.expect("the relay starts");
    for chunk in before.chunks(5) {
        commit(&ordering, chunk).await;
    }
    // Stop while the last transactions may still be in flight.
    relay.stop().await.expect("the relay stops cleanly");
    for chunk in while_down.chunks(5) {
        commit(&ordering, chunk).await;
    }
    let relay = Relay::start(config).await.expect("the relay starts again");
    for chunk in after.chunks(5) {
        commit(&ordering, chunk).await;
    }

    let all: Vec<&Row> = before.iter().chain(&while_down).chain(&after).collect();
    let expected: HashSet<String> = all.iter().map(|row| row.id.clone()).collect();
    let received = reader.read(&ordering, &[&label], &expected).await;
    relay.stop().await.expect("the relay stops cleanly");
    let (file, gtid_position): (String, String) =
        sqlx::query_as("SELECT binlog_file, gtid_position FROM relay_position WHERE relay = ?")
            .bind(&config_name)
            .fetch_one(&store.pool().await)
            .await
            .expect("a stored position");
    context.drop().await;
    store.drop().await;

    // The file name comes from the artificial first ROTATE, whose CRC the relay strips.
    let (base, number) = file.rsplit_once('.').expect("a binlog file name");
    assert!(
        !base.is_empty() && number.len() == 6 && number.bytes().all(|b| b.is_ascii_digit()),
        "{file:?}"
    );
    assert!(relay::gtid::GtidPosition::parse(&gtid_position).is_ok_and(|position| !position.is_empty()));
    let published = ids_of(&received, &label);
    let distinct: HashSet<&String> = published.iter().collect();
    assert_eq!(distinct.len(), expected.len(), "every row is published");
    assert!(
        published.len() - distinct.len() <= 5,
        "{} duplicates",
        published.len() - distinct.len()
    );
    // One aggregate, one partition: the order is the commit order, duplicates aside.
    let mut first_seen = Vec::new();
    for id in &published {
        if !first_seen.contains(id) {
            first_seen.push(id.clone());
        }
    }
    assert_eq!(first_seen, ids(&all));
}

#[tokio::test]
async fn a_second_relay_with_the_same_name_waits_for_the_first_and_takes_over_when_it_stops() {
    let (store, context, config) = scratch_relay().await;
    let reader = TopicReader::new();
    let ordering = context.pool().await;
    let label = aggregate("standby");
    let first_rows: Vec<Row> = (0..10).map(|number| row(&label, number)).collect();
    let second_rows: Vec<Row> = (10..20).map(|number| row(&label, number)).collect();

    let active = Relay::start(config.clone())
        .await
        .expect("the first relay starts");
    let standby_status = std::sync::Arc::new(relay::RelayStatus::default());
    let mut standby_config = config.clone();
    // Same name, so same lock and same stored position; its own replica id.
    standby_config.server_id = config.server_id + 1;
    let standby = tokio::spawn(relay::Relay::start_reporting(
        standby_config,
        std::sync::Arc::clone(&standby_status),
    ));
    let state_while_first_runs = poll_until(
        || async { standby_status.snapshot().state },
        |state| *state == RelayState::WaitingForLock,
    )
    .await;
    for chunk in first_rows.chunks(5) {
        commit(&ordering, chunk).await;
    }
    let expected_first: HashSet<String> = first_rows.iter().map(|row| row.id.clone()).collect();
    let received_first = reader.read(&ordering, &[&label], &expected_first).await;
    let standby_started_early = standby.is_finished();

    active.stop().await.expect("the first relay stops cleanly");
    let standby = tokio::time::timeout(DEADLINE, standby)
        .await
        .expect("the standby takes over within the deadline")
        .expect("the standby task")
        .expect("the standby starts");
    for chunk in second_rows.chunks(5) {
        commit(&ordering, chunk).await;
    }
    let expected_second: HashSet<String> = second_rows.iter().map(|row| row.id.clone()).collect();
    let received_second = reader.read(&ordering, &[&label], &expected_second).await;
    standby.stop().await.expect("the standby stops cleanly");
    context.drop().await;
    store.drop().await;

    assert_eq!(state_while_first_runs, RelayState::WaitingForLock);
    assert!(
        !standby_started_early,
        "the standby must not relay while the first one holds the lock"
    );
    assert_eq!(
        ids_of(&received_first, &label),
        ids(&first_rows.iter().collect::<Vec<_>>()),
        "while one relay is active each row is published exactly once"
    );
    assert_eq!(
        ids_of(&received_second, &label),
        ids(&second_rows.iter().collect::<Vec<_>>()),
        "the standby resumes where the first one stopped: nothing lost, nothing repeated"
    );
}

/// A relay over a scratch schema with its own outbox table, for the rules that stop it.
async fn relay_over_scratch_outbox() -> (Scratch, Scratch, Relay) {
    let (store, context, config) = scratch_relay().await;
    let relay = Relay::start(config).await.expect("the relay starts");
    (store, context, relay)
}

async fn failure(relay: &mut Relay) -> RelayError {
    tokio::time::timeout(DEADLINE, relay.failed())
        .await
        .expect("the relay stops")
}

#[tokio::test]
async fn a_statement_logged_insert_into_an_outbox_stops_the_relay() {
    let (store, context, mut relay) = relay_over_scratch_outbox().await;
    let mut connection = context.pool().await.acquire().await.expect("a connection");
    sqlx::raw_sql("SET SESSION binlog_format = 'STATEMENT'")
        .execute(&mut *connection)
        .await
        .expect("statement logging for this session");
    sqlx::raw_sql(
        "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, topic, source, occurred_at)
         VALUES (UUID(), 'order', 'x', 't', '{}', 'commerce.ordering.order', 's', NOW(6))",
    )
    .execute(&mut *connection)
    .await
    .expect("insert");

    let error = failure(&mut relay).await;
    drop(connection);
    context.drop().await;
    store.drop().await;

    assert!(
        matches!(
            error,
            RelayError::StatementOnOutbox {
                kind: "statement-logged DML",
                ..
            }
        ),
        "{error}"
    );
}

#[tokio::test]
async fn ddl_on_an_outbox_stops_the_relay() {
    let (store, context, mut relay) = relay_over_scratch_outbox().await;
    sqlx::raw_sql("ALTER TABLE outbox ADD COLUMN extra INT NULL")
        .execute(&context.pool().await)
        .await
        .expect("alter");

    let error = failure(&mut relay).await;
    context.drop().await;
    store.drop().await;

    assert!(
        matches!(error, RelayError::StatementOnOutbox { kind: "DDL", .. }),
        "{error}"
    );
}
