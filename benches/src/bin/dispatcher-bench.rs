//! `dispatcher-bench`: how many records per second the trigger dispatcher moves from Kafka to a
//! function, and how much latency it adds to each. A benchmark program, not a test: it prints
//! figures and asserts nothing about them (docs/benchmarks/dispatcher.md reads them).
//!
//! It runs the dispatcher library exactly as `trigger-dispatcher` does (production defaults,
//! the same telemetry), against the local stack's broker and a no-op function: an in-process
//! axum server on 127.0.0.1 that reads the request and answers 200 at once. Every run has
//! three phases, each with a fresh topic and consumer group, deleted afterwards:
//!
//! 1. HTTP baseline: the dispatcher's own request (same client, same headers and body) POSTed
//!    to the no-op function in a sequential loop, then in one loop per partition — the part of
//!    the cost that is HTTP, not Kafka.
//! 2. Drain: a backlog of N records is produced first, then the dispatcher starts; the figure
//!    is N divided by the time from its start until the function has received every record.
//! 3. Steady: with the dispatcher running, records are produced at a fixed rate; per record,
//!    the time from the producer's delivery acknowledgement (the broker has it) to the
//!    function receiving the POST. Producer, dispatcher and function share one process, so
//!    both ends are read from one monotonic clock.
//!
//! Every wait is bounded by `--phase-timeout-secs`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use clap::Parser;
use cloudevents::{EventBuilder, EventBuilderV10};
use dispatcher::record::Record;
use dispatcher::{Dispatcher, DispatcherConfig, Subscription};
use futures::StreamExt as _;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

/// Measures the trigger dispatcher's throughput and added latency on the local stack.
#[derive(Debug, Parser)]
#[command(name = "dispatcher-bench")]
struct Args {
    /// How many times the three phases run; the summary is the median across runs.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Partitions of each benchmark topic (one dispatcher worker per partition).
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// Records in the pre-filled backlog of the drain phase.
    #[arg(long, default_value_t = 20_000)]
    backlog: usize,
    /// Records per second produced in the steady phase.
    #[arg(long, default_value_t = 500)]
    rate: u32,
    /// Duration of the steady phase, in seconds.
    #[arg(long, default_value_t = 20)]
    steady_secs: u32,
    /// POSTs of the sequential HTTP baseline loop (the parallel loops send as many in total).
    #[arg(long, default_value_t = 5_000)]
    http_requests: usize,
    /// Upper bound on every wait of a phase (records arriving, shutdown).
    #[arg(long, default_value_t = 120)]
    phase_timeout_secs: u64,
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    bootstrap_servers: String,
    /// Skip `telemetry::init` (JSON logs, Prometheus recorder), to see what telemetry costs.
    #[arg(long)]
    without_telemetry: bool,
}

const FUNCTION: &str = "bench-noop";
/// Concurrent sends while filling the backlog.
const PRODUCE_CONCURRENCY: usize = 2_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.runs >= 1 && args.partitions >= 1 && args.backlog >= 1 && args.rate >= 1);
    if !args.without_telemetry {
        telemetry::init("dispatcher-bench", FUNCTION);
    }
    let _ = epoch();
    println!(
        "# dispatcher-bench: {} run(s), {} partitions, backlog {}, steady {} ev/s for {} s, {} HTTP POSTs, telemetry {}",
        args.runs,
        args.partitions,
        args.backlog,
        args.rate,
        args.steady_secs,
        args.http_requests,
        if args.without_telemetry { "off" } else { "on" }
    );
    let mut runs = Vec::new();
    for run in 1..=args.runs {
        println!("# run {run}/{}", args.runs);
        let http = http_baseline(&args).await?;
        println!("{}", http.describe());
        let drain = drain(&args).await?;
        println!("{}", drain.describe());
        let steady = steady(&args).await?;
        println!("{}", steady.describe());
        runs.push(RunFigures { http, drain, steady });
    }
    print_summary(&runs);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The clock: nanoseconds since the process started, shared by producer, dispatcher and function.

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Never 0, so 0 can mean "not yet" in the arrival slots.
fn now_nanos() -> u64 {
    u64::try_from(epoch().elapsed().as_nanos())
        .unwrap_or(u64::MAX)
        .max(1)
}

