//! Command-line settings of the `trigger-dispatcher` binary, turned into library types here
//! so the binary only wires.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::backoff::RetryPolicy;
use crate::consumer::{ConsumerConfig, Fetching};
use crate::dispatcher::DispatcherConfig;
use crate::membership::{self, InstanceName};
use crate::pipeline::DeliveryConfig;
use crate::replay::{ReplayRequest, StartFrom};
use crate::subscription::Subscription;

/// Consumes Kafka topics and POSTs every record to a function as a CloudEvent.
#[derive(Debug, Parser)]
#[command(name = "trigger-dispatcher")]
pub struct DispatcherArgs {
    /// The registry of functions (template.yaml): every Kafka subscription it declares is
    /// delivered to its function on the function's local port.
    #[arg(long, value_name = "PATH")]
    pub template: Option<PathBuf>,
    /// The port of the template's first function; the others follow in name order, as the
    /// local stack starts them (see `stackctl plan`).
    #[arg(long, env = "FUNCTION_BASE_PORT", default_value_t = 8100)]
    pub function_base_port: u16,
    /// Where the template's functions listen.
    #[arg(long, default_value = "127.0.0.1")]
    pub function_host: String,
    /// FUNCTION=TOPIC=URL, besides (or instead of) the template's; repeat for more.
    #[arg(
        long = "subscribe",
        value_name = "FUNCTION=TOPIC=URL",
        required_unless_present = "template"
    )]
    pub subscriptions: Vec<String>,
    /// Consumer groups are named `<prefix>.<function>.<topic>`.
    #[arg(long, default_value = "dispatcher")]
    pub group_prefix: String,
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    pub bootstrap_servers: String,
    /// Where `/metrics` and `/healthz` are served.
    #[arg(long, default_value_t = 9464)]
    pub metrics_port: u16,
    /// The ceiling of the first retry wait, in milliseconds (doubles per attempt).
    #[arg(long, default_value_t = 100)]
    pub retry_base_ms: u64,
    /// The longest retry wait, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub retry_cap_ms: u64,
    /// Deliveries per record before it is dead-lettered.
    #[arg(long, default_value_t = 8)]
    pub max_attempts: u32,
    /// Timeout of one HTTP request, in seconds.
    #[arg(long, default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Concurrent deliveries per partition and function, never two of one key: a key's
    /// records keep their order, and a slow key holds one slot while the others go on
    /// (docs/adr/0063). 1 delivers each partition strictly in offset order.
    #[arg(long, env = "DISPATCHER_KEY_LANES", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub key_lanes: u16,
    /// Records held per function and partition, waiting for delivery, before the topic's
    /// other functions wait for that function too (a function that is down falls behind by
    /// this much on its own; docs/adr/0062).
    #[arg(long, env = "DISPATCHER_BACKLOG", default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub backlog: u32,
    /// How long the broker may hold a fetch to gather `--fetch-min-bytes`, in milliseconds
    /// (librdkafka's `fetch.wait.max.ms`).
    #[arg(long, env = "DISPATCHER_FETCH_WAIT_MS", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=60_000))]
    pub fetch_wait_ms: u32,
    /// How many bytes a fetch waits for before the broker answers (`fetch.min.bytes`). 1
    /// answers as soon as one record is there, so every consumer group fetches each record on
    /// its own; more makes the groups fetch in batches, at the cost of up to
    /// `--fetch-wait-ms` per hop (docs/benchmarks/saga.md).
    #[arg(long, env = "DISPATCHER_FETCH_MIN_BYTES", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16_777_216))]
    pub fetch_min_bytes: u32,
    /// `topic`: one Kafka consumer per topic fetches each record once for every function
    /// subscribed to it, and commits each function's offsets to the function's own group.
    /// `subscription`: one consumer per (function, topic), each a member of the function's
    /// group and fetching every record of the topic itself (docs/adr/0062).
    #[arg(long, env = "DISPATCHER_FETCH_PER", default_value = "topic", value_parser = parse_fetching)]
    pub fetch_per: Fetching,
    /// The name this dispatcher goes by in its consumer groups (static membership), so that
    /// after a restart it gets its partitions back at once. It must stay the same across
    /// restarts and differ between dispatchers that share groups (a StatefulSet pod's name
    /// fits). Default: `<host>-<metrics port>`, which only one process of a host can have.
    #[arg(
        long,
        env = "DISPATCHER_INSTANCE_ID",
        value_parser = InstanceName::parse,
        conflicts_with = "dynamic_membership"
    )]
    pub instance_id: Option<InstanceName>,
    /// Join the groups anonymously instead: a restarted dispatcher then waits until the
    /// broker gives up on its previous self (the session timeout).
    #[arg(long)]
    pub dynamic_membership: bool,
    /// How long the broker waits for a dispatcher it hears nothing from before it hands the
    /// dispatcher's partitions to others, in seconds. Default: 300 for a static member, 45
    /// (librdkafka's default) for a dynamic one. A static member's restart does not wait for
    /// it, and a long session keeps a broker outage from ending the session: a static member
    /// whose session ended rejoins and is fenced out by its own new membership.
    #[arg(long)]
    pub session_timeout_secs: Option<u64>,
}

