//! `relay-bench`: how fast a committed outbox row reaches Kafka, through the binlog relay and,
//! side by side in the same run, through a simple polling relay.
//!
//! For each relay, on a throw-away schema and topic of the local stack:
//! 1. **Latency.** Single-row transactions at a steady rate (default 1,000/s for 20 s; the
//!    first 3 s are warm-up). For each row: the time from its `COMMIT` returning to the
//!    broker appending it (the topic uses `LogAppendTime`, millisecond resolution) and to a
//!    consumer receiving it.
//! 2. **Throughput.** A backlog (default 100,000 rows in 100-row transactions) is written while
//!    the relay is stopped; then the relay starts and the rate at which the broker appends the
//!    backlog is its maximum sustained rate.
//!
//! The polling relay is the textbook one: `SELECT … ORDER BY id LIMIT 1000`, publish with the
//! same producer as the binlog relay, wait for the acknowledgements, `DELETE` the rows, and
//! sleep `--poll-interval-ms` whenever a poll came back less than full.
//!
//! Needs the local stack's settings (`local-stack/var/stack.env`). Build with `--release`;
//! see docs/benchmarks/relay.md.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use relay::outbox::OutboxRow;
use relay::publisher::Publisher;
use relay::{Relay, RelayConfig, RelayState};
use sqlx::mysql::MySqlPoolOptions;
use sqlx::{AssertSqlSafe, MySqlPool, QueryBuilder, Row};

#[derive(Debug, Parser)]
#[command(about = "Commit-to-Kafka latency and throughput: binlog relay vs a polling relay")]
struct Arguments {
    #[arg(long, env = "STACK_MARIADB_ADMIN_URL", hide_env_values = true)]
    admin_url: String,
    #[arg(long, env = "CDC_DATABASE_URL", hide_env_values = true)]
    cdc_url: String,
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS", default_value = "127.0.0.1:9092")]
    bootstrap_servers: String,
    /// Committed rows per second in the latency phase.
    #[arg(long, default_value_t = 1_000)]
    rate: u32,
    /// Seconds of the latency phase.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Seconds at the start of the latency phase left out of the figures.
    #[arg(long, default_value_t = 3)]
    warmup_seconds: u64,
    /// Rows in the throughput phase.
    #[arg(long, default_value_t = 100_000)]
    backlog: usize,
    /// How long the polling relay sleeps after a poll that was not full.
    #[arg(long, default_value_t = 100)]
    poll_interval_ms: u64,
    /// The producer's `linger.ms` for both relays.
    #[arg(long, default_value_t = 1)]
    linger_ms: u64,
    /// Which relays to measure.
    #[arg(long, value_delimiter = ',', default_value = "binlog,polling")]
    relays: Vec<Kind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Kind {
    Binlog,
    Polling,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Self::Binlog => "binlog relay",
            Self::Polling => "polling relay",
        }
    }
}

/// Rows of the polling relay's every query.
const POLL_BATCH: i64 = 1_000;
/// Rows of each backlog transaction.
const BACKLOG_TRANSACTION: usize = 100;
/// How long a phase may wait for its last event.
const DRAIN_DEADLINE: Duration = Duration::from_secs(180);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let arguments = Arguments::parse();
    println!(
        "relay-bench: {} rows/s for {} s (first {} s warm-up), backlog {} rows, polling every {} ms, linger.ms {}",
        arguments.rate,
        arguments.seconds,
        arguments.warmup_seconds,
        arguments.backlog,
        arguments.poll_interval_ms,
        arguments.linger_ms
    );
    for &kind in &arguments.relays {
        let latency = measure_latency(&arguments, kind).await?;
        println!("{}: {latency}", kind.label());
        let throughput = measure_throughput(&arguments, kind).await?;
        println!("{}: {throughput}", kind.label());
    }
    Ok(())
}