fn seconds_between(from_nanos: u64, to_nanos: u64) -> f64 {
    to_nanos.saturating_sub(from_nanos) as f64 / 1e9
}

// ---------------------------------------------------------------------------------------------
// The no-op function.

/// What the no-op function saw: the first arrival time of every record (by the sequence number
/// carried in `ce-id`), how many distinct records arrived, and how many POSTs in all.
#[derive(Debug)]
struct Arrivals {
    first_arrival: Vec<AtomicU64>,
    distinct: AtomicUsize,
    posts: AtomicUsize,
    /// POSTs whose `ce-id` is not a measured sequence number (warm-up, HTTP baseline).
    unmeasured: AtomicUsize,
}

impl Arrivals {
    fn new(records: usize) -> Arc<Self> {
        Arc::new(Self {
            first_arrival: (0..records).map(|_| AtomicU64::new(0)).collect(),
            distinct: AtomicUsize::new(0),
            posts: AtomicUsize::new(0),
            unmeasured: AtomicUsize::new(0),
        })
    }

    fn arrival_nanos(&self) -> Vec<u64> {
        self.first_arrival
            .iter()
            .map(|slot| slot.load(Ordering::Acquire))
            .collect()
    }
}

/// Reads the request (as a real function must) and answers 200.
async fn no_op(State(arrivals): State<Arc<Arrivals>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let arrived = now_nanos();
    drop(body);
    arrivals.posts.fetch_add(1, Ordering::Relaxed);
    let slot = headers
        .get("ce-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|id| id.parse::<usize>().ok())
        .and_then(|sequence| arrivals.first_arrival.get(sequence));
    match slot {
        Some(slot) => {
            if slot
                .compare_exchange(0, arrived, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                arrivals.distinct.fetch_add(1, Ordering::AcqRel);
            }
        }
        None => {
            arrivals.unmeasured.fetch_add(1, Ordering::AcqRel);
        }
    }
    StatusCode::OK
}

/// The no-op function, served on 127.0.0.1 until dropped.
struct NoOpFunction {
    url: String,
    arrivals: Arc<Arrivals>,
    server: JoinHandle<()>,
}

impl NoOpFunction {
    async fn start(records: usize) -> anyhow::Result<Self> {
        let arrivals = Arrivals::new(records);
        let app = Router::new()
            .route("/", post(no_op))
            .with_state(Arc::clone(&arrivals));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/", listener.local_addr()?);
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("The no-op function stopped: {error}");
            }
        });
        Ok(Self {
            url,
            arrivals,
            server,
        })
    }

    /// Waits until `check` holds, at most `timeout`; false when it timed out.
    async fn wait_until(&self, timeout: Duration, check: impl Fn(&Arrivals) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while !check(&self.arrivals) {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }
}

impl Drop for NoOpFunction {
    fn drop(&mut self) {
        self.server.abort();
    }
}

// ---------------------------------------------------------------------------------------------
// Kafka: throw-away topics, the producer, the dispatcher under test.

/// A topic (and the consumer group and dead-letter topic the dispatcher adds) of one phase.
struct BenchTopic {
    name: String,
    subscription: Subscription,
    admin: AdminClient<DefaultClientContext>,
}

