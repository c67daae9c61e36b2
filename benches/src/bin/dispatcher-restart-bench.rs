//! `dispatcher-restart-bench`: how long a `trigger-dispatcher` killed with SIGKILL and started
//! again at once leaves its records undelivered. A benchmark program, not a test: it prints
//! figures and asserts nothing about them (docs/benchmarks/dispatcher-restart.md reads them).
//!
//! It runs the real binary (built next to this one: `cargo build -p dispatcher --bin
//! trigger-dispatcher`) as a child process subscribed to a throw-away topic, with records
//! produced at a steady rate and delivered to an in-process function on 127.0.0.1. Each
//! restart: a few seconds of steady delivery, SIGKILL, the same command started again at once,
//! and the time until the function receives a record from the new process — told apart from
//! the old one by its connections, which the old process never opened. The restarts run once
//! with static group membership (`--instance-id`, the default) and once with
//! `--dynamic-membership` (how the dispatcher joined its groups before), each on its own topic
//! and group, deleted afterwards.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::routing::post;
use clap::{Parser, ValueEnum};
use cloudevents::{EventBuilder, EventBuilderV10};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio::sync::watch;

/// Measures how soon a killed and restarted trigger-dispatcher delivers again.
#[derive(Debug, Parser)]
#[command(name = "dispatcher-restart-bench")]
struct Args {
    /// Restarts measured per membership.
    #[arg(long, default_value_t = 10)]
    restarts: usize,
    /// Which membership to measure.
    #[arg(long, value_enum, default_value_t = Membership::Both)]
    membership: Membership,
    /// Records per second produced for the whole run, so there is always a next record.
    #[arg(long, default_value_t = 20)]
    rate: u32,
    /// Partitions of the benchmark topic.
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// Seconds of steady delivery before each kill (the group settles, offsets get committed).
    #[arg(long, default_value_t = 3)]
    steady_secs: u64,
    /// The longest wait for a restarted dispatcher's first delivery.
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
    /// The dispatcher binary; by default the one next to this program.
    #[arg(long)]
    dispatcher_binary: Option<PathBuf>,
    /// Let the dispatcher's log through to this program's stderr.
    #[arg(long)]
    show_dispatcher_logs: bool,
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    bootstrap_servers: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Membership {
    Static,
    Dynamic,
    Both,
}

const FUNCTION: &str = "bench-restart";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.restarts >= 1 && args.rate >= 1 && args.partitions >= 1);
    let binary = match &args.dispatcher_binary {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("this program has a folder")?
            .join("trigger-dispatcher"),
    };
    anyhow::ensure!(
        binary.exists(),
        "{} does not exist: build it with `cargo build -p dispatcher --bin trigger-dispatcher` \
         (add --release for a release run) or pass --dispatcher-binary",
        binary.display()
    );
    println!(
        "# dispatcher-restart-bench: {} restart(s) per membership, {} partitions, {} records/s, \
         {} s of steady delivery before each SIGKILL, {}",
        args.restarts,
        args.partitions,
        args.rate,
        args.steady_secs,
        binary.display()
    );
    let memberships: &[Membership] = match args.membership {
        Membership::Both => &[Membership::Static, Membership::Dynamic],
        Membership::Static => &[Membership::Static],
        Membership::Dynamic => &[Membership::Dynamic],
    };
    let mut summaries = Vec::new();
    for membership in memberships {
        let figures = measure(&args, &binary, *membership).await?;
        summaries.push((*membership, figures));
    }
    println!();
    println!(
        "| membership | restarts | kill → next delivery: median | p95 | min | max | start → next delivery: median |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (membership, figures) in summaries {
        let kill: Vec<f64> = figures.iter().map(|restart| restart.kill_to_delivery).collect();
        let start: Vec<f64> = figures.iter().map(|restart| restart.start_to_delivery).collect();
        println!(
            "| {membership:?} | {} | {:.2} s | {:.2} s | {:.2} s | {:.2} s | {:.2} s |",
            figures.len(),
            percentile(&kill, 50.0),
            percentile(&kill, 95.0),
            percentile(&kill, 0.0),
            percentile(&kill, 100.0),
            percentile(&start, 50.0),
        );
    }
    Ok(())
}