fn parse_fetching(value: &str) -> Result<Fetching, String> {
    value.parse()
}

/// The session of a static member: longer than a broker restart takes, even on a busy machine.
const STATIC_SESSION_TIMEOUT: Duration = Duration::from_secs(300);
/// The session of a dynamic member: librdkafka's default.
const DYNAMIC_SESSION_TIMEOUT: Duration = Duration::from_secs(45);

impl DispatcherArgs {
    /// The template's subscriptions (when `--template` is given), then the `--subscribe` ones.
    pub fn subscriptions(&self) -> anyhow::Result<Vec<Subscription>> {
        let mut subscriptions = match &self.template {
            Some(path) => {
                let registry = template::Registry::load(path)?;
                Subscription::all_in(
                    &registry,
                    &self.function_host,
                    self.function_base_port,
                    &self.group_prefix,
                )?
            }
            None => Vec::new(),
        };
        for spec in &self.subscriptions {
            subscriptions.push(Subscription::parse(spec, &self.group_prefix)?);
        }
        Ok(subscriptions)
    }

    pub fn config(&self) -> DispatcherConfig {
        DispatcherConfig {
            delivery: DeliveryConfig {
                bootstrap_servers: self.bootstrap_servers.clone(),
                retry: RetryPolicy {
                    base: Duration::from_millis(self.retry_base_ms),
                    cap: Duration::from_millis(self.retry_cap_ms),
                    max_attempts: self.max_attempts.max(1),
                },
                request_timeout: Duration::from_secs(self.request_timeout_secs),
            },
            consumer: ConsumerConfig {
                instance: self.instance(),
                session_timeout: self.session_timeout(),
                key_lanes: usize::from(self.key_lanes),
                fetch_wait: Duration::from_millis(u64::from(self.fetch_wait_ms)),
                fetch_min_bytes: self.fetch_min_bytes,
                fetching: self.fetch_per,
                backlog: usize::try_from(self.backlog).unwrap_or(usize::MAX),
                ..ConsumerConfig::default()
            },
        }
    }

    /// The session timeout given, or the default for the membership.
    fn session_timeout(&self) -> Duration {
        match (self.session_timeout_secs, self.instance()) {
            (Some(secs), _) => Duration::from_secs(secs),
            (None, Some(_)) => STATIC_SESSION_TIMEOUT,
            (None, None) => DYNAMIC_SESSION_TIMEOUT,
        }
    }

    /// The name given, or one made of the host and the metrics port. A metrics port of 0 is
    /// chosen afresh at every start, so without a given name the membership is dynamic.
    fn instance(&self) -> Option<InstanceName> {
        if self.dynamic_membership {
            return None;
        }
        match (&self.instance_id, self.metrics_port) {
            (Some(given), _) => Some(given.clone()),
            (None, 0) => None,
            (None, port) => Some(InstanceName::on_host(&membership::host_name(), port)),
        }
    }
}

/// Re-delivers a topic's records (or a function's dead letters) to a function.
#[derive(Debug, Parser)]
#[command(name = "replay")]
pub struct ReplayArgs {
    /// The function that receives the records (names its dead-letter topic).
    #[arg(long)]
    pub function: String,
    /// The topic to read: a platform topic or `<topic>.dlq.<function>`.
    #[arg(long)]
    pub topic: String,
    /// The function's URL.
    #[arg(long)]
    pub target: String,
    /// Start at this offset in every partition (default: the beginning).
    #[arg(long, conflicts_with = "from_time")]
    pub from_offset: Option<i64>,
    /// Start at the first record at or after this RFC 3339 time.
    #[arg(long)]
    pub from_time: Option<String>,
    /// Only events of this CloudEvents type.
    #[arg(long = "type")]
    pub event_type: Option<String>,
    /// Only records with this key.
    #[arg(long)]
    pub key: Option<String>,
    /// Count what would be delivered, deliver nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// At most this many events per second.
    #[arg(long)]
    pub rate: Option<f64>,
    #[arg(long, env = "KAFKA_BOOTSTRAP_SERVERS")]
    pub bootstrap_servers: String,
    /// Deliveries per record before it is dead-lettered.
    #[arg(long, default_value_t = 8)]
    pub max_attempts: u32,
}