impl BenchTopic {
    async fn create(args: &Args, phase: &str, target: &str) -> anyhow::Result<Self> {
        let unique = format!(
            "{}-{:08x}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S"),
            rand::random::<u32>()
        );
        let name = format!("bench.dispatcher.{phase}.{unique}");
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &args.bootstrap_servers)
            .create()?;
        let created = admin
            .create_topics(
                &[NewTopic::new(&name, args.partitions, TopicReplication::Fixed(1))],
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
            )
            .await?;
        for result in created {
            result.map_err(|(topic, code)| anyhow::anyhow!("Creating {topic} failed: {code}"))?;
        }
        let subscription = Subscription::new(FUNCTION, &name, target, &format!("bench.{unique}"))?;
        Ok(Self {
            name,
            subscription,
            admin,
        })
    }

    /// Deletes the topic, its dead-letter topic and the consumer group. Failures are printed,
    /// not fatal: the figures are already taken.
    async fn delete(self) {
        let dead_letters = self.subscription.dead_letter_topic();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        match self
            .admin
            .delete_topics(&[&self.name, &dead_letters], &options)
            .await
        {
            Ok(results) => {
                for result in results {
                    if let Err((topic, code)) = result {
                        eprintln!("Deleting topic {topic} failed: {code}");
                    }
                }
            }
            Err(error) => eprintln!("Deleting topic {} failed: {error}", self.name),
        }
        match self
            .admin
            .delete_groups(&[&self.subscription.group_id], &options)
            .await
        {
            Ok(results) => {
                for result in results {
                    if let Err((group, code)) = result {
                        eprintln!("Deleting consumer group {group} failed: {code}");
                    }
                }
            }
            Err(error) => eprintln!(
                "Deleting consumer group {} failed: {error}",
                self.subscription.group_id
            ),
        }
    }
}

fn producer(args: &Args, linger_ms: u32) -> anyhow::Result<FutureProducer> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", &args.bootstrap_servers)
        .set("enable.idempotence", "true")
        .set("linger.ms", linger_ms.to_string())
        .create()?)
}

/// A CloudEvent of a realistic size whose id is its sequence number, encoded as the relay
/// encodes platform events (binary mode).
fn encoded_event(id: &str, key: &str) -> anyhow::Result<(Vec<u8>, OwnedHeaders, Option<Vec<u8>>)> {
    let event = EventBuilderV10::new()
        .id(id)
        .source("bench/dispatcher")
        .ty("commerce.bench.price-changed.v1")
        .subject(key)
        .extension("partitionkey", key)
        .data(
            "application/json",
            serde_json::json!({ "productId": key, "sku": "SKU-0001234", "priceMinor": 1999, "currency": "EUR" }),
        )
        .build()?;
    let record = events::kafka::encode_binary(&event);
    let headers = record.headers.iter().fold(OwnedHeaders::new(), |all, header| {
        all.insert(KafkaHeader {
            key: &header.key,
            value: header.value.as_deref(),
        })
    });
    let record_key = record.key.unwrap_or_else(|| key.as_bytes().to_vec());
    Ok((record_key, headers, record.payload))
}

/// Produces record `sequence` to partition `sequence % partitions` (every partition gets the
/// same share) and waits for the broker's acknowledgement.
async fn produce(
    producer: &FutureProducer,
    topic: &str,
    partitions: i32,
    sequence: usize,
) -> anyhow::Result<()> {
    let partition = i32::try_from(sequence % usize::try_from(partitions)?)?;
    let key = format!("product-{}", sequence % 1_000);
    let (record_key, headers, payload) = encoded_event(&sequence.to_string(), &key)?;
    let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic)
        .partition(partition)
        .key(record_key.as_slice())
        .headers(headers);
    if let Some(payload) = payload.as_deref() {
        record = record.payload(payload);
    }
    producer
        .send(record, Duration::from_secs(30))
        .await
        .map_err(|(error, _)| anyhow::anyhow!("Producing record {sequence} failed: {error}"))?;
    Ok(())
}

/// The dispatcher library running in a task, as `trigger-dispatcher` runs it.
struct RunningDispatcher {
    task: JoinHandle<anyhow::Result<()>>,
    stop: oneshot::Sender<()>,
}

impl RunningDispatcher {
    fn start(args: &Args, subscription: Subscription) -> anyhow::Result<Self> {
        // Production defaults: the bench measures what ships.
        let dispatcher = Dispatcher::new(DispatcherConfig::new(&args.bootstrap_servers), vec![subscription])?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(dispatcher.run(async {
            let _ = stopped.await;
        }));
        Ok(Self { task, stop })
    }

