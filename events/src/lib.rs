//! The wire contract between the platform's bounded contexts.
//!
//! Contexts never call each other; they learn about each other only from events on Kafka.
//! This crate is the single place that names those streams and what flows on them, so
//! producers (use cases writing to their outbox, and the relay that publishes it), consumers
//! (functions and the trigger dispatcher) and the local stack (which creates the topics up
//! front, because broker-side auto-creation is off) all agree.
//!
//! - [`EventType`] ties each payload to its CloudEvent type name, version, topic and aggregate
//!   key; [`Decode`] (for one type, or a [`one_of!`] set) reads a CloudEvent as the payload a
//!   consumer expects; [`registry`] lists every event type, and `events/schemas/` holds the
//!   JSON Schema of each, generated from these types and checked against them in the tests.
//! - [`catalog`], [`identity`], [`inventory`], [`ordering`], [`payment`]: each context's
//!   payloads (past tense, versioned: `<topic>.<fact>.v1`, such as
//!   `commerce.ordering.order.placed.v1`; catalog's first events keep their older
//!   `commerce.product.<fact>.v1` names), camelCase JSON.
//! - [`value`]: the values contexts share: [`value::Sku`], [`value::Currency`] and
//!   [`value::Money`] (integer minor units, checked arithmetic).
//! - [`topics`]: one topic per aggregate, with its partition count, and the dead-letter
//!   naming rule.
//! - [`envelope`]: the platform's CloudEvent conventions, whatever the transport: the extension
//!   names (partition key, trace context, correlation and causation ids), the partition key,
//!   and reading the JSON data whatever shape it arrived in.
//! - [`kafka`]: the CloudEvents Kafka binding without librdkafka, so function binaries can
//!   read records handed to them by the AWS event source mapping: [`kafka::encode_binary`]
//!   writes binary mode, [`kafka::decode`] reads binary and structured mode and names the
//!   broken rule when a record is not a sound CloudEvent.

/// Implements [`EventType`] for a payload: its type name, version, topic (a constant of
/// [`topics`]) and the field that holds the aggregate id. The aggregate type is the calling
/// module's `AGGREGATE`.
macro_rules! event_type {
    ($payload:ty = $name:literal, version $version:literal, on $topic:ident, keyed by $key:ident) => {
        impl $crate::contract::EventType for $payload {
            const NAME: &'static str = $name;
            const VERSION: u32 = $version;
            const TOPIC: $crate::topics::Topic = $crate::topics::$topic;
            const AGGREGATE: &'static str = AGGREGATE;

            fn aggregate_id(&self) -> &str {
                self.$key.as_ref()
            }
        }
    };
}
pub(crate) use event_type;

pub mod catalog;
pub mod contract;
pub mod envelope;
pub mod identity;
pub mod inventory;
pub mod kafka;
pub mod ordering;
pub mod payment;
pub mod topics;
pub mod value;

pub use contract::{Decode, DecodeError, Descriptor, EventType, describe, registry};

/// Re-exported for [`one_of!`], which names the CloudEvent type it decodes.
#[doc(hidden)]
pub use cloudevents;
