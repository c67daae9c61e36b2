//! The platform's conventions for the CloudEvent that wraps every payload, whatever carries it.
//!
//! Every platform event is a CloudEvents 1.0 event: `id` is the outbox row id, `type` names the
//! fact and its version (`commerce.ordering.order.placed.v1`), `source` is the producing
//! context and function (`commerce/ordering/place-order`), `subject` is the aggregate id, and
//! the data is JSON. The extension attributes below carry what the platform needs across hops:
//! the partition key, the W3C trace context, and the correlation and causation ids that tie a
//! saga together.
//!
//! Nothing here knows about Kafka or HTTP, so the Kafka codec, the Knative HTTP adapter and
//! the handlers all read events the same way.

use cloudevents::{Data, Event};
use serde::de::DeserializeOwned;

/// The aggregate id that orders the event: it is also the Kafka record key, so all events
/// of one aggregate land on one partition and stay in order.
pub const PARTITION_KEY: &str = "partitionkey";
/// The W3C `traceparent` of the span that produced the event.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C `tracestate` that goes with [`TRACEPARENT`].
pub const TRACESTATE: &str = "tracestate";
/// The id shared by every event of one business flow, such as one order's saga.
pub const CORRELATION_ID: &str = "correlationid";
/// The id of the event (or request) that directly caused this one.
pub const CAUSATION_ID: &str = "causationid";

/// Why an event's data could not be read as the JSON document a handler expects.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("the event carries no data")]
    NoData,
    #[error("the event data is not the expected JSON document: {0}")]
    NotTheExpectedJson(#[source] serde_json::Error),
}

/// The event's partition key, if it has one.
///
/// Producers set it as a string; an integer or boolean extension is rendered the way the
/// Kafka binding writes it to a header, so the key is the same on both sides of the wire.
pub fn partition_key(event: &Event) -> Option<String> {
    event.extension(PARTITION_KEY).map(ToString::to_string)
}

/// Reads the event's data as the JSON document `T`.
///
/// The same event reaches a handler holding its data in different shapes: parsed JSON when it
/// came in structured mode or was built in-process, raw bytes when it came from a Kafka record
/// in binary mode, text from some HTTP adapters. Handlers should not care which, so every
/// shape is accepted. The content type is not checked: the document either parses as `T` or
/// it does not.
pub fn data_json<T: DeserializeOwned>(event: &Event) -> Result<T, DataError> {
    let parsed = match event.data().ok_or(DataError::NoData)? {
        Data::Json(value) => T::deserialize(value),
        Data::Binary(bytes) => serde_json::from_slice(bytes),
        Data::String(text) => serde_json::from_str(text),
    };
    parsed.map_err(DataError::NotTheExpectedJson)
}

/// Whether `name` is a legal CloudEvents attribute name: lowercase ASCII letters and digits.
///
/// The specification also asks for at most 20 characters, but only as a recommendation, so
/// longer names are accepted rather than dead-lettering an otherwise sound event.
pub(crate) fn is_valid_attribute_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudevents::{EventBuilder, EventBuilderV10};
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, PartialEq, Deserialize)]
    struct OrderPlaced {
        order_id: String,
        total_minor_units: i64,
    }

    fn event_with_data(data: impl Into<Data>) -> Event {
        let mut event = test_event();
        event.set_data("application/json", data);
        event
    }

    fn test_event() -> Event {
        EventBuilderV10::new()
            .id("0192f0c4-7c1e-7000-8000-000000000001")
            .source("ordering")
            .ty("commerce.order.placed.v1")
            .build()
            .expect("a complete event")
    }

    #[test]
    fn json_data_reads_the_same_whether_it_is_parsed_bytes_or_text() {
        let expected = OrderPlaced {
            order_id: "order-1".to_owned(),
            total_minor_units: 4200,
        };
        let text = r#"{"order_id":"order-1","total_minor_units":4200}"#;
        let shapes = [
            Data::Json(json!({"order_id": "order-1", "total_minor_units": 4200})),
            Data::Binary(text.as_bytes().to_vec()),
            Data::String(text.to_owned()),
        ];

        for data in shapes {
            let read: OrderPlaced = data_json(&event_with_data(data.clone()))
                .unwrap_or_else(|error| panic!("{data:?} should read: {error}"));
            assert_eq!(read, expected);
        }
    }

    #[test]
    fn reading_json_from_an_event_without_data_says_there_is_none() {
        let error = data_json::<OrderPlaced>(&test_event()).expect_err("no data");
        assert!(matches!(error, DataError::NoData));
    }

    #[test]
    fn reading_json_of_the_wrong_shape_says_what_was_expected() {
        let event = event_with_data(json!({"order_id": 7}));
        let error = data_json::<OrderPlaced>(&event).expect_err("wrong shape");
        assert!(matches!(error, DataError::NotTheExpectedJson(_)));
        assert!(error.to_string().contains("expected a string"), "{error}");
    }

    #[test]
    fn the_partition_key_is_read_from_its_extension() {
        let mut event = test_event();
        assert_eq!(partition_key(&event), None);

        event.set_extension(PARTITION_KEY, "order-1");
        assert_eq!(partition_key(&event).as_deref(), Some("order-1"));

        event.set_extension(PARTITION_KEY, 42_i64);
        assert_eq!(partition_key(&event).as_deref(), Some("42"));
    }

    #[test]
    fn platform_extension_names_are_legal_cloudevents_attribute_names() {
        for name in [
            PARTITION_KEY,
            TRACEPARENT,
            TRACESTATE,
            CORRELATION_ID,
            CAUSATION_ID,
        ] {
            assert!(is_valid_attribute_name(name), "{name}");
            assert!(name.len() <= 20, "{name} is longer than recommended");
        }
    }

    #[test]
    fn attribute_names_with_capitals_or_punctuation_are_illegal() {
        for name in ["", "partitionKey", "trace_parent", "causation-id", "é"] {
            assert!(!is_valid_attribute_name(name), "{name:?}");
        }
    }
}
