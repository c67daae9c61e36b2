//! Helpers shared by the integration tests: throw-away topics on the local stack's broker, a
//! function played by an in-process axum server, and a dispatcher running in a task.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use cloudevents::{EventBuilder, EventBuilderV10};
use dispatcher::record::Record;
use dispatcher::{ConsumerConfig, DeliveryConfig, Dispatcher, DispatcherConfig, RetryPolicy, Subscription};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const DEADLINE: Duration = Duration::from_secs(60);

pub fn bootstrap_servers() -> String {
    std::env::var("KAFKA_BOOTSTRAP_SERVERS")
        .expect("KAFKA_BOOTSTRAP_SERVERS is not set: run local-stack/up and source local-stack/var/stack.env")
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A topic of its own for one test; `delete` removes it and its dead-letter topics.
pub struct TestTopic {
    pub name: String,
    admin: AdminClient<DefaultClientContext>,
}

impl TestTopic {
    pub async fn create(partitions: i32) -> Self {
        let name = unique("test.dispatcher");
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", bootstrap_servers())
            .create()
            .unwrap();
        let results = admin
            .create_topics(
                &[NewTopic::new(&name, partitions, TopicReplication::Fixed(1))],
                &AdminOptions::new(),
            )
            .await
            .unwrap();
        for result in results {
            result.unwrap();
        }
        Self { name, admin }
    }

    pub fn dead_letter_topic(&self, function: &str) -> String {
        events::topics::dead_letter_topic(&self.name, function)
    }

    pub async fn delete(self, functions: &[&str]) {
        let mut names = vec![self.name.clone()];
        names.extend(functions.iter().map(|function| self.dead_letter_topic(function)));
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let results = self
            .admin
            .delete_topics(&names, &AdminOptions::new())
            .await
            .unwrap();
        for result in results {
            result.unwrap();
        }
    }
}

pub fn producer() -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap_servers())
        .set("partitioner", "murmur2_random")
        .set("enable.idempotence", "true")
        .create()
        .unwrap()
}

/// Produces one CloudEvent (binary mode, through the platform codec) keyed by `key`, with
/// `data` as its JSON payload; returns (partition, offset).
pub async fn produce_event(
    producer: &FutureProducer,
    topic: &str,
    id: &str,
    key: &str,
    data: serde_json::Value,
) -> (i32, i64) {
    produce_event_at(producer, topic, id, key, data, None).await
}

/// Like [`produce_event`], with the record's timestamp (ms since the epoch) set by the test.
pub async fn produce_event_at(
    producer: &FutureProducer,
    topic: &str,
    id: &str,
    key: &str,
    data: serde_json::Value,
    timestamp: Option<i64>,
) -> (i32, i64) {
    let event = EventBuilderV10::new()
        .id(id)
        .source("tests/dispatcher")
        .ty("commerce.test.thing-happened.v1")
        .subject(key)
        .extension("partitionkey", key)
        .data("application/json", data)
        .build()
        .unwrap();
    let record = events::kafka::encode_binary(&event);
    let headers: Vec<(String, Option<Vec<u8>>)> = record
        .headers
        .into_iter()
        .map(|header| (header.key, header.value))
        .collect();
    produce_raw_at(
        producer,
        topic,
        Some(key.as_bytes()),
        record.payload.as_deref(),
        &headers,
        timestamp,
    )
    .await
}

pub async fn produce_raw(
    producer: &FutureProducer,
    topic: &str,
    key: Option<&[u8]>,
    payload: Option<&[u8]>,
    headers: &[(String, Option<Vec<u8>>)],
) -> (i32, i64) {
    produce_raw_at(producer, topic, key, payload, headers, None).await
}

