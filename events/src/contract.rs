//! The typed contract: every payload knows its event type, version, topic and aggregate key.
//!
//! A producer hands a payload to the outbox and the outbox takes the topic, the type name and
//! the key from [`EventType`], so an event cannot be written to another aggregate's topic or
//! under another type's name. A consumer names the payload (or the [`one_of!`] set of
//! payloads) it reads and receives it decoded by [`Decode`], so it cannot read one type's data
//! as another's. [`registry`] lists every event type; the JSON Schemas in `events/schemas/`
//! are generated from it and checked against it by this crate's tests.

use cloudevents::{AttributesReader, Event};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::envelope::{self, DataError};
use crate::topics::Topic;

/// One kind of fact on the wire: a payload type tied to its CloudEvent type and its stream.
pub trait EventType: Serialize + DeserializeOwned + JsonSchema + Send + Sync + 'static {
    /// The CloudEvent `type`, past tense and versioned: `commerce.ordering.order.placed.v1`.
    const NAME: &'static str;
    /// The payload's version, the `.vN` that ends [`Self::NAME`]. A change that could break a
    /// reader is a new type with the next version, published beside the old one.
    const VERSION: u32;
    /// The topic of the aggregate the event is about; its context is the only producer.
    const TOPIC: Topic;
    /// The outbox's `aggregatetype` (the routing field Debezium's outbox router reads).
    const AGGREGATE: &'static str;

    /// The aggregate's id: the Kafka key, the CloudEvent subject and partition key, so that
    /// every event of one aggregate lands on one partition and stays in order.
    fn aggregate_id(&self) -> &str;
}

/// Why an event of an accepted type could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The data is not a sound payload of the type.
    #[error("{event_type}: {source}")]
    Data {
        event_type: String,
        #[source]
        source: DataError,
    },
    /// The event says it comes from somewhere that never produces its type. Only a context's
    /// own functions write its events, so this is a forgery or a wiring mistake, never a fact.
    #[error(
        "{event_type} is produced only by the {context} context (source commerce/{context}/…), not by {claimed:?}"
    )]
    NotFromItsProducer {
        event_type: String,
        context: String,
        claimed: String,
    },
}

/// What a consumer reads: one event type, or a [`one_of!`] set of them.
pub trait Decode: Sized + Send + Sync + 'static {
    /// The CloudEvent types this reads; every other type is none of its business.
    fn accepts(event_type: &str) -> bool;

    /// Reads `event` when its type is accepted: `Ok(None)` for any other type, an error when
    /// the type is accepted but the data is not a sound payload of it.
    fn decode(event: &Event) -> Result<Option<Self>, DecodeError>;
}

impl<T: EventType> Decode for T {
    fn accepts(event_type: &str) -> bool {
        event_type == T::NAME
    }

    fn decode(event: &Event) -> Result<Option<Self>, DecodeError> {
        if event.ty() != T::NAME {
            return Ok(None);
        }
        check_producer::<T>(event)?;
        envelope::data_json(event)
            .map(Some)
            .map_err(|source| DecodeError::Data {
                event_type: T::NAME.to_owned(),
                source,
            })
    }
}

/// An event's `source` must name the context that owns its topic: `commerce/<context>` or
/// `commerce/<context>/<function>`. Anyone who can reach a function's event endpoint can
/// claim any source, so this is one guard among several (consumers also check facts against
/// their own state, and the endpoints are reachable only from the trigger); but it stops a
/// payment fact that says it comes from ordering, and a test or tool that mislabels events.
fn check_producer<T: EventType>(event: &Event) -> Result<(), DecodeError> {
    let claimed = event.source().to_string();
    let context = T::TOPIC.context;
    let owner = format!("commerce/{context}");
    let from_owner = claimed
        .strip_prefix(&owner)
        .is_some_and(|rest| rest.is_empty() || (rest.starts_with('/') && rest.len() > 1));
    if from_owner {
        Ok(())
    } else {
        Err(DecodeError::NotFromItsProducer {
            event_type: T::NAME.to_owned(),
            context: context.to_owned(),
            claimed,
        })
    }
}