/// One throw-away schema (an outbox and the relay's position table) and one topic.
struct Scene {
    schema: String,
    schema_url: String,
    pool: MySqlPool,
    topic: String,
    admin_url: String,
    bootstrap_servers: String,
}

impl Scene {
    async fn create(arguments: &Arguments) -> anyhow::Result<Self> {
        let suffix = uuid::Uuid::now_v7().simple().to_string();
        let schema = format!("relay_bench_{suffix}");
        let admin = MySqlPoolOptions::new()
            .max_connections(1)
            .connect(&arguments.admin_url)
            .await
            .context("the local stack's MariaDB (source local-stack/var/stack.env)")?;
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE `{schema}`")))
            .execute(&admin)
            .await?;
        admin.close().await;
        let schema_url = format!("{}/{schema}", arguments.admin_url.trim_end_matches('/'));
        let pool = MySqlPoolOptions::new()
            .max_connections(16)
            .connect(&schema_url)
            .await?;
        let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
        for file in [
            "ordering/0001_outbox_and_inbox.sql",
            "relay/0001_relay_position.sql",
        ] {
            let ddl =
                std::fs::read_to_string(migrations.join(file)).with_context(|| format!("read {file}"))?;
            sqlx::raw_sql(AssertSqlSafe(ddl)).execute(&pool).await?;
        }
        let topic = format!("relay-bench-{suffix}");
        let admin_client: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &arguments.bootstrap_servers)
            .create()?;
        let results = admin_client
            .create_topics(
                &[NewTopic::new(&topic, 6, TopicReplication::Fixed(1))
                    .set("message.timestamp.type", "LogAppendTime")],
                &AdminOptions::new(),
            )
            .await?;
        for result in results {
            result.map_err(|(topic, code)| anyhow::anyhow!("create topic {topic}: {code}"))?;
        }
        Ok(Self {
            schema,
            schema_url,
            pool,
            topic,
            admin_url: arguments.admin_url.clone(),
            bootstrap_servers: arguments.bootstrap_servers.clone(),
        })
    }

    async fn remove(self) {
        self.pool.close().await;
        if let Ok(admin) = MySqlPoolOptions::new()
            .max_connections(1)
            .connect(&self.admin_url)
            .await
        {
            let _ = sqlx::raw_sql(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS `{}`",
                self.schema
            )))
            .execute(&admin)
            .await;
        }
        if let Ok(admin) = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap_servers)
            .create::<AdminClient<DefaultClientContext>>()
        {
            let _ = admin.delete_topics(&[&self.topic], &AdminOptions::new()).await;
        }
    }

    /// Inserts `count` outbox rows in one transaction (one statement); returns their ids.
    async fn insert(&self, count: usize) -> anyhow::Result<Vec<String>> {
        let ids: Vec<String> = (0..count).map(|_| uuid::Uuid::now_v7().to_string()).collect();
        let mut insert = QueryBuilder::new(
            "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, topic, source, occurred_at) ",
        );
        insert.push_values(&ids, |mut values, id| {
            values
                .push_bind(id)
                .push("'order'")
                .push_bind(format!("order-{}", &id[24..]))
                .push("'commerce.bench.probe.v1'")
                .push("JSON_OBJECT('orderId', ")
                .push_bind_unseparated(id)
                .push_unseparated(", 'totalMinor', 12990, 'currency', 'EUR')")
                .push_bind(&self.topic)
                .push("'relay-bench'")
                .push("UTC_TIMESTAMP(6)");
        });
        insert.build().execute(&self.pool).await?;
        Ok(ids)
    }
}

/// When each event reached the broker's log and the consumer, by event id (Unix µs).
#[derive(Default)]
struct Arrivals {
    by_id: HashMap<String, (i64, i64)>,
}

/// Reads the scene's topic from the beginning into shared [`Arrivals`] until dropped.
struct Reader {
    arrivals: Arc<Mutex<Arrivals>>,
    task: tokio::task::JoinHandle<()>,
}