pub async fn produce_raw_at(
    producer: &FutureProducer,
    topic: &str,
    key: Option<&[u8]>,
    payload: Option<&[u8]>,
    headers: &[(String, Option<Vec<u8>>)],
    timestamp: Option<i64>,
) -> (i32, i64) {
    let owned = headers.iter().fold(OwnedHeaders::new(), |all, (key, value)| {
        all.insert(KafkaHeader {
            key,
            value: value.as_deref(),
        })
    });
    let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).headers(owned);
    if let Some(key) = key {
        record = record.key(key);
    }
    if let Some(payload) = payload {
        record = record.payload(payload);
    }
    if let Some(timestamp) = timestamp {
        record = record.timestamp(timestamp);
    }
    let delivery = producer
        .send(record, Duration::from_secs(10))
        .await
        .map_err(|(error, _)| error)
        .unwrap();
    (delivery.partition, delivery.offset)
}

/// One request the function received.
#[derive(Debug, Clone)]
pub struct Received {
    pub event_id: String,
    pub key: String,
    pub partition: i32,
    pub offset: i64,
    pub attempt: u32,
    pub data: serde_json::Value,
}

type Behaviour = dyn Fn(&Received, &[Received]) -> StatusCode + Send + Sync;

/// The function under the dispatcher: records every delivery and answers as the test says.
/// The behaviour sees the delivery and everything received before it.
#[derive(Clone)]
pub struct FakeFunction {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    /// What its `/readyz` says: 200 while true (as it starts), 503 otherwise.
    ready: Arc<AtomicBool>,
}

struct FunctionState {
    received: Arc<Mutex<Vec<Received>>>,
    behaviour: Box<Behaviour>,
    /// Simulated work per request, so a stream takes long enough to be interrupted.
    work: Duration,
}

impl FakeFunction {
    pub async fn start(
        behaviour: impl Fn(&Received, &[Received]) -> StatusCode + Send + Sync + 'static,
    ) -> Self {
        Self::start_working(Duration::ZERO, behaviour).await
    }

    pub async fn start_working(
        work: Duration,
        behaviour: impl Fn(&Received, &[Received]) -> StatusCode + Send + Sync + 'static,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener, work, behaviour)
    }

    /// A function that comes up on the port `down` held for it until now.
    pub fn start_on(
        down: DownFunction,
        behaviour: impl Fn(&Received, &[Received]) -> StatusCode + Send + Sync + 'static,
    ) -> Self {
        let listener = down.socket.listen(1024).unwrap();
        Self::serve(listener, Duration::ZERO, behaviour)
    }

    fn serve(
        listener: tokio::net::TcpListener,
        work: Duration,
        behaviour: impl Fn(&Received, &[Received]) -> StatusCode + Send + Sync + 'static,
    ) -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let ready = Arc::new(AtomicBool::new(true));
        let readiness = Arc::clone(&ready);
        let state = Arc::new(FunctionState {
            received: Arc::clone(&received),
            behaviour: Box::new(behaviour),
            work,
        });
        let readyz = get(move || {
            let ready = readiness.load(Ordering::SeqCst);
            std::future::ready(if ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            })
        });
        let app = Router::new()
            .route("/", post(receive))
            .with_state(state)
            .route("/readyz", readyz);
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, received, ready }
    }

    /// Makes its `/readyz` answer 200 (true) or 503 (false).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    pub fn acknowledging() -> impl Future<Output = Self> {
        Self::start(|_, _| StatusCode::OK)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn distinct_ids(&self) -> std::collections::HashSet<String> {
        self.received()
            .into_iter()
            .map(|received| received.event_id)
            .collect()
    }
}

/// The address of a function that is down: a loopback socket that is bound but does not
/// listen. Connections to it are refused, as to a stopped process, yet the port stays taken,
/// so no other server (another test of the same binary binding port 0) can be handed it and
/// answer in the function's place. [`FakeFunction::start_on`] brings the function up there.
#[derive(Debug)]
pub struct DownFunction {
    socket: tokio::net::TcpSocket,
    pub url: String,
}

impl DownFunction {
    pub fn bind() -> Self {
        // No SO_REUSEADDR: the port must not be shared with anyone while it is held.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            .unwrap();
        let url = format!("http://{}/", socket.local_addr().unwrap());
        Self { socket, url }
    }
}

