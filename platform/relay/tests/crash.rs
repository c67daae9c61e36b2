//! The relay process killed with SIGKILL, again and again, while 50,000 outbox rows are
//! written: every row still reaches Kafka, the duplicates a crash causes are few, and a
//! consumer's inbox turns them into no-ops.
//!
//! The relay is the real `outbox-relay` binary over a throw-away outbox schema, publishing to
//! a throw-away topic, against the local stack's MariaDB and Kafka.

mod support;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use sqlx::MySqlPool;
use support::*;

const ROWS: usize = 50_000;
const ROWS_PER_TRANSACTION: usize = 100;
/// The writer's pace: fast enough to finish in seconds, slow enough that the kills fall
/// while rows are still being written.
const TRANSACTIONS_PER_SECOND: u64 = 80;
/// Kill the relay when the consumer has seen this many distinct rows.
const KILL_AT: [usize; 4] = [5_000, 15_000, 27_000, 40_000];
/// Concurrent consumers applying the records through the inbox (commits are fsynced, so
/// concurrency is what makes 50,000 of them quick).
const FEEDERS: usize = 32;
const LOAD_DEADLINE: Duration = Duration::from_secs(240);

fn start_relay(config: &relay::RelayConfig, log: &std::path::Path) -> Child {
    let log = std::fs::File::create(log).expect("a log file for the relay");
    Command::new(env!("CARGO_BIN_EXE_outbox-relay"))
        .env("CDC_DATABASE_URL", &config.cdc_url)
        .env("RELAY_DATABASE_URL", &config.position_store_url)
        .env("KAFKA_BOOTSTRAP_SERVERS", &config.kafka_bootstrap_servers)
        .env("RELAY_NAME", &config.name)
        .env("RELAY_SERVER_ID", config.server_id.to_string())
        .env("RELAY_SCHEMAS", config.schemas.join(","))
        .env("PORT", "0")
        .env("RUST_LOG", "info")
        .stdout(Stdio::from(log.try_clone().expect("the log file")))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start the outbox-relay binary")
}

