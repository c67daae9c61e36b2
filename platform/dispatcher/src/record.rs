//! An owned copy of a Kafka record: what the partition workers, the HTTP delivery and the
//! dead-letter producer pass around.
//!
//! Copying the record out of rdkafka's `BorrowedMessage` at once means no borrowed message
//! outlives the receive loop: one alive when its consumer is dropped makes librdkafka's
//! destruction wait forever (docs/adr/0004).

use rdkafka::Message;
use rdkafka::message::{BorrowedMessage, Headers};

use events::kafka::Header;

/// One consumed record, with everything needed to deliver or dead-letter it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch, when the broker or producer set one.
    pub timestamp_millis: Option<i64>,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    pub headers: Vec<Header>,
    /// Set when some headers could not be read (a key that is not UTF-8 makes rdkafka panic);
    /// such a record is dead-lettered as malformed instead of crashing the dispatcher.
    pub unreadable_headers: usize,
}

impl Record {
    pub fn from_message(message: &BorrowedMessage<'_>) -> Self {
        let mut headers = Vec::new();
        let mut unreadable_headers = 0;
        if let Some(borrowed) = message.headers() {
            for index in 0..borrowed.count() {
                // rdkafka 0.38 unwraps `CStr::to_str` on header keys; isolate that panic so
                // one odd record cannot take the whole consumer down.
                let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    borrowed.try_get(index).map(|header| Header {
                        key: header.key.to_owned(),
                        value: header.value.map(<[u8]>::to_vec),
                    })
                }));
                match read {
                    Ok(Some(header)) => headers.push(header),
                    Ok(None) | Err(_) => unreadable_headers += 1,
                }
            }
        }
        Self {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            timestamp_millis: message.timestamp().to_millis(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            headers,
            unreadable_headers,
        }
    }

    /// The record's key as text, for logs and key filters.
    pub fn key_text(&self) -> Option<String> {
        self.key
            .as_deref()
            .map(|key| String::from_utf8_lossy(key).into_owned())
    }
}