/// One restart's figures, in seconds.
#[derive(Debug, Clone, Copy)]
struct Restart {
    /// From SIGKILL to the first record the new process delivered.
    kill_to_delivery: f64,
    /// From starting the new process to that record.
    start_to_delivery: f64,
}

async fn measure(args: &Args, binary: &PathBuf, membership: Membership) -> anyhow::Result<Vec<Restart>> {
    let function = Function::start().await?;
    let topic = BenchTopic::create(args, membership).await?;
    let (stop_producing, stopping) = watch::channel(false);
    let producing = tokio::spawn(produce(
        args.bootstrap_servers.clone(),
        topic.name.clone(),
        args.rate,
        stopping,
    ));
    let instance = format!("bench-{}", uuid::Uuid::now_v7().simple());
    let start_dispatcher = || -> anyhow::Result<DispatcherProcess> {
        let mut command = Command::new(binary);
        command
            .args(["--bootstrap-servers", &args.bootstrap_servers])
            .args([
                "--subscribe",
                &format!("{FUNCTION}={}={}", topic.name, function.url),
            ])
            .args(["--group-prefix", &topic.group_prefix])
            .args(["--metrics-port", "0"])
            .env("RUST_LOG", "warn");
        match membership {
            Membership::Dynamic => command.arg("--dynamic-membership"),
            _ => command.args(["--instance-id", &instance]),
        };
        if !args.show_dispatcher_logs {
            command.stdout(Stdio::null()).stderr(Stdio::null());
        }
        Ok(DispatcherProcess(command.spawn()?))
    };
    let timeout = Duration::from_secs(args.timeout_secs);

    let mut running = start_dispatcher()?;
    let first = function
        .first_delivery_after(Instant::now(), &HashSet::new(), timeout)
        .await;
    anyhow::ensure!(
        first.is_some(),
        "the first dispatcher delivered nothing within {timeout:?}"
    );
    let mut figures = Vec::new();
    for restart in 1..=args.restarts {
        tokio::time::sleep(Duration::from_secs(args.steady_secs)).await;
        let old_connections = function.peers();
        let killed_at = Instant::now();
        running.kill();
        let started_at = Instant::now();
        running = start_dispatcher()?;
        match function
            .first_delivery_after(killed_at, &old_connections, timeout)
            .await
        {
            Some(delivered_at) => {
                let figure = Restart {
                    kill_to_delivery: (delivered_at - killed_at).as_secs_f64(),
                    start_to_delivery: (delivered_at - started_at).as_secs_f64(),
                };
                println!(
                    "{membership:?} restart {restart}/{}: kill → next delivery {:.2} s (start → next delivery {:.2} s)",
                    args.restarts, figure.kill_to_delivery, figure.start_to_delivery
                );
                figures.push(figure);
            }
            None => println!(
                "{membership:?} restart {restart}/{}: nothing delivered within {timeout:?}; left out",
                args.restarts
            ),
        }
    }
    running.kill();
    let _ = stop_producing.send(true);
    producing.await??;
    topic.delete().await;
    Ok(figures)
}

