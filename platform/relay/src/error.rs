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
        "{kind} on {table} in transaction {} at binlog position {log_pos} ({}): {query}; \
         the relay reads only row events, so it cannot tell what this changed. {} (README, \
         Troubleshooting)",
        transaction_label(.gtid),
        default_schema_label(.schema),
        operator_step(.kind)
    )]
    StatementOnOutbox {
        kind: &'static str,
        /// What the statement changes: `ordering.outbox`, or a dropped schema.
        table: String,
        /// The statement's default schema (`USE`), often empty.
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
    #[error(
        "the XA transaction {} writes outbox rows; XA is not supported for outbox writers",
        transaction_label(.gtid)
    )]
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

/// A transaction for messages: its GTID, or a word when the stream had not named one yet.
fn transaction_label(gtid: &Option<Gtid>) -> String {
    gtid.map_or_else(|| "(unknown)".to_owned(), |gtid| gtid.to_string())
}

/// What an operator does about a statement on an outbox (docs/adr/0026).
fn operator_step(kind: &str) -> &'static str {
    match kind {
        "DDL" => "Review it, then move past it with `outbox-relay skip`",
        "statement-logged DML" => {
            "If it inserted rows, publish them in its place with `outbox-relay republish`; \
             otherwise review it and move past it with `outbox-relay skip`"
        }
        _ => "Review it, then move past it with `outbox-relay skip` or `outbox-relay republish`",
    }
}

fn default_schema_label(schema: &str) -> String {
    if schema.is_empty() {
        "no default schema".to_owned()
    } else {
        format!("default schema {schema}")
    }
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

    /// A short, stable name of the broken rule, for metrics and the health answer.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::WrongServerSettings(_) => "wrong-server-settings",
            Self::StatementOnOutbox { .. } => "statement-on-outbox",
            Self::CompressedEvent { .. } => "compressed-event",
            Self::UnknownEvent { .. } => "unknown-event",
            Self::BadChecksum { .. } => "bad-checksum",
            Self::UndecodableEvent { .. } => "undecodable-event",
            Self::MissingColumn { .. } => "missing-column",
            Self::InvalidColumn { .. } => "invalid-column",
            Self::XaTransaction { .. } => "xa-transaction",
            Self::RowsOutsideTransaction { .. } => "rows-outside-transaction",
            Self::StreamSilent(_) => "stream-silent",
            Self::StreamEnded => "stream-ended",
            Self::Binlog(_) => "binlog",
            Self::PositionStore(_) => "position-store",
            Self::Delivery { .. } => "delivery",
            Self::Connect(_) => "connect",
            Self::LockLost(_) => "lock-lost",
            Self::Unexpected(_) => "unexpected",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_on_an_outbox_names_the_table_and_the_transaction() {
        let error = RelayError::StatementOnOutbox {
            kind: "statement-logged DML",
            table: "ordering.outbox".to_owned(),
            schema: String::new(),
            query: "INSERT INTO ordering.outbox (id) VALUES ('x')".to_owned(),
            gtid: Some(Gtid {
                domain: 0,
                server: 1,
                sequence: 42,
            }),
            log_pos: 1_234,
        };
        let message = error.to_string();
        assert!(
            message.starts_with(
                "statement-logged DML on ordering.outbox in transaction 0-1-42 at binlog position 1234 \
                 (no default schema): INSERT INTO ordering.outbox"
            ),
            "{message}"
        );
        assert!(
            message.contains("publish them in its place with `outbox-relay republish`"),
            "{message}"
        );
        let ddl = RelayError::StatementOnOutbox {
            kind: "DDL",
            table: "ordering.outbox".to_owned(),
            schema: "ordering".to_owned(),
            query: "ALTER TABLE outbox ADD COLUMN note TEXT".to_owned(),
            gtid: None,
            log_pos: 1_234,
        }
        .to_string();
        assert!(ddl.contains("(default schema ordering)"), "{ddl}");
        assert!(
            ddl.contains("move past it with `outbox-relay skip` (README"),
            "{ddl}"
        );
    }

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
                table: "ordering.outbox".to_owned(),
                schema: "ordering".to_owned(),
                query: "ALTER TABLE outbox".to_owned(),
                gtid: None,
                log_pos: 4
            }
            .is_transient()
        );
    }
}