/// Declares an enum of event types that one consumer reads, with its [`Decode`].
///
/// ```
/// events::one_of! {
///     /// What ends an order unpaid.
///     pub enum Unpaid {
///         ReservationFailed(events::inventory::StockReservationFailedV1),
///         Declined(events::payment::PaymentDeclinedV1),
///     }
/// }
/// ```
#[macro_export]
macro_rules! one_of {
    (
        $(#[$meta:meta])*
        $visibility:vis enum $name:ident {
            $($variant:ident($payload:ty)),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        $visibility enum $name {
            $($variant($payload)),+
        }

        impl $crate::Decode for $name {
            fn accepts(event_type: &str) -> bool {
                $(event_type == <$payload as $crate::EventType>::NAME)||+
            }

            fn decode(
                event: &$crate::cloudevents::Event,
            ) -> ::std::result::Result<::std::option::Option<Self>, $crate::DecodeError> {
                $(
                    if let ::std::option::Option::Some(payload) =
                        <$payload as $crate::Decode>::decode(event)?
                    {
                        return ::std::result::Result::Ok(::std::option::Option::Some(Self::$variant(payload)));
                    }
                )+
                ::std::result::Result::Ok(::std::option::Option::None)
            }
        }
    };
}

/// One entry of the [`registry`]: an event type as data, for tools and the schema check.
#[derive(Debug, Clone, Copy)]
pub struct Descriptor {
    pub name: &'static str,
    pub version: u32,
    pub topic: Topic,
    pub aggregate: &'static str,
    /// The payload's JSON Schema, generated from the Rust type.
    pub schema: fn() -> serde_json::Value,
}

impl Descriptor {
    pub const fn of<T: EventType>() -> Self {
        Self {
            name: T::NAME,
            version: T::VERSION,
            topic: T::TOPIC,
            aggregate: T::AGGREGATE,
            schema: schema_of::<T>,
        }
    }
}

fn schema_of<T: EventType>() -> serde_json::Value {
    let mut schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    if let Some(object) = schema.as_object_mut() {
        object.insert("$id".to_owned(), format!("{}.json", T::NAME).into());
        object.insert("title".to_owned(), T::NAME.into());
        object.insert(
            "x-commerce".to_owned(),
            serde_json::json!({
                "version": T::VERSION,
                "topic": T::TOPIC.name,
                "context": T::TOPIC.context,
                "aggregate": T::AGGREGATE,
            }),
        );
    }
    schema
}

/// Every event type of the platform, in context order.
pub fn registry() -> &'static [Descriptor] {
    use crate::{catalog, identity, inventory, ordering, payment};
    const ALL: &[Descriptor] = &[
        Descriptor::of::<identity::UserRegisteredV1>(),
        Descriptor::of::<identity::UserLockedV1>(),
        Descriptor::of::<identity::UserUnlockedV1>(),
        Descriptor::of::<identity::UserWithdrawnV1>(),
        Descriptor::of::<catalog::ProductCreatedV1>(),
        Descriptor::of::<catalog::ProductPriceChangedV1>(),
        Descriptor::of::<catalog::ProductDiscontinuedV1>(),
        Descriptor::of::<catalog::ProductReactivatedV1>(),
        Descriptor::of::<catalog::SkuCreatedV1>(),
        Descriptor::of::<catalog::SkuPriceChangedV1>(),
        Descriptor::of::<catalog::SkuDeactivatedV1>(),
        Descriptor::of::<inventory::StockReservedV1>(),
        Descriptor::of::<inventory::StockReservationFailedV1>(),
        Descriptor::of::<inventory::StockReleasedV1>(),
        Descriptor::of::<inventory::StockCommittedV1>(),
        Descriptor::of::<inventory::StockDepletedV1>(),
        Descriptor::of::<inventory::StockRestoredV1>(),
        Descriptor::of::<ordering::OrderPlacedV1>(),
        Descriptor::of::<ordering::OrderConfirmedV1>(),
        Descriptor::of::<ordering::OrderCancelledV1>(),
        Descriptor::of::<ordering::OrderRefundRequestedV1>(),
        Descriptor::of::<ordering::OrderRefundedV1>(),
        Descriptor::of::<payment::PaymentAuthorizedV1>(),
        Descriptor::of::<payment::PaymentDeclinedV1>(),
        Descriptor::of::<payment::PaymentCapturedV1>(),
        Descriptor::of::<payment::PaymentVoidedV1>(),
        Descriptor::of::<payment::PaymentRefundedV1>(),
        Descriptor::of::<payment::PaymentRefundFailedV1>(),
    ];
    ALL
}

/// The registry entry of an event type name.
pub fn describe(event_type: &str) -> Option<&'static Descriptor> {
    registry().iter().find(|descriptor| descriptor.name == event_type)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudevents::{EventBuilder, EventBuilderV10};
    use serde_json::json;

    use crate::inventory::StockReservationFailedV1;
    use crate::ordering::{OrderCancelledV1, OrderPlacedV1};
    use crate::payment::{PaymentAuthorizedV1, PaymentDeclinedV1};

    crate::one_of! {
        /// A consumer's view of the saga's failures.
        enum Failure {
            ReservationFailed(StockReservationFailedV1),
            Declined(PaymentDeclinedV1),
        }
    }

    /// An event as its producer writes it: the source names the context of its topic.
    fn event(event_type: &str, data: serde_json::Value) -> Event {
        let context = describe(event_type).map_or("test", |descriptor| descriptor.topic.context);
        from(&format!("commerce/{context}/test"), event_type, data)
    }

    fn from(source: &str, event_type: &str, data: serde_json::Value) -> Event {
        EventBuilderV10::new()
            .id("e-1")
            .ty(event_type)
            .source(source)
            .data("application/json", data)
            .build()
            .expect("event")
    }

    #[test]
    fn every_type_name_is_unique_ends_in_its_version_and_names_its_topic() {
        for descriptor in registry() {
            assert_eq!(
                registry()
                    .iter()
                    .filter(|other| other.name == descriptor.name)
                    .count(),
                1,
                "{}",
                descriptor.name
            );
            assert!(
                descriptor.name.ends_with(&format!(".v{}", descriptor.version)),
                "{} is not version {}",
                descriptor.name,
                descriptor.version
            );
            assert!(
                crate::topics::ALL.contains(&descriptor.topic),
                "{}",
                descriptor.name
            );
            // Catalog's first events kept their older names, `commerce.product.<fact>.v1`.
            let legacy = descriptor.name.starts_with("commerce.product.");
            assert!(
                legacy
                    || descriptor
                        .name
                        .starts_with(&format!("{}.", descriptor.topic.name)),
                "{} is not on {}",
                descriptor.name,
                descriptor.topic.name
            );
        }
    }

    #[test]
    fn a_payload_decodes_only_from_its_own_type() {
        let data = json!({"orderId": "o-1", "userId": "u-1", "reason": "payment-declined"});
        let read = OrderCancelledV1::decode(&event(OrderCancelledV1::NAME, data.clone())).expect("sound");
        assert_eq!(read.map(|cancelled| cancelled.order_id), Some("o-1".to_owned()));
        assert!(
            OrderPlacedV1::decode(&event(OrderCancelledV1::NAME, data))
                .expect("not an error")
                .is_none()
        );
    }

    #[test]
    fn an_accepted_type_with_bad_data_is_an_error_naming_the_type() {
        let error =
            OrderPlacedV1::decode(&event(OrderPlacedV1::NAME, json!({"orderId": 7}))).expect_err("bad data");
        assert!(error.to_string().starts_with(OrderPlacedV1::NAME), "{error}");
    }

    #[test]
    fn an_event_that_claims_another_producer_is_refused_naming_the_owner() {
        let data = json!({"orderId": "o-1", "paymentId": "p-1", "amountMinor": 100, "currency": "EUR",
                          "authorizationId": "a-1"});
        for forged in [
            "commerce/ordering/confirm-order",
            "commerce/paymentx/f",
            "commerce/payment/",
            "payment",
        ] {
            let error = PaymentAuthorizedV1::decode(&from(forged, PaymentAuthorizedV1::NAME, data.clone()))
                .expect_err(forged);
            assert!(
                error.to_string().contains("produced only by the payment context"),
                "{forged}: {error}"
            );
        }
        for genuine in ["commerce/payment", "commerce/payment/authorize-payment"] {
            let read = PaymentAuthorizedV1::decode(&from(genuine, PaymentAuthorizedV1::NAME, data.clone()));
            assert!(matches!(read, Ok(Some(_))), "{genuine}: {read:?}");
        }
    }

    #[test]
    fn one_of_reads_each_of_its_types_and_ignores_the_rest() {
        let declined = event(
            PaymentDeclinedV1::NAME,
            json!({"orderId": "o-1", "paymentId": "p-1", "reason": "declined"}),
        );
        assert!(matches!(
            Failure::decode(&declined),
            Ok(Some(Failure::Declined(_)))
        ));
        let failed = event(
            StockReservationFailedV1::NAME,
            json!({"orderId": "o-2", "shortLines": [{"sku": "cup", "requested": 2, "available": 0}]}),
        );
        assert!(matches!(
            Failure::decode(&failed),
            Ok(Some(Failure::ReservationFailed(_)))
        ));
        assert!(matches!(
            Failure::decode(&event(OrderPlacedV1::NAME, json!({}))),
            Ok(None)
        ));
        assert!(Failure::accepts(PaymentDeclinedV1::NAME) && !Failure::accepts(OrderPlacedV1::NAME));
    }
}