    /// Graceful shutdown (as on SIGTERM); returns how long it took. A shutdown that does not
    /// finish in time is aborted and reported as an error.
    async fn stop(self, timeout: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let _ = self.stop.send(());
        let mut task = self.task;
        match tokio::time::timeout(timeout, &mut task).await {
            Ok(joined) => {
                joined.context("The dispatcher task panicked")??;
                Ok(started.elapsed())
            }
            Err(_) => {
                task.abort();
                anyhow::bail!("The dispatcher did not shut down within {timeout:?}")
            }
        }
    }
}

/// Process CPU time (user + system) in seconds, from /proc/self/stat (clock ticks of 1/100 s).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, i.e. 12 and 13 after the name.
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / 100.0)
}

// ---------------------------------------------------------------------------------------------
// Phase 1: the HTTP baseline.

#[derive(Debug, Clone)]
struct HttpFigures {
    sequential: Percentiles,
    sequential_per_second: f64,
    parallel_loops: usize,
    parallel_per_second: f64,
}

impl HttpFigures {
    fn describe(&self) -> String {
        format!(
            "  http baseline  sequential: {} POSTs, p50 {}, p90 {}, p99 {}, max {} ({:.0} POST/s); {} parallel loops: {:.0} POST/s",
            self.sequential.count,
            micros(self.sequential.p50),
            micros(self.sequential.p90),
            micros(self.sequential.p99),
            micros(self.sequential.max),
            self.sequential_per_second,
            self.parallel_loops,
            self.parallel_per_second
        )
    }
}

async fn http_baseline(args: &Args) -> anyhow::Result<HttpFigures> {
    let function = NoOpFunction::start(0).await?;
    let target = reqwest::Url::parse(&function.url)?;
    let event = EventBuilderV10::new()
        .id("baseline")
        .source("bench/dispatcher")
        .ty("commerce.bench.price-changed.v1")
        .subject("product-1")
        .extension("partitionkey", "product-1")
        .data(
            "application/json",
            serde_json::json!({ "productId": "product-1", "sku": "SKU-0001234", "priceMinor": 1999, "currency": "EUR" }),
        )
        .build()?;
    let record = Record {
        topic: "bench.dispatcher.baseline".to_owned(),
        partition: 0,
        offset: 0,
        timestamp_millis: None,
        key: None,
        payload: None,
        headers: Vec::new(),
        unreadable_headers: 0,
    };
    // The dispatcher's own request: same client construction, headers and body.
    let (headers, body) =
        dispatcher::delivery::request_parts(&event, &record, 1).map_err(|reason| anyhow::anyhow!(reason))?;
    let client = reqwest::Client::builder().build()?;
    let post = {
        let client = client.clone();
        move || {
            let request = client
                .post(target.clone())
                .headers(headers.clone())
                .body(body.clone())
                .timeout(Duration::from_secs(30))
                .send();
            async move {
                let response = request.await?;
                anyhow::ensure!(
                    response.status() == StatusCode::OK,
                    "The no-op function answered {}",
                    response.status()
                );
                Ok(())
            }
        }
    };

    for _ in 0..200 {
        post().await?;
    }
    let timeout = Duration::from_secs(args.phase_timeout_secs);
    let started = Instant::now();
    let mut samples = Vec::with_capacity(args.http_requests);
    for _ in 0..args.http_requests {
        let sent = now_nanos();
        post().await?;
        samples.push(i64::try_from(now_nanos() - sent)?);
        anyhow::ensure!(
            started.elapsed() < timeout,
            "The sequential HTTP loop exceeded {timeout:?}"
        );
    }
    let sequential_per_second = args.http_requests as f64 / started.elapsed().as_secs_f64();

    // One loop per partition, as the dispatcher's workers would run with every partition busy.
    let loops = usize::try_from(args.partitions)?;
    let per_loop = args.http_requests.div_ceil(loops);
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..loops {
        let post = post.clone();
        tasks.spawn(async move {
            for _ in 0..per_loop {
                post().await?;
            }
            anyhow::Ok(())
        });
    }
    let joined = tokio::time::timeout(timeout, async {
        while let Some(result) = tasks.join_next().await {
            result??;
        }
        anyhow::Ok(())
    })
    .await;
    joined.map_err(|_| anyhow::anyhow!("The parallel HTTP loops exceeded {timeout:?}"))??;
    let parallel_per_second = (per_loop * loops) as f64 / started.elapsed().as_secs_f64();

    Ok(HttpFigures {
        sequential: Percentiles::of(samples),
        sequential_per_second,
        parallel_loops: loops,
        parallel_per_second,
    })
}