async fn receive(State(state): State<Arc<FunctionState>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if !state.work.is_zero() {
        tokio::time::sleep(state.work).await;
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let received = Received {
        event_id: header("ce-id"),
        key: header("ce-partitionkey"),
        partition: header("x-kafka-partition").parse().unwrap_or(-1),
        offset: header("x-kafka-offset").parse().unwrap_or(-1),
        attempt: header("x-delivery-attempt").parse().unwrap_or(0),
        data: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    };
    let mut all = state.received.lock().unwrap();
    let status = (state.behaviour)(&received, &all);
    all.push(received);
    status
}

/// Fast retries and commits so tests finish quickly; the logic is the production one.
pub fn test_config() -> DispatcherConfig {
    DispatcherConfig {
        delivery: DeliveryConfig {
            retry: RetryPolicy {
                base: Duration::from_millis(10),
                cap: Duration::from_millis(100),
                max_attempts: 4,
            },
            request_timeout: Duration::from_secs(10),
            ..DeliveryConfig::new(bootstrap_servers())
        },
        consumer: ConsumerConfig {
            partition_buffer: 16,
            backlog: 16,
            auto_commit_interval: Duration::from_millis(100),
            lag_interval: Duration::from_secs(1),
            ..ConsumerConfig::default()
        },
    }
}

pub fn subscription(function: &str, topic: &str, target: &str, group: &str) -> Subscription {
    Subscription::parse(&format!("{function}={topic}={target}"), group).unwrap()
}

/// A dispatcher running in a task of the test.
pub struct RunningDispatcher {
    task: JoinHandle<anyhow::Result<()>>,
    stop: oneshot::Sender<()>,
}

impl RunningDispatcher {
    pub fn start(config: DispatcherConfig, subscriptions: Vec<Subscription>) -> Self {
        let dispatcher = Dispatcher::new(config, subscriptions).unwrap();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(dispatcher.run(async {
            let _ = stopped.await;
        }));
        Self { task, stop }
    }

    /// Graceful shutdown, as on SIGTERM.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }

    /// A hard stop, as on a crash: nothing more is committed.
    pub async fn abort(self) {
        self.task.abort();
        let _ = self.task.await;
    }

    /// How the dispatcher ended by itself (without being asked to stop), within the deadline.
    pub async fn ended(self) -> anyhow::Result<()> {
        tokio::time::timeout(DEADLINE, self.task)
            .await
            .expect("the dispatcher ended within the deadline")
            .unwrap()
    }
}

/// Polls `check` until it holds or the deadline passes.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    testkit::poll::Polling::new(DEADLINE, Duration::from_millis(20))
        .eventually(what, || std::future::ready(check()))
        .await;
}

/// Reads `count` records of `topic` from the beginning (throw-away group).
pub async fn read_records(topic: &str, count: usize) -> Vec<Record> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap_servers())
        .set("group.id", unique("test.reader"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut records = Vec::new();
    let started = Instant::now();
    while records.len() < count {
        let remaining = DEADLINE.checked_sub(started.elapsed()).unwrap_or_else(|| {
            panic!(
                "timed out reading {count} records of {topic}, got {}",
                records.len()
            )
        });
        if let Ok(Ok(message)) = tokio::time::timeout(remaining, consumer.recv()).await {
            records.push(Record::from_message(&message));
        }
    }
    records
}

/// The committed offsets of `group` for every partition of `topic` (absent = none yet).
pub fn committed_offsets(group: &str, topic: &str, partitions: i32) -> HashMap<i32, i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap_servers())
        .set("group.id", group)
        .create()
        .unwrap();
    let mut list = TopicPartitionList::new();
    for partition in 0..partitions {
        list.add_partition(topic, partition);
    }
    let committed = consumer.committed_offsets(list, Duration::from_secs(10)).unwrap();
    committed
        .elements()
        .iter()
        .filter_map(|element| match element.offset() {
            Offset::Offset(offset) => Some((element.partition(), offset)),
            _ => None,
        })
        .collect()
}

pub fn header_text<'a>(record: &'a Record, key: &str) -> Option<&'a str> {
    record
        .headers
        .iter()
        .find(|header| header.key == key)
        .and_then(|header| header.value.as_deref())
        .and_then(|value| std::str::from_utf8(value).ok())
}
