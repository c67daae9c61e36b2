//! What the relay's integration tests share: the local stack's addresses, throw-away
//! schemas, relay settings over them, and polling with a deadline.
#![allow(dead_code)]

use std::time::Duration;

use relay::RelayConfig;
use sqlx::{AssertSqlSafe, MySqlPool};
use stackctl::settings::StackSettings;

pub const DEADLINE: Duration = Duration::from_secs(30);

pub fn settings() -> StackSettings {
    StackSettings::from_env()
}

pub async fn admin(schema: Option<&str>) -> MySqlPool {
    let settings = settings();
    let url = schema.map_or(settings.mariadb_admin_url.clone(), |schema| {
        settings.admin_url_for(schema)
    });
    stackctl::database::connect(&url)
        .await
        .expect("the local stack's MariaDB is reachable; start it with local-stack/up")
}

/// A throw-away schema with the relay's migrations: the position store of one test.
pub struct Scratch {
    pub schema: String,
}

impl Scratch {
    pub async fn new(prefix: &str) -> Self {
        let schema = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let admin = admin(None).await;
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE `{schema}`")))
            .execute(&admin)
            .await
            .expect("create a scratch schema");
        Self { schema }
    }

    pub async fn with_position_store(prefix: &str) -> Self {
        let scratch = Self::new(prefix).await;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/relay");
        let migrator = sqlx::migrate::Migrator::new(dir)
            .await
            .expect("the relay migrations");
        migrator
            .run(&scratch.pool().await)
            .await
            .expect("migrate the position store");
        scratch
    }

    pub fn url(&self) -> String {
        settings().admin_url_for(&self.schema)
    }

    pub async fn pool(&self) -> MySqlPool {
        admin(Some(&self.schema)).await
    }

    pub async fn drop(self) {
        let admin = admin(None).await;
        let _ = sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS `{}`",
            self.schema
        )))
        .execute(&admin)
        .await;
    }
}

/// A throw-away context schema with the outbox table of the migrations.
pub async fn scratch_context() -> Scratch {
    let context = Scratch::new("relay_ctx").await;
    let ddl = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../migrations/ordering/0001_outbox_and_inbox.sql"),
    )
    .expect("the outbox migration");
    sqlx::raw_sql(AssertSqlSafe(ddl))
        .execute(&context.pool().await)
        .await
        .expect("create the scratch outbox");
    context
}

/// A relay's settings: its own name and replica id, the position store in `store`, and the
/// outbox of `context` only.
pub fn relay_config(store: &Scratch, context: &Scratch) -> RelayConfig {
    let settings = settings();
    let mut config = RelayConfig::new(
        settings.cdc_database_url(),
        store.url(),
        settings.kafka_bootstrap_servers,
    );
    config.name = format!("test-{}", uuid::Uuid::new_v4().simple());
    // Each test's reader needs its own replica id, or the server drops the older dump.
    config.server_id = rand::random_range(1_000_000..2_000_000_000);
    config.schemas = vec![context.schema.clone()];
    config
}

/// The two scratch schemas of a test and the settings of a relay over them.
pub async fn scratch_relay() -> (Scratch, Scratch, RelayConfig) {
    let store = Scratch::with_position_store("relay_store").await;
    let context = scratch_context().await;
    let config = relay_config(&store, &context);
    (store, context, config)
}

/// Rows still in the scratch outbox.
pub async fn outbox_rows(context: &Scratch) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(&context.pool().await)
        .await
        .expect("count the outbox")
}

/// Reads `probe` until `done` holds or the deadline passes, and returns the last reading.
pub async fn poll_until<T, F, Fut>(probe: F, done: impl Fn(&T) -> bool) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    testkit::poll::Polling::new(DEADLINE, Duration::from_millis(50))
        .until(probe, done)
        .await
}

/// A Kafka topic of one test, with 6 partitions like the platform's; deleted by
/// [`TestTopic::delete`].
pub struct TestTopic {
    pub name: String,
}

impl TestTopic {
    pub async fn create(prefix: &str) -> Self {
        use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
        let name = format!("{prefix}-{}", uuid::Uuid::new_v4().simple());
        let admin: AdminClient<rdkafka::client::DefaultClientContext> = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", settings().kafka_bootstrap_servers)
            .create()
            .expect("a Kafka admin client");
        let results = admin
            .create_topics(
                &[NewTopic::new(&name, 6, TopicReplication::Fixed(1))],
                &AdminOptions::new(),
            )
            .await
            .expect("create the test topic");
        for result in results {
            result.expect("the test topic is created");
        }
        Self { name }
    }

    pub async fn delete(self) {
        use rdkafka::admin::{AdminClient, AdminOptions};
        let admin: AdminClient<rdkafka::client::DefaultClientContext> = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", settings().kafka_bootstrap_servers)
            .create()
            .expect("a Kafka admin client");
        let _ = admin.delete_topics(&[&self.name], &AdminOptions::new()).await;
    }
}

/// Stores the server's current binlog position as `relay`'s position, so a relay started
/// later publishes every row committed from now on, however long it takes to start.
pub async fn store_current_position(store: &Scratch, relay: &str) {
    sqlx::query(
        "INSERT INTO relay_position (relay, gtid_position, binlog_file, binlog_pos)
         VALUES (?, @@gtid_binlog_pos, '', 0)",
    )
    .bind(relay)
    .execute(&store.pool().await)
    .await
    .expect("store the starting position");
}