impl ReplayArgs {
    pub fn request(&self) -> anyhow::Result<(DeliveryConfig, ReplayRequest)> {
        let start = match (&self.from_offset, &self.from_time) {
            (Some(offset), _) => StartFrom::Offset(*offset),
            (None, Some(time)) => StartFrom::Timestamp(
                chrono::DateTime::parse_from_rfc3339(time)
                    .map_err(|error| {
                        anyhow::anyhow!("--from-time {time:?} is not an RFC 3339 time: {error}")
                    })?
                    .timestamp_millis(),
            ),
            (None, None) => StartFrom::Beginning,
        };
        let subscription = Subscription::new(&self.function, &self.topic, &self.target, "replay")?;
        let mut config = DeliveryConfig::new(self.bootstrap_servers.clone());
        config.retry.max_attempts = self.max_attempts.max(1);
        let request = ReplayRequest {
            subscription,
            start,
            event_type: self.event_type.clone(),
            key: self.key.clone(),
            dry_run: self.dry_run,
            rate: self.rate,
        };
        Ok((config, request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_starts_at_a_parsed_time() {
        let args = ReplayArgs::try_parse_from([
            "replay",
            "--bootstrap-servers",
            "127.0.0.1:9092",
            "--function",
            "f",
            "--topic",
            "t",
            "--target",
            "http://127.0.0.1:1/",
            "--from-time",
            "2026-11-25T10:00:00Z",
        ])
        .expect("valid arguments");
        let (_, request) = args.request().expect("valid request");
        assert_eq!(request.start, StartFrom::Timestamp(1_795_600_800_000));
    }

    #[test]
    fn repeated_subscribe_flags_give_one_subscription_each() {
        let args = DispatcherArgs::try_parse_from([
            "trigger-dispatcher",
            "--bootstrap-servers",
            "127.0.0.1:9092",
            "--subscribe",
            "reserve-stock=commerce.ordering.order=http://127.0.0.1:9001/",
            "--subscribe",
            "authorize-payment=commerce.inventory.stock=http://127.0.0.1:9002/",
            "--group-prefix",
            "local",
            "--max-attempts",
            "3",
        ])
        .expect("valid arguments");
        let subscriptions = args.subscriptions().expect("valid subscriptions");
        assert_eq!(subscriptions.len(), 2);
        assert_eq!(
            subscriptions[1].group_id,
            "local.authorize-payment.commerce.inventory.stock"
        );
        assert_eq!(args.config().delivery.retry.max_attempts, 3);
    }

    #[test]
    fn the_repository_template_gives_the_subscriptions_the_local_stack_delivers() {
        let template = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
        let args = DispatcherArgs::try_parse_from([
            "trigger-dispatcher".as_ref(),
            "--bootstrap-servers".as_ref(),
            "127.0.0.1:9092".as_ref(),
            "--template".as_ref(),
            template.as_os_str(),
            "--function-base-port".as_ref(),
            "8100".as_ref(),
            "--group-prefix".as_ref(),
            "local".as_ref(),
        ])
        .expect("valid arguments");
        let subscriptions = args.subscriptions().expect("valid subscriptions");

        let registry = template::Registry::load(&template).expect("template.yaml parses");
        let declared: usize = registry
            .functions
            .iter()
            .map(|function| function.subscriptions.len())
            .sum();
        assert!(declared > 0, "the template declares Kafka subscriptions");
        assert_eq!(subscriptions.len(), declared);
        let (projector, port) = registry
            .local_ports(8100)
            .into_iter()
            .find(|(function, _)| function.name == "project-catalog-product")
            .expect("project-catalog-product is in the template");
        let projection = subscriptions
            .iter()
            .find(|subscription| subscription.function == projector.name)
            .expect("project-catalog-product has a subscription");
        assert_eq!(projection.topic, "commerce.catalog.product");
        assert_eq!(projection.target.as_str(), format!("http://127.0.0.1:{port}/"));
        assert_eq!(
            projection.group_id,
            "local.project-catalog-product.commerce.catalog.product"
        );
    }

    /// A dispatcher's command line with one subscription and `extra` arguments, parsed.
    fn parsed(extra: &[&str]) -> Result<DispatcherArgs, clap::Error> {
        let mut arguments = vec![
            "trigger-dispatcher",
            "--bootstrap-servers",
            "127.0.0.1:9092",
            "--subscribe",
            "f=t=http://127.0.0.1:1/",
        ];
        arguments.extend_from_slice(extra);
        DispatcherArgs::try_parse_from(arguments)
    }

    /// The consumer settings of a dispatcher started with `extra` arguments.
    fn consumer_of(extra: &[&str]) -> crate::consumer::ConsumerConfig {
        parsed(extra).expect("valid arguments").config().consumer
    }

    fn membership_of(extra: &[&str]) -> Option<InstanceName> {
        consumer_of(extra).instance
    }

    #[test]
    fn by_default_a_dispatcher_is_a_static_member_named_after_its_host_and_metrics_port() {
        let instance = membership_of(&["--metrics-port", "9474"]).expect("static membership");
        assert_eq!(instance, InstanceName::on_host(&membership::host_name(), 9474));
    }

    #[test]
    fn a_given_instance_name_wins_and_dynamic_membership_can_be_chosen() {
        assert_eq!(
            membership_of(&["--instance-id", "dispatcher-0"]),
            Some(InstanceName::parse("dispatcher-0").expect("legal"))
        );
        assert_eq!(membership_of(&["--dynamic-membership"]), None);
        // Port 0 is a different port at every start, so it cannot name a member.
        assert_eq!(membership_of(&["--metrics-port", "0"]), None);
    }

    #[test]
    fn key_lanes_default_to_four_and_one_means_strict_offset_order() {
        assert_eq!(consumer_of(&[]).key_lanes, 4);
        assert_eq!(consumer_of(&["--key-lanes", "1"]).key_lanes, 1);
        let error = parsed(&["--key-lanes", "0"]).expect_err("no lane at all");
        assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation);
    }

    #[test]
    fn fetches_answer_at_the_first_record_unless_told_to_gather_bytes_for_a_while() {
        let default = consumer_of(&[]);
        assert_eq!(
            (default.fetch_min_bytes, default.fetch_wait),
            (1, Duration::from_millis(500))
        );
        let batched = consumer_of(&["--fetch-min-bytes", "65536", "--fetch-wait-ms", "20"]);
        assert_eq!(
            (batched.fetch_min_bytes, batched.fetch_wait),
            (65_536, Duration::from_millis(20))
        );
        let error = parsed(&["--fetch-wait-ms", "0"]).expect_err("a fetch that may not wait at all");
        assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation);
    }

    #[test]
    fn a_consumer_per_topic_unless_told_one_per_subscription() {
        use crate::consumer::Fetching;
        assert_eq!(consumer_of(&[]).fetching, Fetching::PerTopic);
        assert_eq!(
            consumer_of(&["--fetch-per", "subscription"]).fetching,
            Fetching::PerSubscription
        );
        let error = parsed(&["--fetch-per", "function"]).expect_err("not a layout");
        assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation);
    }