/// Nearest-rank percentile of `values` (0 = min, 100 = max); NaN for no values.
fn percentile(values: &[f64], percent: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((percent / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A dispatcher child process; killed with SIGKILL when dropped.
struct DispatcherProcess(Child);

impl DispatcherProcess {
    /// SIGKILL, then reap, so the process is gone when this returns.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for DispatcherProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// When each request arrived, and over which connection (the client's address).
type Arrivals = Arc<Mutex<Vec<(Instant, SocketAddr)>>>;

/// The function under the dispatcher: answers 200 and notes when each request arrived and
/// from which connection.
#[derive(Clone)]
struct Function {
    url: String,
    arrivals: Arrivals,
}

impl Function {
    async fn start() -> anyhow::Result<Self> {
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/", post(arrived))
            .with_state(Arc::clone(&arrivals));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/", listener.local_addr()?);
        tokio::spawn(async move {
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            if let Err(error) = axum::serve(listener, service).await {
                eprintln!("The function stopped: {error}");
            }
        });
        Ok(Self { url, arrivals })
    }

    /// Every connection a request came over so far.
    fn peers(&self) -> HashSet<SocketAddr> {
        self.arrivals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(_, peer)| *peer)
            .collect()
    }

    /// When the first request at or after `since` over a connection not in `old` arrived.
    async fn first_delivery_after(
        &self,
        since: Instant,
        old: &HashSet<SocketAddr>,
        timeout: Duration,
    ) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self
                .arrivals
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
                .find(|(at, peer)| *at >= since && !old.contains(peer))
                .map(|(at, _)| *at);
            if found.is_some() || Instant::now() >= deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

async fn arrived(State(arrivals): State<Arrivals>, ConnectInfo(peer): ConnectInfo<SocketAddr>) -> StatusCode {
    arrivals
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((Instant::now(), peer));
    StatusCode::OK
}

/// Produces one small CloudEvent after another at `rate` per second until `stop` turns true.
async fn produce(
    bootstrap_servers: String,
    topic: String,
    rate: u32,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap_servers)
        .set("enable.idempotence", "true")
        .set("linger.ms", "0")
        .create()?;
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    let mut sequence: u64 = 0;
    loop {
        tokio::select! {
            _ = stop.changed() => return Ok(()),
            _ = ticks.tick() => {}
        }
        let key = format!("key-{}", sequence % 64);
        let event = EventBuilderV10::new()
            .id(sequence.to_string())
            .source("bench/dispatcher-restart")
            .ty("commerce.bench.thing-happened.v1")
            .subject(&key)
            .extension("partitionkey", key.as_str())
            .data("application/json", serde_json::json!({ "sequence": sequence }))
            .build()?;
        let record = events::kafka::encode_binary(&event);
        let headers = record.headers.iter().fold(OwnedHeaders::new(), |all, header| {
            all.insert(KafkaHeader {
                key: &header.key,
                value: header.value.as_deref(),
            })
        });
        let payload = record.payload.unwrap_or_default();
        producer
            .send(
                FutureRecord::to(&topic)
                    .key(&key)
                    .payload(&payload)
                    .headers(headers),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(error, _)| error)?;
        sequence += 1;
    }
}

/// The topic, consumer group prefix and dead-letter topic of one membership's restarts.
struct BenchTopic {
    name: String,
    group_prefix: String,
    admin: AdminClient<DefaultClientContext>,
}

impl BenchTopic {
    async fn create(args: &Args, membership: Membership) -> anyhow::Result<Self> {
        let unique = format!(
            "{}-{:?}-{:08x}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S"),
            membership,
            rand::random::<u32>()
        )
        .to_lowercase();
        let name = format!("bench.restart.{unique}");
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
        Ok(Self {
            name,
            group_prefix: format!("bench.{unique}"),
            admin,
        })
    }

    /// Deletes the topic, its dead-letter topic and the consumer group; failures are printed,
    /// not fatal: the figures are already taken.
    async fn delete(self) {
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let dead_letters = events::topics::dead_letter_topic(&self.name, FUNCTION);
        if let Ok(results) = self
            .admin
            .delete_topics(&[&self.name, &dead_letters], &options)
            .await
        {
            for (topic, code) in results.into_iter().filter_map(Result::err) {
                eprintln!("Deleting topic {topic} failed: {code}");
            }
        }
        let group = format!("{}.{FUNCTION}.{}", self.group_prefix, self.name);
        if let Ok(results) = self.admin.delete_groups(&[&group], &options).await {
            for (group, code) in results.into_iter().filter_map(Result::err) {
                if code == RDKafkaErrorCode::NonEmptyGroup {
                    // The last dispatcher was killed, so it never left the group: its member
                    // stays until the session times out, and the broker drops the group once
                    // its offsets expire.
                    eprintln!("Consumer group {group} is left to expire (the killed member still holds it)");
                } else {
                    eprintln!("Deleting consumer group {group} failed: {code}");
                }
            }
        }
    }
}
