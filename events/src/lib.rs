//! The wire contract between the platform's bounded contexts.
//!
//! Contexts never call each other; they learn about each other only from events on Kafka.
//! This crate is the single place that names those streams, so producers (the outbox relay),
//! consumers (functions and the trigger dispatcher) and the local stack (which creates the
//! topics up front, because broker-side auto-creation is off) all agree on them.
//!
//! - [`catalog`], [`identity`], [`inventory`], [`ordering`], [`payment`]: each context's event
//!   types (past tense, versioned: `<topic>.<fact>.v1`, such as
//!   `commerce.ordering.order.placed.v1`; catalog's first events keep their older
//!   `commerce.product.<fact>.v1` names) and their camelCase JSON payloads, money always in
//!   integer minor units with an ISO 4217 currency.
//! - [`topics`]: one topic per aggregate, with its partition count, and the dead-letter
//!   naming rule.
//! - [`envelope`]: the platform's CloudEvent conventions, whatever the transport: the extension
//!   names (partition key, trace context, correlation and causation ids), the partition key,
//!   and reading the JSON data whatever shape it arrived in.
//! - [`kafka`]: the CloudEvents Kafka binding without librdkafka, so function binaries can
//!   read records handed to them by the AWS event source mapping: [`kafka::encode_binary`]
//!   writes binary mode, [`kafka::decode`] reads binary and structured mode and names the
//!   broken rule when a record is not a sound CloudEvent.

pub mod catalog;
pub mod envelope;
pub mod identity;
pub mod inventory;
pub mod kafka;
pub mod ordering;
pub mod payment;
pub mod topics;