    #[test]
    fn a_function_may_fall_twenty_thousand_records_behind_per_partition_unless_told_otherwise() {
        assert_eq!(consumer_of(&[]).backlog, 20_000);
        assert_eq!(consumer_of(&["--backlog", "500"]).backlog, 500);
        let error = parsed(&["--backlog", "0"]).expect_err("no room at all");
        assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation);
    }

    fn session_of(extra: &[&str]) -> Duration {
        consumer_of(extra).session_timeout
    }

    #[test]
    fn a_static_member_outlasts_a_broker_restart_and_a_dynamic_one_keeps_the_usual_session() {
        assert_eq!(session_of(&["--metrics-port", "9474"]), STATIC_SESSION_TIMEOUT);
        assert_eq!(session_of(&["--dynamic-membership"]), DYNAMIC_SESSION_TIMEOUT);
        assert_eq!(
            session_of(&["--dynamic-membership", "--session-timeout-secs", "20"]),
            Duration::from_secs(20)
        );
    }

    #[test]
    fn an_instance_name_kafka_would_refuse_is_refused_when_parsing() {
        let error = parsed(&["--instance-id", "two words"]).expect_err("an illegal name");
        assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation);
    }

    #[test]
    fn without_a_template_at_least_one_subscription_is_required() {
        let error =
            DispatcherArgs::try_parse_from(["trigger-dispatcher", "--bootstrap-servers", "127.0.0.1:9092"])
                .expect_err("nothing to deliver");
        assert_eq!(error.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }
}
