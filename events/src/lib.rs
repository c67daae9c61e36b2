//! The wire contract between the platform's bounded contexts.
//!
//! Contexts never call each other; they learn about each other only from events on Kafka.
//! This crate is the single place that names those streams, so producers (the outbox relay),
//! consumers (functions and the trigger dispatcher) and the local stack (which creates the
//! topics up front, because broker-side auto-creation is off) all agree on them.
//!
//! - [`topics`]: one topic per aggregate, with its partition count, and the dead-letter
//!   naming rule.

pub mod topics;