impl Reader {
    fn start(scene: &Scene) -> anyhow::Result<Self> {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &scene.bootstrap_servers)
            .set(
                "group.id",
                format!("relay-bench-{}", uuid::Uuid::now_v7().simple()),
            )
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", "10")
            .create()?;
        let mut assignment = TopicPartitionList::new();
        for partition in 0..6 {
            assignment.add_partition_offset(&scene.topic, partition, Offset::Beginning)?;
        }
        consumer.assign(&assignment)?;
        let arrivals = Arc::new(Mutex::new(Arrivals::default()));
        let shared = Arc::clone(&arrivals);
        let task = tokio::spawn(async move {
            loop {
                let Ok(message) = consumer.recv().await else {
                    continue;
                };
                let received = chrono::Utc::now().timestamp_micros();
                let appended = message.timestamp().to_millis().unwrap_or_default() * 1_000;
                let id = message
                    .headers()
                    .and_then(|headers| headers.iter().find(|header| header.key == "ce_id"))
                    .and_then(|header| header.value)
                    .map(|value| String::from_utf8_lossy(value).into_owned());
                if let Some(id) = id {
                    let mut arrivals = shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    arrivals.by_id.entry(id).or_insert((appended, received));
                }
            }
        });
        Ok(Self { arrivals, task })
    }

    fn count(&self) -> usize {
        self.arrivals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .by_id
            .len()
    }

    /// Waits until `expected` events arrived, or the deadline; returns the arrivals.
    async fn wait_for(&self, expected: usize) -> HashMap<String, (i64, i64)> {
        let start = Instant::now();
        while self.count() < expected && start.elapsed() < DRAIN_DEADLINE {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.arrivals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .by_id
            .clone()
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A relay of either kind, running on one scene.
enum Running {
    Binlog(Relay),
    Polling {
        stop: tokio::sync::watch::Sender<bool>,
        task: tokio::task::JoinHandle<anyhow::Result<()>>,
    },
}

impl Running {
    async fn start(kind: Kind, scene: &Scene, arguments: &Arguments, name: &str) -> anyhow::Result<Self> {
        match kind {
            Kind::Binlog => {
                let mut config = RelayConfig::new(
                    arguments.cdc_url.clone(),
                    scene.schema_url.clone(),
                    arguments.bootstrap_servers.clone(),
                );
                config.name = name.to_owned();
                config.server_id = rand::random_range(1_000_000..2_000_000_000);
                config.schemas = vec![scene.schema.clone()];
                config.linger = Duration::from_millis(arguments.linger_ms);
                let relay = Relay::start(config).await?;
                let start = Instant::now();
                while relay.status().snapshot().state != RelayState::Relaying {
                    if start.elapsed() > Duration::from_secs(30) {
                        bail!(
                            "the binlog relay did not start relaying: {:?}",
                            relay.status().snapshot()
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Ok(Self::Binlog(relay))
            }
            Kind::Polling => {
                let (stop, stopped) = tokio::sync::watch::channel(false);
                let publisher = Publisher::new(
                    &arguments.bootstrap_servers,
                    Duration::from_millis(arguments.linger_ms),
                )?;
                let task = tokio::spawn(poll(
                    scene.pool.clone(),
                    scene.schema.clone(),
                    publisher,
                    Duration::from_millis(arguments.poll_interval_ms),
                    stopped,
                ));
                Ok(Self::Polling { stop, task })
            }
        }
    }

    async fn stop(self) -> anyhow::Result<()> {
        match self {
            Self::Binlog(relay) => Ok(relay.stop().await?),
            Self::Polling { stop, task } => {
                let _ = stop.send(true);
                task.await?
            }
        }
    }
}

/// The polling relay: read the oldest rows, publish them, wait for the broker, delete them.
async fn poll(
    pool: MySqlPool,
    schema: String,
    publisher: Publisher,
    interval: Duration,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    while !*stopped.borrow() {
        let rows = sqlx::query(
            "SELECT id, aggregatetype, aggregateid, type, payload, topic, source, traceparent, tracestate,
                    correlationid, causationid, TIMESTAMPDIFF(MICROSECOND, '1970-01-01', occurred_at) AS occurred_us
             FROM outbox ORDER BY id LIMIT ?",
        )
        .bind(POLL_BATCH)
        .fetch_all(&pool)
        .await?;
        let mut pending = Vec::with_capacity(rows.len());
        let mut ids = Vec::with_capacity(rows.len());
        for row in &rows {
            let occurred_us: i64 = row.try_get("occurred_us")?;
            let outbox_row = OutboxRow {
                schema: schema.clone(),
                id: row.try_get("id")?,
                aggregate_type: row.try_get("aggregatetype")?,
                aggregate_id: row.try_get("aggregateid")?,
                event_type: row.try_get("type")?,
                payload: row.try_get::<String, _>("payload")?.into_bytes(),
                topic: row.try_get("topic")?,
                source: row.try_get("source")?,
                traceparent: row.try_get("traceparent")?,
                tracestate: row.try_get("tracestate")?,
                correlation_id: row.try_get("correlationid")?,
                causation_id: row.try_get("causationid")?,
                occurred_at: chrono::DateTime::from_timestamp_micros(occurred_us).context("occurred_at")?,
            };
            pending.push(publisher.publish(&outbox_row).await?);
            ids.push(outbox_row.id);
        }
        for delivery in pending {
            delivery.acknowledged().await?;
        }
        if !ids.is_empty() {
            let mut delete = QueryBuilder::new("DELETE FROM outbox WHERE id IN (");
            let mut separated = delete.separated(", ");
            for id in &ids {
                separated.push_bind(id);
            }
            separated.push_unseparated(")");
            delete.build().execute(&pool).await?;
        }
        if (rows.len() as i64) < POLL_BATCH {
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                _ = stopped.changed() => {}
            }
        }
    }
    Ok(())
}

struct Latency {
    rows: usize,
    achieved_rate: f64,
    missing: usize,
    to_log_ms: Percentiles,
    to_consumer_ms: Percentiles,
}

impl std::fmt::Display for Latency {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "latency at {:.0} rows/s ({} measured rows, {} missing): commit → broker log {}; commit → consumer {}",
            self.achieved_rate, self.rows, self.missing, self.to_log_ms, self.to_consumer_ms
        )
    }
}

struct Percentiles {
    p50: f64,
    p99: f64,
    max: f64,
}

impl Percentiles {
    fn of(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        let at = |quantile: f64| {
            if values.is_empty() {
                return f64::NAN;
            }
            values[((values.len() - 1) as f64 * quantile).round() as usize]
        };
        Self {
            p50: at(0.50),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

impl std::fmt::Display for Percentiles {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.p50, self.p99, self.max
        )
    }
}

async fn measure_latency(arguments: &Arguments, kind: Kind) -> anyhow::Result<Latency> {
    let scene = Scene::create(arguments).await?;
    let reader = Reader::start(&scene)?;
    let relay = Running::start(kind, &scene, arguments, &format!("bench-{}", scene.topic)).await?;

    let total = arguments.rate as u64 * arguments.seconds;
    let warmup = arguments.rate as u64 * arguments.warmup_seconds;
    let interval = Duration::from_secs_f64(1.0 / f64::from(arguments.rate));
    let scene = Arc::new(scene);
    let mut writers = tokio::task::JoinSet::new();
    let started = tokio::time::Instant::now();
    for index in 0..total {
        tokio::time::sleep_until(started + interval * u32::try_from(index)?).await;
        let scene = Arc::clone(&scene);
        writers.spawn(async move {
            let ids = scene.insert(1).await?;
            let committed = chrono::Utc::now().timestamp_micros();
            anyhow::Ok((index, ids.into_iter().next().unwrap_or_default(), committed))
        });
        if index % u64::from(arguments.rate) == 0 && index > 0 {
            eprintln!("  {}: {index}/{total} rows written", kind.label());
        }
    }
    let mut commits = Vec::with_capacity(total as usize);
    while let Some(written) = writers.join_next().await {
        commits.push(written??);
    }
    let achieved_rate = total as f64 / started.elapsed().as_secs_f64();
    let arrivals = reader.wait_for(total as usize).await;
    relay.stop().await?;
    drop(reader);
    let scene = Arc::into_inner(scene).context("every writer finished")?;
    scene.remove().await;

    let measured: Vec<_> = commits.iter().filter(|(index, _, _)| *index >= warmup).collect();
    let missing = commits
        .iter()
        .filter(|(_, id, _)| !arrivals.contains_key(id))
        .count();
    let delays = |pick: fn(&(i64, i64)) -> i64| {
        measured
            .iter()
            .filter_map(|(_, id, committed)| {
                arrivals
                    .get(id)
                    .map(|arrival| (pick(arrival) - committed) as f64 / 1_000.0)
            })
            .collect::<Vec<_>>()
    };
    Ok(Latency {
        rows: measured.len(),
        achieved_rate,
        missing,
        to_log_ms: Percentiles::of(delays(|arrival| arrival.0)),
        to_consumer_ms: Percentiles::of(delays(|arrival| arrival.1)),
    })
}

struct Throughput {
    rows: usize,
    written_per_second: f64,
    appended_per_second: f64,
    drained_seconds: f64,
    missing: usize,
}

impl std::fmt::Display for Throughput {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "throughput: a backlog of {} rows (written at {:.0} rows/s) drained in {:.2} s: {:.0} events/s appended to Kafka ({} missing)",
            self.rows, self.written_per_second, self.drained_seconds, self.appended_per_second, self.missing
        )
    }
}

async fn measure_throughput(arguments: &Arguments, kind: Kind) -> anyhow::Result<Throughput> {
    let scene = Arc::new(Scene::create(arguments).await?);
    let name = format!("bench-{}", scene.topic);
    if kind == Kind::Binlog {
        // Start from here, so the relay started after the backlog reads all of it.
        sqlx::query(
            "INSERT INTO relay_position (relay, gtid_position, binlog_file, binlog_pos)
             VALUES (?, @@gtid_binlog_pos, '', 0)",
        )
        .bind(&name)
        .execute(&scene.pool)
        .await?;
    }
    let transactions = arguments.backlog.div_ceil(BACKLOG_TRANSACTION);
    let written_at = Instant::now();
    let mut writers = tokio::task::JoinSet::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..4 {
        let scene = Arc::clone(&scene);
        let next = Arc::clone(&next);
        writers.spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < transactions {
                scene.insert(BACKLOG_TRANSACTION).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(written) = writers.join_next().await {
        written??;
    }
    let rows = transactions * BACKLOG_TRANSACTION;
    let written_per_second = rows as f64 / written_at.elapsed().as_secs_f64();
    eprintln!(
        "  {}: backlog of {rows} rows written; starting the relay",
        kind.label()
    );

    let reader = Reader::start(&scene)?;
    let started = Instant::now();
    let relay = Running::start(kind, &scene, arguments, &name).await?;
    let arrivals = reader.wait_for(rows).await;
    let drained_seconds = started.elapsed().as_secs_f64();
    relay.stop().await?;
    drop(reader);
    Arc::into_inner(scene)
        .context("every writer finished")?
        .remove()
        .await;

    let appended: Vec<i64> = arrivals.values().map(|arrival| arrival.0).collect();
    let first = appended.iter().min().copied().unwrap_or_default();
    let last = appended.iter().max().copied().unwrap_or_default();
    let span_seconds = ((last - first) as f64 / 1e6).max(1e-3);
    Ok(Throughput {
        rows,
        written_per_second,
        appended_per_second: arrivals.len() as f64 / span_seconds,
        drained_seconds,
        missing: rows.saturating_sub(arrivals.len()),
    })
}
