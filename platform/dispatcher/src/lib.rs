//! The local trigger dispatcher: Knative's KafkaSource / AWS's event source mapping for
//! laptops and CI. It consumes Kafka topics and POSTs every record to a function's HTTP
//! endpoint as a CloudEvent (binary mode), in order per partition, acknowledging (storing the
//! offset of) a record only after the function accepted it or it was dead-lettered.
//!
//! Layout, in the order a record travels:
//! - [`subscription`]: which function gets which topic at which URL, read from
//!   `template.yaml` or parsed from `FUNCTION=TOPIC=URL`.
//! - [`dispatcher`]: runs a consumer per topic (or per subscription) in one process; start-up
//!   (dead-letter topics) and graceful shutdown.
//! - [`consumer`]: the consumers, one worker per function and assigned partition (order), offset
//!   storage after the outcome (safety), rebalances, lag.
//! - [`membership`]: the name a dispatcher goes by in its groups (static membership), so a
//!   restarted dispatcher gets its partitions back at once.
//! - [`record`]: the owned copy of a Kafka record that everything else passes around.
//! - [`pipeline`]: one record to its outcome: decode (`events::kafka`), deliver, or dead-letter.
//! - [`delivery`]: the HTTP POST, KafkaSource's status classification, the retry loop.
//! - [`backoff`]: exponential backoff with full jitter.
//! - [`dead_letter`]: `<topic>.dlq.<function>` records with `dlq-*` headers; topic creation.
//! - [`metrics`]: the Prometheus series (through the `metrics` facade).
//! - [`replay`]: the same pipeline fed by a throw-away consumer from an offset or a time, up to
//!   the high watermarks seen at its start.
//! - [`cli`], [`server`]: command-line settings, `/metrics` + `/healthz`, shutdown signals —
//!   what the binaries need, kept here so they only wire.
//!
//! The binaries `trigger-dispatcher` and `replay` only parse arguments and wire these.

pub mod backoff;
pub mod cli;
pub mod consumer;
pub mod dead_letter;
pub mod delivery;
pub mod dispatcher;
pub mod membership;
pub mod metrics;
pub mod pipeline;
pub mod record;
pub mod replay;
pub mod server;
pub mod subscription;

pub use backoff::RetryPolicy;
pub use consumer::{ConsumerConfig, Fetching};
pub use dispatcher::{Dispatcher, DispatcherConfig};
pub use membership::InstanceName;
pub use pipeline::DeliveryConfig;
pub use subscription::{Subscription, SubscriptionError};
