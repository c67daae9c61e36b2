//! The CloudEvent ⇄ Kafka record codec (`events::kafka`), fed the headers and value of a
//! record in the [`message`](crate::message) framing.
//!
//! What must hold for any record, however malformed:
//!
//! - `decode` answers, never panics;
//! - an accepted event is a CloudEvents 1.0 event with a non-empty id, source and type and no
//!   empty subject (the module's rules);
//! - an accepted event survives being produced again: `encode_binary` then `decode` gives the
//!   same attributes, extensions (as text) and data bytes, and encoding that is stable. The
//!   dispatcher's replay and dead-letter paths re-produce what they consumed, so a record the
//!   codec accepts but cannot write back would be lost there;
//! - the record key is the `partitionkey` extension.

use cloudevents::event::SpecVersion;
use cloudevents::{AttributesReader, Data, Event};
use events::envelope::partition_key;
use events::kafka::{Header, decode, encode_binary};

use crate::message::{Message, header};

pub fn kafka_record(input: &[u8]) {
    let message = Message::parse(input);
    let headers: Vec<Header> = message
        .lines
        .iter()
        .map(|line| {
            let (name, value) = header(line);
            Header {
                key: String::from_utf8_lossy(name).into_owned(),
                value: value.map(<[u8]>::to_vec),
            }
        })
        .collect();

    let Ok(event) = decode(&headers, message.body) else {
        return;
    };

    assert_eq!(event.specversion(), SpecVersion::V10, "{event:?}");
    assert!(!event.id().is_empty(), "an empty id was accepted: {event:?}");
    assert!(
        !event.source().is_empty(),
        "an empty source was accepted: {event:?}"
    );
    assert!(!event.ty().is_empty(), "an empty type was accepted: {event:?}");
    assert!(
        event.subject().is_none_or(|subject| !subject.is_empty()),
        "an empty subject was accepted: {event:?}"
    );

    let record = encode_binary(&event);
    let again = decode(&record.headers, record.payload.as_deref()).unwrap_or_else(|error| {
        panic!("an accepted event does not decode once produced again: {error}\n{event:?}\n{record:?}")
    });
    assert_same_event(&event, &again);
    assert_eq!(
        encode_binary(&again),
        record,
        "producing the event again changed the record"
    );
    assert_eq!(record.key, partition_key(&event).map(String::into_bytes));
}

fn assert_same_event(original: &Event, again: &Event) {
    assert_eq!(again.id(), original.id());
    assert_eq!(again.source(), original.source());
    assert_eq!(again.ty(), original.ty());
    assert_eq!(again.subject(), original.subject());
    assert_eq!(again.time(), original.time(), "{original:?}");
    assert_eq!(again.dataschema(), original.dataschema(), "{original:?}");
    assert_eq!(
        again.datacontenttype(),
        original.datacontenttype(),
        "{original:?}"
    );
    assert_eq!(extensions(again), extensions(original), "{original:?}");
    assert_eq!(data_bytes(again), data_bytes(original), "{original:?}");
}

/// Extensions by name, as the text a header carries.
fn extensions(event: &Event) -> Vec<(String, String)> {
    let mut extensions: Vec<(String, String)> = event
        .iter_extensions()
        .map(|(name, value)| (name.to_owned(), value.to_string()))
        .collect();
    extensions.sort();
    extensions
}

/// The data as the bytes `encode_binary` puts in the record value.
fn data_bytes(event: &Event) -> Option<Vec<u8>> {
    event.data().map(|data| match data {
        Data::Binary(bytes) => bytes.clone(),
        Data::String(text) => text.clone().into_bytes(),
        Data::Json(value) => value.to_string().into_bytes(),
    })
}