/// Writes the rows in transactions of [`ROWS_PER_TRANSACTION`] at a steady pace.
async fn write_rows(pool: MySqlPool, topic: String, ids: Arc<Vec<String>>) {
    let mut pace = tokio::time::interval(Duration::from_micros(1_000_000 / TRANSACTIONS_PER_SECOND));
    for chunk in ids.chunks(ROWS_PER_TRANSACTION) {
        pace.tick().await;
        let values = vec![
            "(?, 'order', ?, 'commerce.test.crash-probe.v1', ?, ?, 'relay-crash-test', UTC_TIMESTAMP(6))";
            chunk.len()
        ]
        .join(", ");
        let statement = format!(
            "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, topic, source, occurred_at) VALUES {values}"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(statement));
        for (number, id) in chunk.iter().enumerate() {
            query = query
                .bind(id)
                .bind(format!("order-{}", number % 64))
                .bind(format!(r#"{{"id":"{id}"}}"#))
                .bind(&topic);
        }
        query
            .execute(&pool)
            .await
            .expect("insert a transaction of outbox rows");
    }
}

fn consumer_of(topic: &str) -> StreamConsumer {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", settings().kafka_bootstrap_servers)
        .set(
            "group.id",
            format!("relay-crash-{}", uuid::Uuid::new_v4().simple()),
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
    consumer.assign(&assignment).expect("assign the partitions");
    consumer
}

/// A consumer's effect behind the inbox: one effect row per event, whatever is redelivered.
async fn apply_through_inbox(pool: &MySqlPool, event_id: &str) {
    match store::inbox::claim(
        pool,
        "relay-crash-test",
        event_id,
        &store::inbox::Arrival::default(),
    )
    .await
    .expect("claim the event")
    {
        store::inbox::Claim::New(mut transaction) => {
            sqlx::query("INSERT INTO crash_effect (event_id) VALUES (?)")
                .bind(event_id)
                .execute(&mut *transaction)
                .await
                .expect("the effect");
            transaction.commit().await.expect("commit the effect");
        }
        store::inbox::Claim::AlreadyProcessed => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_row_reaches_kafka_when_the_relay_is_killed_repeatedly_during_a_load_of_50000_rows() {
    let (store, context, config) = scratch_relay().await;
    let topic = TestTopic::create("relay-crash").await;
    let inbox = store::testing::TestDatabase::with_migrations_of("ordering").await;
    sqlx::raw_sql("CREATE TABLE crash_effect (event_id CHAR(36) NOT NULL)")
        .execute(&inbox.pool)
        .await
        .expect("the effect table");
    store_current_position(&store, &config.name).await;
    let logs = tempfile_dir();

    let ids: Arc<Vec<String>> = Arc::new((0..ROWS).map(|_| uuid::Uuid::now_v7().to_string()).collect());
    let consumer = consumer_of(&topic.name);
    let mut relay = start_relay(&config, &logs.join("relay-0.log"));
    let writer = tokio::spawn(write_rows(
        context.pool().await,
        topic.name.clone(),
        Arc::clone(&ids),
    ));

    // Count every copy of every id, and kill the relay as the count passes each mark.
    let (copies_sender, mut copies) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut seen: HashMap<String, u32> = HashMap::with_capacity(ROWS);
    let mut kills = Vec::new();
    let start = Instant::now();
    while seen.len() < ROWS && start.elapsed() < LOAD_DEADLINE {
        let Ok(record) = tokio::time::timeout(Duration::from_millis(200), consumer.recv()).await else {
            continue;
        };
        let record = record.expect("a record");
        let id = record
            .headers()
            .and_then(|headers| headers.iter().find(|header| header.key == "ce_id"))
            .and_then(|header| header.value)
            .map(|value| String::from_utf8_lossy(value).into_owned())
            .expect("every record carries ce_id");
        *seen.entry(id.clone()).or_default() += 1;
        copies_sender.send(id).expect("the inbox feeder");
        if kills.len() < KILL_AT.len() && seen.len() >= KILL_AT[kills.len()] {
            relay.kill().expect("SIGKILL the relay");
            relay.wait().expect("reap the relay");
            kills.push(seen.len());
            relay = start_relay(&config, &logs.join(format!("relay-{}.log", kills.len())));
        }
    }
    drop(copies_sender);
    writer.await.expect("the writer finished");
    relay.kill().ok();
    relay.wait().ok();

    // Feed every copy, duplicates included, through the inbox, many at a time.
    let all_copies: Vec<String> = std::iter::from_fn(|| copies.try_recv().ok()).collect();
    let copies_received = all_copies.len();
    let feed = Arc::new(tokio::sync::Mutex::new(all_copies.into_iter()));
    let feeder_pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(FEEDERS as u32)
        .connect(&inbox.url())
        .await
        .expect("a pool for the feeders");
    let mut feeders = Vec::new();
    for _ in 0..FEEDERS {
        let feed = Arc::clone(&feed);
        let pool = feeder_pool.clone();
        feeders.push(tokio::spawn(async move {
            loop {
                let Some(id) = feed.lock().await.next() else { break };
                apply_through_inbox(&pool, &id).await;
            }
        }));
    }
    for feeder in feeders {
        feeder.await.expect("a feeder");
    }
    feeder_pool.close().await;
    let effects: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM crash_effect")
        .fetch_one(&inbox.pool)
        .await
        .expect("count the effects");

    let missing = ids.iter().filter(|id| !seen.contains_key(*id)).count();
    let duplicates = copies_received - seen.len();
    println!(
        "relay crash test: {ROWS} rows, {} kills at {kills:?} distinct rows, {copies_received} records, \
         {duplicates} duplicates ({:.2}%), {missing} missing, {:.1}s",
        kills.len(),
        duplicates as f64 * 100.0 / ROWS as f64,
        start.elapsed().as_secs_f64()
    );
    drop(consumer);
    inbox.drop().await;
    topic.delete().await;
    context.drop().await;
    store.drop().await;

    assert_eq!(kills.len(), KILL_AT.len(), "the relay was killed at every mark");
    assert_eq!(missing, 0, "every row reaches Kafka");
    assert_eq!(seen.len(), ROWS, "nothing but the rows written is published");
    // A crash repeats what was in flight plus what was delivered since the last store, which
    // is stored once it reaches `store_every_events` (checked after each whole transaction).
    let bound = KILL_AT.len()
        * (config.max_events_in_flight + config.store_every_events as usize + ROWS_PER_TRANSACTION);
    assert!(
        duplicates <= bound,
        "{duplicates} duplicates after {} kills; at most {bound} expected",
        kills.len()
    );
    assert_eq!(
        effects, ROWS as i64,
        "the inbox turns every duplicate into a no-op"
    );
}

/// A folder for the relay processes' logs, kept after the test for whoever debugs it.
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("relay-crash-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("a log folder");
    dir
}