// ---------------------------------------------------------------------------------------------
// Phase 2: draining a backlog.

#[derive(Debug, Clone)]
struct DrainFigures {
    records: usize,
    produce_per_second: f64,
    /// Dispatcher start → last record received.
    total_seconds: f64,
    /// Dispatcher start → first record received (group join, assignment, first fetch).
    first_record_seconds: f64,
    /// First → last record received.
    flow_seconds: f64,
    duplicates: usize,
    cpu_cores: Option<f64>,
    shutdown_seconds: f64,
    /// Per partition: (first, last) arrival, in seconds after the dispatcher started. Shows
    /// whether the partitions were drained side by side or one after another.
    partition_windows: Vec<(f64, f64)>,
}

impl DrainFigures {
    fn per_second(&self) -> f64 {
        self.records as f64 / self.total_seconds
    }

    fn flow_per_second(&self) -> f64 {
        self.records.saturating_sub(1) as f64 / self.flow_seconds
    }

    fn describe(&self) -> String {
        format!(
            "  drain          {} records: {:.2} s from dispatcher start = {:.0} ev/s; first record after {:.2} s, then {:.0} ev/s; duplicates {}; process CPU {} cores; shutdown {:.2} s (backlog produced at {:.0} ev/s)",
            self.records,
            self.total_seconds,
            self.per_second(),
            self.first_record_seconds,
            self.flow_per_second(),
            self.duplicates,
            self.cpu_cores
                .map_or_else(|| "?".to_owned(), |cores| format!("{cores:.2}")),
            self.shutdown_seconds,
            self.produce_per_second
        ) + &format!(
            "\n                 per partition, first → last arrival (s after start): {}",
            self.partition_windows
                .iter()
                .enumerate()
                .map(|(partition, (first, last))| format!("p{partition} {first:.2}→{last:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

async fn drain(args: &Args) -> anyhow::Result<DrainFigures> {
    let function = NoOpFunction::start(args.backlog).await?;
    let topic = BenchTopic::create(args, "drain", &function.url).await?;
    let measured = drain_on(args, &function, &topic).await;
    topic.delete().await;
    measured
}

async fn drain_on(args: &Args, function: &NoOpFunction, topic: &BenchTopic) -> anyhow::Result<DrainFigures> {
    let timeout = Duration::from_secs(args.phase_timeout_secs);
    let producer = producer(args, 5)?;
    let produce_started = Instant::now();
    let produced = tokio::time::timeout(
        timeout,
        futures::stream::iter(0..args.backlog)
            .map(|sequence| produce(&producer, &topic.name, args.partitions, sequence))
            .buffer_unordered(PRODUCE_CONCURRENCY)
            .fold(Ok(()), |all: anyhow::Result<()>, one| async move { all.and(one) }),
    )
    .await;
    produced.map_err(|_| anyhow::anyhow!("Producing the backlog exceeded {timeout:?}"))??;
    let produce_per_second = args.backlog as f64 / produce_started.elapsed().as_secs_f64();

    let cpu_before = process_cpu_seconds();
    let started = now_nanos();
    let running = RunningDispatcher::start(args, topic.subscription.clone())?;
    let all_arrived = function
        .wait_until(timeout, |arrivals| {
            arrivals.distinct.load(Ordering::Acquire) >= args.backlog
        })
        .await;
    let wall = seconds_between(started, now_nanos());
    let cpu_after = process_cpu_seconds();
    let shutdown = running.stop(timeout).await?;
    anyhow::ensure!(
        all_arrived,
        "Only {} of {} records arrived within {timeout:?}",
        function.arrivals.distinct.load(Ordering::Acquire),
        args.backlog
    );

    let arrivals = function.arrivals.arrival_nanos();
    let first = arrivals.iter().copied().min().unwrap_or(started);
    let last = arrivals.iter().copied().max().unwrap_or(started);
    Ok(DrainFigures {
        records: args.backlog,
        produce_per_second,
        total_seconds: seconds_between(started, last),
        first_record_seconds: seconds_between(started, first),
        flow_seconds: seconds_between(first, last),
        duplicates: function
            .arrivals
            .posts
            .load(Ordering::Acquire)
            .saturating_sub(args.backlog),
        cpu_cores: cpu_before
            .zip(cpu_after)
            .map(|(before, after)| (after - before) / wall),
        shutdown_seconds: shutdown.as_secs_f64(),
        partition_windows: partition_windows(&arrivals, args.partitions, started)?,
    })
}

/// Record `sequence` went to partition `sequence % partitions` (see [`produce`]).
fn partition_windows(arrivals: &[u64], partitions: i32, started: u64) -> anyhow::Result<Vec<(f64, f64)>> {
    let partitions = usize::try_from(partitions)?;
    Ok((0..partitions)
        .map(|partition| {
            let of_partition = arrivals.iter().skip(partition).step_by(partitions).copied();
            let first = of_partition.clone().min().unwrap_or(started);
            let last = of_partition.max().unwrap_or(started);
            (seconds_between(started, first), seconds_between(started, last))
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Phase 3: added latency at a steady rate.

#[derive(Debug, Clone)]
struct SteadyFigures {
    rate: u32,
    records: usize,
    /// Producer delivery acknowledgement → function received the POST.
    from_ack: Percentiles,
    /// Just before the produce call → function received the POST.
    from_produce: Percentiles,
    /// Records that reached the function before the producer saw its acknowledgement.
    before_ack: usize,
    /// Produce schedule slip: how late the last record was sent compared to its slot.
    schedule_slip_ms: f64,
    duplicates: usize,
}

impl SteadyFigures {
    fn describe(&self) -> String {
        format!(
            "  steady         {} ev/s, {} records: added latency (producer ack → function) p50 {}, p90 {}, p99 {}, max {}; produce call → function p50 {}, p99 {}, max {}; {} arrived before their ack; duplicates {}; produce slip {:.1} ms",
            self.rate,
            self.records,
            millis(self.from_ack.p50),
            millis(self.from_ack.p90),
            millis(self.from_ack.p99),
            millis(self.from_ack.max),
            millis(self.from_produce.p50),
            millis(self.from_produce.p99),
            millis(self.from_produce.max),
            self.before_ack,
            self.duplicates,
            self.schedule_slip_ms
        )
    }
}

async fn steady(args: &Args) -> anyhow::Result<SteadyFigures> {
    let records = usize::try_from(args.rate)? * usize::try_from(args.steady_secs)?;
    let function = NoOpFunction::start(records).await?;
    let topic = BenchTopic::create(args, "steady", &function.url).await?;
    let running = RunningDispatcher::start(args, topic.subscription.clone())?;
    let measured = steady_on(args, records, &function, &topic).await;
    let stopped = running.stop(Duration::from_secs(args.phase_timeout_secs)).await;
    topic.delete().await;
    let measured = measured?;
    stopped?;
    Ok(measured)
}

async fn steady_on(
    args: &Args,
    records: usize,
    function: &NoOpFunction,
    topic: &BenchTopic,
) -> anyhow::Result<SteadyFigures> {
    let timeout = Duration::from_secs(args.phase_timeout_secs);
    // No batching delay on the producer side: the figure is about the dispatcher.
    let producer = producer(args, 0)?;

    // Warm-up: one record per partition, so the group has joined and every partition's
    // worker is running before anything is measured. Their ids are not sequence numbers.
    for partition in 0..args.partitions {
        let key = format!("warm-up-{partition}");
        let (record_key, headers, payload) = encoded_event(&key, &key)?;
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&topic.name)
            .partition(partition)
            .key(record_key.as_slice())
            .headers(headers);
        if let Some(payload) = payload.as_deref() {
            record = record.payload(payload);
        }
        producer
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(error, _)| anyhow::anyhow!("Producing a warm-up record failed: {error}"))?;
    }
    let warmed_up = usize::try_from(args.partitions)?;
    anyhow::ensure!(
        function
            .wait_until(timeout, |arrivals| {
                arrivals.unmeasured.load(Ordering::Acquire) >= warmed_up
            })
            .await,
        "The warm-up records did not arrive within {timeout:?}"
    );

    let sent_at: Arc<Vec<AtomicU64>> = Arc::new((0..records).map(|_| AtomicU64::new(0)).collect());
    let acked_at: Arc<Vec<AtomicU64>> = Arc::new((0..records).map(|_| AtomicU64::new(0)).collect());
    let interval = Duration::from_secs(1) / args.rate;
    let schedule_start = tokio::time::Instant::now();
    let mut sends = JoinSet::new();
    let mut schedule_slip = Duration::ZERO;
    for sequence in 0..records {
        let slot = schedule_start + interval * u32::try_from(sequence)?;
        tokio::time::sleep_until(slot).await;
        schedule_slip = tokio::time::Instant::now().saturating_duration_since(slot);
        let producer = producer.clone();
        let topic_name = topic.name.clone();
        let partitions = args.partitions;
        let sent_at = Arc::clone(&sent_at);
        let acked_at = Arc::clone(&acked_at);
        sends.spawn(async move {
            sent_at[sequence].store(now_nanos(), Ordering::Release);
            produce(&producer, &topic_name, partitions, sequence).await?;
            acked_at[sequence].store(now_nanos(), Ordering::Release);
            anyhow::Ok(())
        });
    }
    let joined = tokio::time::timeout(timeout, async {
        while let Some(result) = sends.join_next().await {
            result??;
        }
        anyhow::Ok(())
    })
    .await;
    joined.map_err(|_| anyhow::anyhow!("Producing the steady stream exceeded {timeout:?}"))??;
    anyhow::ensure!(
        function
            .wait_until(timeout, |arrivals| {
                arrivals.distinct.load(Ordering::Acquire) >= records
            })
            .await,
        "Only {} of {records} records arrived within {timeout:?}",
        function.arrivals.distinct.load(Ordering::Acquire)
    );

    let arrivals = function.arrivals.arrival_nanos();
    let mut from_ack = Vec::with_capacity(records);
    let mut from_produce = Vec::with_capacity(records);
    for (sequence, arrived) in arrivals.iter().enumerate() {
        let arrived = i64::try_from(*arrived)?;
        from_ack.push(arrived - i64::try_from(acked_at[sequence].load(Ordering::Acquire))?);
        from_produce.push(arrived - i64::try_from(sent_at[sequence].load(Ordering::Acquire))?);
    }
    let before_ack = from_ack.iter().filter(|latency| **latency < 0).count();
    Ok(SteadyFigures {
        rate: args.rate,
        records,
        from_ack: Percentiles::of(from_ack),
        from_produce: Percentiles::of(from_produce),
        before_ack,
        schedule_slip_ms: schedule_slip.as_secs_f64() * 1e3,
        duplicates: function
            .arrivals
            .posts
            .load(Ordering::Acquire)
            .saturating_sub(records + warmed_up),
    })
}

// ---------------------------------------------------------------------------------------------
// Figures.

/// Percentiles of durations in nanoseconds (signed: a record can reach the function before
/// the producer has processed its acknowledgement).
#[derive(Debug, Clone, Copy)]
struct Percentiles {
    count: usize,
    p50: i64,
    p90: i64,
    p99: i64,
    max: i64,
}

impl Percentiles {
    fn of(mut samples: Vec<i64>) -> Self {
        samples.sort_unstable();
        // Nearest rank.
        let rank = |fraction: f64| -> i64 {
            if samples.is_empty() {
                return 0;
            }
            let index = ((fraction * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1;
            samples[index]
        };
        Self {
            count: samples.len(),
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            max: samples.last().copied().unwrap_or(0),
        }
    }
}

fn micros(nanos: i64) -> String {
    format!("{:.0} µs", nanos as f64 / 1e3)
}

fn millis(nanos: i64) -> String {
    format!("{:.2} ms", nanos as f64 / 1e6)
}

#[derive(Debug)]
struct RunFigures {
    http: HttpFigures,
    drain: DrainFigures,
    steady: SteadyFigures,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        length if length % 2 == 1 => values[length / 2],
        length => (values[length / 2 - 1] + values[length / 2]) / 2.0,
    }
}

/// The per-run figures side by side and their median, as a Markdown table.
fn print_summary(runs: &[RunFigures]) {
    type Row = (&'static str, fn(&RunFigures) -> f64, fn(f64) -> String);
    let rows: [Row; 14] = [
        (
            "HTTP POST, sequential, p50",
            |run| run.http.sequential.p50 as f64,
            |v| micros(v as i64),
        ),
        (
            "HTTP POST, sequential, p99",
            |run| run.http.sequential.p99 as f64,
            |v| micros(v as i64),
        ),
        (
            "HTTP POSTs/s, 1 loop",
            |run| run.http.sequential_per_second,
            |v| format!("{v:.0}"),
        ),
        (
            "HTTP POSTs/s, 1 loop per partition",
            |run| run.http.parallel_per_second,
            |v| format!("{v:.0}"),
        ),
        (
            "drain: events/s from dispatcher start",
            |run| run.drain.per_second(),
            |v| format!("{v:.0}"),
        ),
        (
            "drain: first record after",
            |run| run.drain.first_record_seconds,
            |v| format!("{v:.2} s"),
        ),
        (
            "drain: events/s first → last record",
            |run| run.drain.flow_per_second(),
            |v| format!("{v:.0}"),
        ),
        (
            "drain: process CPU (cores)",
            |run| run.drain.cpu_cores.unwrap_or(f64::NAN),
            |v| format!("{v:.2}"),
        ),
        (
            "steady: added latency p50 (ack → function)",
            |run| run.steady.from_ack.p50 as f64,
            |v| millis(v as i64),
        ),
        (
            "steady: added latency p90",
            |run| run.steady.from_ack.p90 as f64,
            |v| millis(v as i64),
        ),
        (
            "steady: added latency p99",
            |run| run.steady.from_ack.p99 as f64,
            |v| millis(v as i64),
        ),
        (
            "steady: added latency max",
            |run| run.steady.from_ack.max as f64,
            |v| millis(v as i64),
        ),
        (
            "steady: produce call → function p50",
            |run| run.steady.from_produce.p50 as f64,
            |v| millis(v as i64),
        ),
        (
            "steady: produce call → function p99",
            |run| run.steady.from_produce.p99 as f64,
            |v| millis(v as i64),
        ),
    ];
    println!();
    let mut header = String::from("| figure |");
    let mut rule = String::from("|---|");
    for index in 1..=runs.len() {
        header.push_str(&format!(" run {index} |"));
        rule.push_str("---:|");
    }
    header.push_str(" **median** |");
    rule.push_str("---:|");
    println!("{header}\n{rule}");
    for (name, figure, format) in rows {
        let values: Vec<f64> = runs.iter().map(figure).collect();
        let mut line = format!("| {name} |");
        for value in &values {
            line.push_str(&format!(" {} |", format(*value)));
        }
        line.push_str(&format!(" **{}** |", format(median(values))));
        println!("{line}");
    }
}
