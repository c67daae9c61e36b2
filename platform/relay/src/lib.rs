//! The outbox relay: tails the MariaDB binlog and publishes every committed outbox row as a
//! CloudEvent (binary mode) to its Kafka topic, keyed by aggregate id.
//!
//! Why the binlog and not a polling loop, and the MariaDB-specific pieces, are in
//! docs/adr/0006-outbox-relay.md. The modules, in the order an event passes through them:
//!
//! - [`preflight`]: refuses to start unless the server settings make binlog CDC safe.
//! - [`binlog`]: opens the stream at a GTID position and decodes raw events, verifying each
//!   CRC and refusing event types it does not know.
//! - [`outbox`]: an outbox row, read by column name, and its CloudEvent.
//! - [`transaction`]: groups events into committed transactions, in commit order, and stops on
//!   statements that would change an outbox table behind the relay's back.
//! - [`publisher`]: the idempotent Kafka producer.
//! - `pipeline`: reader → producer → delivery reports → [`position`] store.
//! - [`lifecycle`]: [`Relay`], which prepares and starts the pipeline, and stops it.
//! - [`config`]: [`RelayConfig`], its defaults and the environment it is read from.
//! - [`status`]: [`RelayStatus`], what the relay is doing, for `/healthz` and the metrics.
//! - [`lock`]: one active relay per database and name; a second one waits.
//! - [`supervisor`]: starts the relay again from its stored position, with backoff, when a
//!   connection to MariaDB or Kafka is lost; on anything else it keeps the process up in the
//!   `failed` state and waits for an operator (docs/adr/0025).
//! - [`server`]: `/metrics`, `/healthz` and `/readyz`.
//! - [`intervention`]: the operator's `skip` and `republish`, which move a stopped relay past
//!   a transaction it cannot pass, with an audit row (docs/adr/0026).
//! - [`cli`]: the `outbox-relay` command line.
//! - [`gtid`]: MariaDB GTIDs and positions.

pub mod backlog;
pub mod binlog;
pub mod cli;
pub mod config;
pub mod error;
pub mod gtid;
pub mod intervention;
pub mod lifecycle;
pub mod lock;
pub mod outbox;
mod pipeline;
pub mod position;
pub mod preflight;
pub mod publisher;
pub mod server;
pub mod status;
pub mod supervisor;
pub mod transaction;

pub use crate::config::RelayConfig;
pub use crate::error::RelayError;
pub use crate::lifecycle::Relay;
pub use crate::status::{RelayState, RelayStatus, StatusSnapshot};

/// The context schemas whose `outbox` table the relay publishes.
pub const CONTEXT_SCHEMAS: &[&str] = &["identity", "catalog", "inventory", "ordering", "payment"];
