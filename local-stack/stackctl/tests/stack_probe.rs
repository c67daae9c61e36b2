//! Probes that prove the local stack is made of real servers with the settings the platform
//! relies on. They run against whatever `local-stack/up` started (or the servers named by
//! the environment in `local-stack/var/stack.env`).

use std::time::Duration;

use cloudevents::binding::rdkafka::{FutureRecordExt, MessageExt, MessageRecord};
use cloudevents::{AttributesReader, EventBuilder, EventBuilderV10};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaRespErr;
use serde_json::json;
use sqlx::{MySqlPool, Row};
use stackctl::settings::StackSettings;
use stackctl::{binlog, database};

const DEADLINE: Duration = Duration::from_secs(30);

fn settings() -> StackSettings {
    StackSettings::from_env()
}

async fn admin_pool() -> MySqlPool {
    database::connect(&settings().mariadb_admin_url)
        .await
        .expect("the local stack's MariaDB is reachable; start it with local-stack/up")
}

/// A database of its own for one test, dropped by the caller.
async fn fresh_database(admin: &MySqlPool) -> String {
    let name = format!("probe_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE `{name}`")))
        .execute(admin)
        .await
        .expect("create a throw-away database");
    name
}

async fn drop_database(admin: &MySqlPool, name: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{name}`")))
        .execute(admin)
        .await
        .expect("drop the throw-away database");
}

fn mysql_error_code(error: &sqlx::Error) -> Option<u16> {
    error
        .as_database_error()
        .and_then(|error| error.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
        .map(|error| error.number())
}

/// MariaDB's "command denied to user" error.
const ACCESS_DENIED: u16 = 1142;

#[tokio::test]
async fn mariadb_stores_and_returns_unicode_rows_through_sqlx() {
    let admin = admin_pool().await;
    let schema = fresh_database(&admin).await;
    let pool = database::connect(&settings().admin_url_for(&schema))
        .await
        .expect("connect to the fresh database");

    sqlx::query("CREATE TABLE note (id BIGINT PRIMARY KEY, body VARCHAR(100) NOT NULL)")
        .execute(&pool)
        .await
        .expect("create table");
    let body = "Grüße, 世界 🛒";
    sqlx::query("INSERT INTO note (id, body) VALUES (?, ?)")
        .bind(7_i64)
        .bind(body)
        .execute(&pool)
        .await
        .expect("insert");
    let stored: String = sqlx::query_scalar("SELECT body FROM note WHERE id = ?")
        .bind(7_i64)
        .fetch_one(&pool)
        .await
        .expect("select");

    assert_eq!(
        stored, body,
        "four-byte UTF-8 must survive the round trip (utf8mb4)"
    );
    pool.close().await;
    drop_database(&admin, &schema).await;
}

#[tokio::test]
async fn every_context_has_an_outbox_and_an_inbox_table() {
    let admin = admin_pool().await;
    for context in ["identity", "catalog", "inventory", "ordering", "payment"] {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name",
        )
        .bind(context)
        .fetch_all(&admin)
        .await
        .expect("list tables");
        assert!(
            tables.iter().any(|table| table == "outbox"),
            "{context} has no outbox: {tables:?}"
        );
        assert!(
            tables.iter().any(|table| table == "processed_event"),
            "{context} has no inbox: {tables:?}"
        );

        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = 'outbox'",
        )
        .bind(context)
        .fetch_all(&admin)
        .await
        .expect("list columns");
        for debezium_column in ["id", "aggregatetype", "aggregateid", "type", "payload"] {
            assert!(
                columns.iter().any(|column| column == debezium_column),
                "{context}.outbox lacks {debezium_column}"
            );
        }
    }
}

#[tokio::test]
async fn a_context_user_writes_its_own_schema_and_nothing_else() {
    let settings = settings();
    let pool = database::connect(&settings.context_database_url("identity"))
        .await
        .expect("connect as identity");

    // Rolled back, so the probe row never reaches the binlog or a relay.
    let mut transaction = pool.begin().await.expect("begin");
    sqlx::query(
        "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, topic, source, occurred_at)
         VALUES (?, 'user', 'probe', 'commerce.probe.checked.v1', '{}', 'commerce.identity.user', 'probe', UTC_TIMESTAMP(6))",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .execute(&mut *transaction)
    .await
    .expect("the identity user may insert into identity.outbox");
    let visible: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE aggregateid = 'probe'")
        .fetch_one(&mut *transaction)
        .await
        .expect("the identity user may read identity.outbox");
    assert!(visible >= 1);
    transaction.rollback().await.expect("rollback");

    let other_schema = sqlx::query("SELECT COUNT(*) FROM catalog.outbox")
        .fetch_one(&pool)
        .await;
    assert_eq!(
        other_schema.as_ref().err().and_then(mysql_error_code),
        Some(ACCESS_DENIED),
        "identity must not read catalog's tables: {other_schema:?}"
    );

    let ddl = sqlx::query("CREATE TABLE sneaky (id INT)").execute(&pool).await;
    assert_eq!(
        ddl.as_ref().err().and_then(mysql_error_code),
        Some(ACCESS_DENIED),
        "a function's user must not change the schema: {ddl:?}"
    );
    pool.close().await;
}

#[tokio::test]
async fn the_binlog_settings_are_the_ones_cdc_needs() {
    let admin = admin_pool().await;
    let report = binlog::check(&admin).await.expect("read server variables");
    let wrong: Vec<String> = report
        .wrong()
        .map(|check| format!("{} = {} (needs {})", check.variable, check.actual, check.expected))
        .collect();
    assert!(report.is_ok(), "settings unfit for CDC: {wrong:?}");
}

#[tokio::test]
async fn a_committed_transaction_advances_the_gtid_position_and_a_rolled_back_one_does_not() {
    let admin = admin_pool().await;
    let schema = fresh_database(&admin).await;
    let pool = database::connect(&settings().admin_url_for(&schema))
        .await
        .expect("connect");
    sqlx::query("CREATE TABLE counter (id INT PRIMARY KEY)")
        .execute(&pool)
        .await
        .expect("create");

    // Our own session's last GTID, so concurrent tests cannot disturb the comparison.
    let mut connection = pool.acquire().await.expect("acquire");
    let last_gtid = |row: sqlx::mysql::MySqlRow| row.get::<String, _>(0);

    sqlx::query("INSERT INTO counter VALUES (1)")
        .execute(&mut *connection)
        .await
        .expect("insert");
    let after_commit = last_gtid(
        sqlx::query("SELECT @@last_gtid")
            .fetch_one(&mut *connection)
            .await
            .expect("gtid"),
    );
    assert!(
        after_commit.starts_with("0-1-"),
        "a GTID like domain-server-sequence, got {after_commit:?}"
    );

    sqlx::query("BEGIN")
        .execute(&mut *connection)
        .await
        .expect("begin");
    sqlx::query("INSERT INTO counter VALUES (2)")
        .execute(&mut *connection)
        .await
        .expect("insert");
    sqlx::query("ROLLBACK")
        .execute(&mut *connection)
        .await
        .expect("rollback");
    let after_rollback = last_gtid(
        sqlx::query("SELECT @@last_gtid")
            .fetch_one(&mut *connection)
            .await
            .expect("gtid"),
    );
    assert_eq!(
        after_rollback, after_commit,
        "a rolled-back transaction must not be logged"
    );

    drop(connection);
    pool.close().await;
    drop_database(&admin, &schema).await;
}

#[tokio::test]
async fn the_cdc_user_may_read_the_binlog_but_no_table() {
    let settings = settings();
    let pool = database::connect(&settings.cdc_database_url())
        .await
        .expect("connect as cdc");

    let grants: Vec<String> = sqlx::query_scalar("SHOW GRANTS")
        .fetch_all(&pool)
        .await
        .expect("show grants");
    let grants = grants.join("\n");
    assert!(grants.contains("REPLICATION SLAVE"), "{grants}");
    assert!(grants.contains("BINLOG MONITOR"), "{grants}");

    let status = sqlx::query("SHOW MASTER STATUS")
        .fetch_optional(&pool)
        .await
        .expect("BINLOG MONITOR allows it");
    let file: String = status.expect("binary logging is on").get(0);
    assert!(file.starts_with("mariadb-bin."), "binlog file {file}");

    let table = sqlx::query("SELECT COUNT(*) FROM ordering.outbox")
        .fetch_one(&pool)
        .await;
    assert_eq!(
        table.as_ref().err().and_then(mysql_error_code),
        Some(ACCESS_DENIED),
        "{table:?}"
    );
    pool.close().await;
}

fn kafka_config() -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", settings().kafka_bootstrap_servers);
    config
}

#[tokio::test]
async fn the_platform_topics_exist_with_their_partitions() {
    let consumer: StreamConsumer = kafka_config().create().expect("client");
    let metadata = consumer
        .fetch_metadata(None, DEADLINE)
        .expect("metadata from the broker");
    for topic in events::topics::ALL {
        let found = metadata
            .topics()
            .iter()
            .find(|candidate| candidate.name() == topic.name);
        let found =
            found.unwrap_or_else(|| panic!("topic {} is missing; local-stack/up creates it", topic.name));
        assert_eq!(
            found.partitions().len(),
            usize::try_from(topic.partitions).expect("positive"),
            "{}",
            topic.name
        );
    }
}

#[tokio::test]
async fn the_broker_refuses_to_create_topics_on_first_use() {
    let consumer: StreamConsumer = kafka_config().create().expect("client");
    let name = format!("probe.unknown.{}", uuid::Uuid::new_v4().simple());
    let metadata = consumer.fetch_metadata(Some(&name), DEADLINE).expect("metadata");
    let topic = metadata
        .topics()
        .first()
        .expect("the broker answers about the topic asked for");
    assert_eq!(
        topic.error(),
        Some(RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
    );
    let after = consumer.fetch_metadata(None, DEADLINE).expect("metadata");
    assert!(
        after.topics().iter().all(|topic| topic.name() != name),
        "asking must not create {name}"
    );
}

#[tokio::test]
async fn a_cloud_event_round_trips_through_kafka_in_binary_mode() {
    let topic = format!("probe.cloudevents.{}", uuid::Uuid::new_v4().simple());
    let admin: AdminClient<DefaultClientContext> = kafka_config().create().expect("admin client");
    let options = AdminOptions::new().operation_timeout(Some(DEADLINE));
    let created = admin
        .create_topics(&[NewTopic::new(&topic, 1, TopicReplication::Fixed(1))], &options)
        .await
        .expect("create topics request");
    assert!(created.iter().all(Result::is_ok), "{created:?}");

    let order_id = uuid::Uuid::now_v7().to_string();
    let event = EventBuilderV10::new()
        .id(uuid::Uuid::now_v7().to_string())
        .ty("commerce.order.placed.v1")
        .source("commerce/ordering/place-order")
        .subject(order_id.clone())
        .time(chrono::Utc::now())
        .extension("partitionkey", order_id.clone())
        .data(
            "application/json",
            json!({ "orderId": order_id, "totalMinor": 12_990, "currency": "EUR" }),
        )
        .build()
        .expect("a valid CloudEvent");

    let producer: FutureProducer = kafka_config()
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    let record = MessageRecord::from_event(event.clone()).expect("binary-mode record");
    producer
        .send(
            FutureRecord::to(&topic).key(&order_id).message_record(&record),
            DEADLINE,
        )
        .await
        .expect("the broker acknowledged the event");

    // The probe reads its one partition directly (no group rebalance) and commits nothing.
    let consumer: StreamConsumer = kafka_config()
        .set("group.id", format!("probe-{}", uuid::Uuid::new_v4().simple()))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut assignment = rdkafka::TopicPartitionList::new();
    assignment
        .add_partition_offset(&topic, 0, rdkafka::Offset::Beginning)
        .expect("partition 0");
    consumer.assign(&assignment).expect("assign");
    // Detached, because a borrowed message still alive when its consumer is dropped keeps
    // librdkafka's partition references and makes the consumer's destruction hang.
    let message = tokio::time::timeout(DEADLINE, consumer.recv())
        .await
        .expect("the event arrives before the deadline")
        .expect("a message, not an error")
        .detach();

    assert_eq!(message.key(), Some(order_id.as_bytes()), "keyed by aggregate id");
    let headers = message.headers().expect("binary mode puts attributes in headers");
    let header = |name: &str| {
        headers
            .iter()
            .find(|header| header.key == name)
            .and_then(|header| header.value)
            .map(|value| String::from_utf8_lossy(value).into_owned())
    };
    assert_eq!(header("ce_specversion").as_deref(), Some("1.0"));
    assert_eq!(header("ce_type").as_deref(), Some("commerce.order.placed.v1"));
    assert_eq!(header("ce_id").as_deref(), Some(event.id()));
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
    let payload: serde_json::Value =
        serde_json::from_slice(message.payload().expect("a payload")).expect("the payload is plain JSON");
    assert_eq!(payload["totalMinor"], 12_990);
    let decoded = message.to_event().expect("decodes back into a CloudEvent");
    assert_eq!(decoded.id(), event.id());
    assert_eq!(decoded.source(), event.source());
    assert_eq!(decoded.subject(), event.subject());
    assert_eq!(decoded.time(), event.time());
    assert_eq!(decoded.extension("partitionkey"), event.extension("partitionkey"));
    // Binary mode carries the data as bytes; what matters is that they are the same JSON.
    let decoded_data = match decoded.data() {
        Some(cloudevents::Data::Binary(bytes)) => serde_json::from_slice(bytes).expect("JSON data"),
        other => panic!("expected the data as bytes, got {other:?}"),
    };
    assert_eq!(Some(&cloudevents::Data::Json(decoded_data)), event.data());

    drop(consumer);
    admin
        .delete_topics(&[&topic], &options)
        .await
        .expect("delete the probe topic");
}

#[tokio::test]
async fn redis_answers_and_keeps_an_append_only_file() {
    let client = redis::Client::open(settings().redis_url).expect("redis url");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("the local stack's Redis is reachable");
    let key = format!("probe:{}", uuid::Uuid::new_v4().simple());
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("42")
        .arg("EX")
        .arg(60)
        .query_async(&mut connection)
        .await
        .expect("set");
    let value: String = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut connection)
        .await
        .expect("get");
    assert_eq!(value, "42");
    let appendonly: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("appendonly")
        .query_async(&mut connection)
        .await
        .expect("config get");
    assert_eq!(appendonly, ["appendonly", "yes"]);
}
