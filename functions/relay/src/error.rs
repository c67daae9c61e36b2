//! Why the relay stopped.
//!
//! Every variant names the broken rule and where in the binlog it was met, because the
//! relay's answer to all of them is the same: stop without advancing the stored position, so
//! that nothing is skipped, and let an operator look.

use crate::gtid::Gtid;

/// A reason to stop relaying.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("the server settings do not allow binlog CDC: {0}; fix them (see docs/adr/0003) and start again")]
    WrongServerSettings(String),
    #[error(
        "{kind} on an outbox table at binlog position {log_pos} (transaction {gtid:?}, schema {schema:?}): {query}; \
         the relay sees only row events, so these rows would be lost"
    )]
    StatementOnOutbox {
        kind: &'static str,
        schema: String,
        query: String,
        gtid: Option<Gtid>,
        log_pos: u32,
    },
    #[error(
        "a compressed binlog event (type {event_type}) at binlog position {log_pos}; set log_bin_compress=OFF"
    )]
    CompressedEvent { event_type: u8, log_pos: u32 },
    #[error(
        "an unknown binlog event (type {event_type}) at binlog position {log_pos} could carry outbox rows"
    )]
    UnknownEvent { event_type: u8, log_pos: u32 },
    #[error("the binlog event (type {event_type}) at binlog position {log_pos} failed its CRC32 check")]
    BadChecksum { event_type: u8, log_pos: u32 },
    #[error("the binlog event (type {event_type}) at binlog position {log_pos} cannot be decoded: {reason}")]
    UndecodableEvent {
        event_type: u8,
        log_pos: u32,
        reason: String,
    },
    #[error("a row of {table} has no column {column:?}{hint}")]
    MissingColumn {
        table: String,
        column: &'static str,
        hint: &'static str,
    },
    #[error("the column {column:?} of a row of {table} is unreadable: {reason}")]
    InvalidColumn {
        table: String,
        column: &'static str,
        reason: String,
    },
    #[error("the XA transaction {gtid:?} writes outbox rows; XA is not supported for outbox writers")]
    XaTransaction { gtid: Option<Gtid> },
    #[error("outbox rows at binlog position {log_pos} arrived outside a transaction")]
    RowsOutsideTransaction { log_pos: u32 },
    #[error("no binlog event or heartbeat for {0:?}; the connection is presumed dead")]
    StreamSilent(std::time::Duration),
    #[error("the binlog stream ended")]
    StreamEnded,
    #[error("the binlog stream failed: {0}")]
    Binlog(#[from] mysql_async::Error),
    #[error("the position store failed: {0}")]
    PositionStore(#[source] sqlx::Error),
    #[error("Kafka did not accept event {event_id} for topic {topic}: {reason}")]
    Delivery {
        event_id: String,
        topic: String,
        reason: String,
    },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}
