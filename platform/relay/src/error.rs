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
    #[error("cannot reach the database: {0}")]
    Connect(String),
    #[error("the relay lock is no longer held ({0}); another relay may be active")]
    LockLost(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Server error codes after which reconnecting can help: the server is shutting down or
/// restarting, or killed the session.
const TRANSIENT_SERVER_CODES: &[u16] = &[1053, 1077, 1152, 1153, 1205, 1213, 1927, 2006, 2013];

impl RelayError {
    /// Whether starting again from the stored position can cure this: a lost connection to
    /// MariaDB or Kafka. Everything else needs an operator and stops the process.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::StreamSilent(_)
            | Self::StreamEnded
            | Self::Connect(_)
            | Self::LockLost(_)
            | Self::Delivery { .. } => true,
            Self::Binlog(error) => match error {
                mysql_async::Error::Server(server) => TRANSIENT_SERVER_CODES.contains(&server.code),
                mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => true,
                _ => false,
            },
            Self::PositionStore(error) => match error {
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
                sqlx::Error::Database(database) => database
                    .code()
                    .and_then(|code| code.parse::<u16>().ok())
                    .is_some_and(|code| TRANSIENT_SERVER_CODES.contains(&code)),
                _ => false,
            },
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_connections_are_retried_and_broken_rules_are_not() {
        assert!(RelayError::StreamSilent(std::time::Duration::from_secs(3)).is_transient());
        assert!(RelayError::Connect("refused".to_owned()).is_transient());
        assert!(RelayError::PositionStore(sqlx::Error::PoolTimedOut).is_transient());
        assert!(!RelayError::WrongServerSettings("binlog_format is MIXED".to_owned()).is_transient());
        assert!(
            !RelayError::CompressedEvent {
                event_type: 169,
                log_pos: 4
            }
            .is_transient()
        );
        assert!(
            !RelayError::StatementOnOutbox {
                kind: "DDL",
                schema: "ordering".to_owned(),
                query: "ALTER TABLE outbox".to_owned(),
                gtid: None,
                log_pos: 4
            }
            .is_transient()
        );
    }
}
