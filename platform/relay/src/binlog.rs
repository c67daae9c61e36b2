//! The binlog stream and its decoder: raw events in, [`StreamEvent`]s out.
//!
//! `mysql_async` streams the binlog but speaks MySQL; four MariaDB pieces are added here
//! (ADR 0006): `@mariadb_slave_capability=4` so the server sends real GTID events,
//! `@slave_connect_state` to resume by GTID (the crate's `with_gtid()` sends a MySQL-only
//! command), a parser for MariaDB's GTID event, and the CRC of the first, artificial ROTATE,
//! which the crate leaves in the file name because it arrives before any format description.
//!
//! Every event's CRC32 is verified (the crate strips checksums without checking them), and
//! every event type is classified explicitly: a type the relay does not know is an error, not
//! something to skip, since a new or compressed row event would otherwise lose outbox rows
//! silently.

use std::collections::BTreeSet;

use mysql_async::binlog::BinlogChecksumAlg;
use mysql_async::binlog::events::{Event, QueryEvent, RowsEventData, TableMapEvent};
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest, Conn, Opts};

use crate::error::RelayError;
use crate::gtid::{Gtid, GtidPosition};
use crate::outbox::OutboxRow;

/// Raw event type codes (MySQL's common ones and MariaDB's from 160 on).
mod code {
    pub const QUERY: u8 = 2;
    pub const STOP: u8 = 3;
    pub const ROTATE: u8 = 4;
    pub const INTVAR: u8 = 5;
    pub const RAND: u8 = 13;
    pub const USER_VAR: u8 = 14;
    pub const FORMAT_DESCRIPTION: u8 = 15;
    pub const XID: u8 = 16;
    pub const TABLE_MAP: u8 = 19;
    pub const WRITE_ROWS_V1: u8 = 23;
    pub const UPDATE_ROWS_V1: u8 = 24;
    pub const DELETE_ROWS_V1: u8 = 25;
    pub const HEARTBEAT: u8 = 27;
    pub const WRITE_ROWS_V2: u8 = 30;
    pub const UPDATE_ROWS_V2: u8 = 31;
    pub const DELETE_ROWS_V2: u8 = 32;
    pub const XA_PREPARE: u8 = 38;
    pub const TRANSACTION_PAYLOAD: u8 = 40;
    pub const ANNOTATE_ROWS: u8 = 160;
    pub const BINLOG_CHECKPOINT: u8 = 161;
    pub const MARIADB_GTID: u8 = 162;
    pub const GTID_LIST: u8 = 163;
    pub const QUERY_COMPRESSED: u8 = 165;
    pub const DELETE_ROWS_COMPRESSED_V2: u8 = 171;
}

/// Flags of a MariaDB GTID event (`log_event.h`).
pub mod gtid_flags {
    /// A DDL or non-transactional statement: the group is that one QUERY, without COMMIT.
    pub const STANDALONE: u8 = 1;
    pub const GROUP_COMMIT_ID: u8 = 2;
    pub const PREPARED_XA: u8 = 64;
    pub const COMPLETED_XA: u8 = 128;
}

/// What the decoder made of one binlog event.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The binlog file changed (the position within it restarts).
    Rotate { file: String },
    /// A transaction (event group) begins.
    Gtid { gtid: Gtid, flags: u8 },
    /// A statement: BEGIN, COMMIT, ROLLBACK, DDL, or statement-logged DML.
    Query { schema: String, query: String },
    /// An InnoDB transaction committed.
    Xid,
    /// Rows inserted into an outbox table.
    OutboxInserts { table: String, rows: Vec<OutboxRow> },
    /// An XA transaction was prepared (its outcome comes in a later group).
    XaPrepare,
    /// The server is alive; nothing happened.
    Heartbeat,
    /// Anything that does not change what is published: format descriptions, table maps,
    /// annotations, other tables' rows, updates and deletes of the outbox (purges).
    Nothing,
}

/// A decoded event and where it ends in the binlog.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub event: StreamEvent,
    /// The end offset of the event in its file (the next event's start).
    pub log_pos: u32,
    /// When the server wrote it (seconds since the epoch).
    pub timestamp: u32,
}

/// The outbox tables the relay publishes: `<schema>.outbox` for each context schema.
#[derive(Debug, Clone)]
pub struct OutboxTables {
    schemas: BTreeSet<String>,
}

/// The name of the outbox table in every context schema.
pub const OUTBOX_TABLE: &str = "outbox";

impl OutboxTables {
    pub fn new<I, S>(schemas: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            schemas: schemas.into_iter().map(Into::into).collect(),
        }
    }

    pub fn is_outbox(&self, schema: &str, table: &str) -> bool {
        table == OUTBOX_TABLE && self.schemas.contains(schema)
    }

    /// Whether a statement could change an outbox table: see [`OutboxTables::touched_outbox`].
    pub fn statement_touches_outbox(&self, default_schema: &str, query: &str) -> bool {
        self.touched_outbox(default_schema, query).is_some()
    }

    /// Which outbox a statement could change, if any: it names a table `outbox` and either
    /// runs in a context schema or names one, or it drops a context schema. Deliberately
    /// broad — a false alarm stops the relay for an operator to look; a miss loses events.
    /// The answer names the table as precisely as the text allows, for the operator.
    pub fn touched_outbox(&self, default_schema: &str, query: &str) -> Option<TouchedOutbox> {
        let words = identifier_words(query);
        // Privileges change who may write, never what a row or the table looks like
        // (provisioning grants the relay DELETE on every outbox on each `up`).
        if words
            .first()
            .is_some_and(|word| matches!(word.as_str(), "grant" | "revoke"))
        {
            return None;
        }
        if let Some(schema) = self.dropped_context_schema(&words) {
            return Some(TouchedOutbox::Schema { schema });
        }
        if !words.iter().any(|word| word == OUTBOX_TABLE) {
            return None;
        }
        // `schema.outbox`, also as the start of a column reference `schema.outbox.id`.
        let qualified = qualified_names(query).into_iter().find_map(|name| {
            let mut parts = name.split('.');
            let (schema, table) = (parts.next()?, parts.next()?);
            (table == OUTBOX_TABLE && self.schemas.contains(schema)).then(|| schema.to_owned())
        });
        if let Some(schema) = qualified {
            return Some(TouchedOutbox::Table { schema });
        }
        if self.schemas.contains(default_schema) {
            return Some(TouchedOutbox::Table {
                schema: default_schema.to_owned(),
            });
        }
        let named_schema = words.iter().find(|word| self.schemas.contains(word.as_str()))?;
        Some(TouchedOutbox::Unclear {
            named_schema: named_schema.clone(),
        })
    }

    /// The context schema a `DROP DATABASE|SCHEMA [IF EXISTS] name` removes.
    fn dropped_context_schema(&self, words: &[String]) -> Option<String> {
        words.windows(2).enumerate().find_map(|(index, pair)| {
            if pair[0] != "drop" || !matches!(pair[1].as_str(), "database" | "schema") {
                return None;
            }
            let rest = &words[index + 2..];
            let name = match rest {
                [if_word, exists, name, ..] if if_word == "if" && exists == "exists" => name,
                [name, ..] => name,
                [] => return None,
            };
            self.schemas.contains(name).then(|| name.clone())
        })
    }
}

/// What a statement that touches an outbox changes, as precisely as its text tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TouchedOutbox {
    /// `<schema>.outbox`, named with its schema or run in that schema.
    Table { schema: String },
    /// A context schema dropped whole.
    Schema { schema: String },
    /// The statement names a table `outbox` and a context schema, but not together.
    Unclear { named_schema: String },
}

impl std::fmt::Display for TouchedOutbox {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Table { schema } => write!(formatter, "{schema}.{OUTBOX_TABLE}"),
            Self::Schema { schema } => write!(formatter, "the whole {schema} schema"),
            Self::Unclear { named_schema } => write!(
                formatter,
                "a table {OUTBOX_TABLE} (the statement also names schema {named_schema})"
            ),
        }
    }
}

/// The dotted names of a statement (`schema.table`), lowercase, without backticks, with the
/// spaces SQL allows around the dot removed; comments and literals left out.
fn qualified_names(query: &str) -> Vec<String> {
    let text = without_comments_and_literals(query).replace('`', "");
    let mut joined = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '.' {
            while joined.ends_with(char::is_whitespace) {
                joined.pop();
            }
            joined.push('.');
            while chars.peek().is_some_and(|next| next.is_whitespace()) {
                chars.next();
            }
        } else {
            joined.push(c);
        }
    }
    joined
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$' || c == '.'))
        .filter(|name| name.contains('.'))
        .map(str::to_ascii_lowercase)
        .collect()
}

/// The lowercase identifier-like words of a statement, backticks removed. Comments and
/// single-quoted literals are left out first: a migration file sent whole carries prose such
/// as "the inventory context's outbox", which names no table. Executable comments
/// (`/*! ... */`, `/*M! ... */`) run on the server, so their text is kept.
fn identifier_words(query: &str) -> Vec<String> {
    without_comments_and_literals(query)
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
        .filter(|word| !word.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// The statement with its comments and single-quoted literals replaced by spaces.
fn without_comments_and_literals(query: &str) -> String {
    let mut kept = String::with_capacity(query.len());
    let mut chars = query.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                // A literal ends at an unescaped quote; '' and \' are escaped quotes.
                while let Some(inner) = chars.next() {
                    match inner {
                        '\\' => {
                            chars.next();
                        }
                        '\'' if chars.peek() == Some(&'\'') => {
                            chars.next();
                        }
                        '\'' => break,
                        _ => {}
                    }
                }
                kept.push(' ');
            }
            '#' => {
                chars.by_ref().find(|&inner| inner == '\n');
                kept.push(' ');
            }
            '-' if chars.peek() == Some(&'-') => {
                let mut lookahead = chars.clone();
                lookahead.next();
                // MariaDB needs a space, a control character or the end after `--`.
                if lookahead
                    .peek()
                    .is_none_or(|next| next.is_whitespace() || next.is_control())
                {
                    chars.by_ref().find(|&inner| inner == '\n');
                    kept.push(' ');
                } else {
                    kept.push(c);
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut lookahead = chars.clone();
                let first = lookahead.next();
                let executable = first == Some('!') || first == Some('M') && lookahead.next() == Some('!');
                if executable {
                    kept.push(' ');
                    continue;
                }
                let mut previous = ' ';
                for inner in chars.by_ref() {
                    if previous == '*' && inner == '/' {
                        break;
                    }
                    previous = inner;
                }
                kept.push(' ');
            }
            _ => kept.push(c),
        }
    }
    kept
}

/// How to open the stream.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// The CDC account (REPLICATION SLAVE, BINLOG MONITOR).
    pub url: String,
    /// The replica server id this reader registers with; must differ from every other
    /// replica's, or the server drops the older connection with the same id.
    pub server_id: u32,
    /// How often the server sends a heartbeat when the binlog is quiet.
    pub heartbeat: std::time::Duration,
}

/// The server's current binlog position (`@@gtid_binlog_pos`). Needs no privilege.
pub async fn current_position(url: &str) -> Result<GtidPosition, RelayError> {
    let mut conn = Conn::new(Opts::from_url(url).map_err(mysql_async::Error::from)?).await?;
    let text: Option<String> = conn.query_first("SELECT @@GLOBAL.gtid_binlog_pos").await?;
    conn.disconnect().await?;
    GtidPosition::parse(text.as_deref().unwrap_or_default())
        .map_err(|reason| RelayError::Unexpected(anyhow::anyhow!("@@gtid_binlog_pos: {reason}")))
}

/// Opens the binlog stream just after `position`.
pub async fn open(settings: &StreamSettings, position: &GtidPosition) -> Result<BinlogStream, RelayError> {
    let opts = Opts::from_url(&settings.url).map_err(mysql_async::Error::from)?;
    let mut conn = Conn::new(opts).await?;
    // Without capability 4 the server replaces MariaDB GTID events with dummies.
    conn.query_drop("SET @mariadb_slave_capability=4").await?;
    let heartbeat_ns = u64::try_from(settings.heartbeat.as_nanos()).unwrap_or(u64::MAX);
    conn.query_drop(format!("SET @master_heartbeat_period={heartbeat_ns}"))
        .await?;
    // The position is our own text (digits, '-' and ','), never user input.
    conn.query_drop(format!("SET @slave_connect_state='{position}'"))
        .await?;
    // Strict: a GTID the server does not have is an error (1236), never a silent skip.
    conn.query_drop("SET @slave_gtid_strict_mode=1").await?;
    conn.query_drop("SET @slave_gtid_ignore_duplicates=0").await?;
    // With a connect state set the server ignores file and offset; an empty file is the
    // documented way to say "by GTID".
    let request = BinlogStreamRequest::new(settings.server_id)
        .with_filename(b"")
        .with_pos(4_u64);
    Ok(conn.get_binlog_stream(request).await?)
}

/// Where the decoder finds the table map a rows event refers to: the live stream keeps the
/// maps it has seen; the fuzz targets keep their own (fuzz/harness).
pub trait TableMaps {
    fn table_map(&self, table_id: u64) -> Option<&TableMapEvent<'static>>;
}

impl TableMaps for BinlogStream {
    fn table_map(&self, table_id: u64) -> Option<&TableMapEvent<'static>> {
        self.get_tme(table_id)
    }
}

/// Decodes one event. `table_maps` provides the table maps seen so far.
pub fn decode(
    event: &Event,
    table_maps: &impl TableMaps,
    tables: &OutboxTables,
) -> Result<Decoded, RelayError> {
    let header = event.header();
    let event_type = header.event_type_raw();
    let log_pos = header.log_pos();
    let decoded = |event| {
        Ok(Decoded {
            event,
            log_pos,
            timestamp: header.timestamp(),
        })
    };
    let undecodable = |reason: String| RelayError::UndecodableEvent {
        event_type,
        log_pos,
        reason,
    };

    let fake_rotate = event_type == code::ROTATE && event.checksum().is_none();
    if !fake_rotate {
        verify_checksum(event)?;
    }

    match event_type {
        code::ROTATE => decoded(StreamEvent::Rotate {
            file: rotate_file_name(event, fake_rotate).map_err(undecodable)?,
        }),
        code::MARIADB_GTID => {
            decoded(parse_mariadb_gtid(header.server_id(), event.data()).map_err(undecodable)?)
        }
        code::QUERY => {
            let query: QueryEvent<'_> = event
                .read_event()
                .map_err(|error| undecodable(error.to_string()))?;
            decoded(StreamEvent::Query {
                schema: query.schema().into_owned(),
                query: query.query().into_owned(),
            })
        }
        code::XID => decoded(StreamEvent::Xid),
        code::XA_PREPARE => decoded(StreamEvent::XaPrepare),
        code::HEARTBEAT => decoded(StreamEvent::Heartbeat),
        code::WRITE_ROWS_V1 | code::WRITE_ROWS_V2 => decoded(
            outbox_inserts(event, table_maps, tables).map_err(|error| match error {
                DecodeRowsError::Relay(error) => error,
                DecodeRowsError::Io(reason) => undecodable(reason),
            })?,
        ),
        code::UPDATE_ROWS_V1 | code::DELETE_ROWS_V1 | code::UPDATE_ROWS_V2 | code::DELETE_ROWS_V2 => {
            decoded(StreamEvent::Nothing)
        }
        code::STOP
        | code::INTVAR
        | code::RAND
        | code::USER_VAR
        | code::FORMAT_DESCRIPTION
        | code::TABLE_MAP
        | code::ANNOTATE_ROWS
        | code::BINLOG_CHECKPOINT
        | code::GTID_LIST => decoded(StreamEvent::Nothing),
        code::TRANSACTION_PAYLOAD | code::QUERY_COMPRESSED..=code::DELETE_ROWS_COMPRESSED_V2 => {
            Err(RelayError::CompressedEvent { event_type, log_pos })
        }
        _ => Err(RelayError::UnknownEvent { event_type, log_pos }),
    }
}

enum DecodeRowsError {
    Relay(RelayError),
    Io(String),
}

fn outbox_inserts(
    event: &Event,
    table_maps: &impl TableMaps,
    tables: &OutboxTables,
) -> Result<StreamEvent, DecodeRowsError> {
    let io = |error: std::io::Error| DecodeRowsError::Io(error.to_string());
    let Some(mysql_async::binlog::events::EventData::RowsEvent(rows_event)) =
        event.read_data().map_err(io)?
    else {
        return Err(DecodeRowsError::Io("not a rows event".to_owned()));
    };
    let table_id = rows_event.table_id();
    let Some(table_map) = table_maps.table_map(table_id) else {
        return Err(DecodeRowsError::Io(format!(
            "no table map for table id {table_id}"
        )));
    };
    let schema = table_map.database_name();
    let table_name = table_map.table_name();
    if !tables.is_outbox(&schema, &table_name) {
        return Ok(StreamEvent::Nothing);
    }
    let table = format!("{schema}.{table_name}");
    let mut rows = Vec::new();
    if let RowsEventData::WriteRowsEventV1(_) | RowsEventData::WriteRowsEvent(_) = rows_event {
        for row in rows_event.rows(table_map) {
            let (_, after) = row.map_err(io)?;
            let after =
                after.ok_or_else(|| DecodeRowsError::Io("an insert without an after image".to_owned()))?;
            rows.push(OutboxRow::from_binlog_row(&schema, &table, &after).map_err(DecodeRowsError::Relay)?);
        }
    }
    Ok(StreamEvent::OutboxInserts { table, rows })
}

/// Body of a MariaDB GTID event: sequence number (u64), domain (u32), flags (u8), then
/// optional parts the relay does not need. The server id is the event header's.
fn parse_mariadb_gtid(server: u32, body: &[u8]) -> Result<StreamEvent, String> {
    let (Some(sequence), Some(domain), Some(&flags)) = (
        body.get(0..8).and_then(|bytes| <[u8; 8]>::try_from(bytes).ok()),
        body.get(8..12).and_then(|bytes| <[u8; 4]>::try_from(bytes).ok()),
        body.get(12),
    ) else {
        return Err(format!("a GTID event of {} bytes is too short", body.len()));
    };
    Ok(StreamEvent::Gtid {
        gtid: Gtid {
            domain: u32::from_le_bytes(domain),
            server,
            sequence: u64::from_le_bytes(sequence),
        },
        flags,
    })
}

/// The file name of a ROTATE event. The artificial first one arrives before the format
/// description, so `mysql_common` did not strip its CRC: check it and strip it here.
fn rotate_file_name(event: &Event, may_carry_checksum: bool) -> Result<String, String> {
    let data = event.data();
    let mut name = data.get(8..).ok_or("a ROTATE event without a position")?;
    if may_carry_checksum && name.len() >= 4 {
        let (body, trailer) = data.split_at(data.len() - 4);
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&header_bytes(event));
        hasher.update(body);
        if trailer == hasher.finalize().to_le_bytes() {
            name = &name[..name.len() - 4];
        }
    }
    String::from_utf8(name.to_vec()).map_err(|_| "a binlog file name that is not UTF-8".to_owned())
}

/// The 19 header bytes as they were on the wire (v4 layout, little endian).
fn header_bytes(event: &Event) -> Vec<u8> {
    let header = event.header();
    let mut bytes = Vec::with_capacity(19);
    bytes.extend_from_slice(&header.timestamp().to_le_bytes());
    bytes.push(header.event_type_raw());
    bytes.extend_from_slice(&header.server_id().to_le_bytes());
    bytes.extend_from_slice(&header.event_size().to_le_bytes());
    bytes.extend_from_slice(&header.log_pos().to_le_bytes());
    bytes.extend_from_slice(&header.flags_raw().to_le_bytes());
    bytes
}

fn verify_checksum(event: &Event) -> Result<(), RelayError> {
    let header = event.header();
    let Some(stored) = event.checksum() else {
        // The preflight requires binlog_checksum=CRC32, so every event after the format
        // description carries one.
        return Err(RelayError::BadChecksum {
            event_type: header.event_type_raw(),
            log_pos: header.log_pos(),
        });
    };
    if event.calc_checksum(BinlogChecksumAlg::BINLOG_CHECKSUM_ALG_CRC32) != u32::from_le_bytes(stored) {
        return Err(RelayError::BadChecksum {
            event_type: header.event_type_raw(),
            log_pos: header.log_pos(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contexts() -> OutboxTables {
        OutboxTables::new(["identity", "catalog", "inventory", "ordering", "payment"])
    }

    #[test]
    fn statements_naming_an_outbox_table_of_a_context_are_caught() {
        let tables = contexts();
        assert!(tables.statement_touches_outbox("ordering", "INSERT INTO outbox VALUES (1)"));
        assert!(tables.statement_touches_outbox("", "insert into `ordering`.`outbox` values (1)"));
        assert!(tables.statement_touches_outbox("ordering", "ALTER TABLE `outbox` ADD COLUMN x INT"));
        assert!(tables.statement_touches_outbox("mysql", "TRUNCATE payment.outbox"));
        assert!(tables.statement_touches_outbox("", "DROP DATABASE ordering"));
        assert!(tables.statement_touches_outbox("", "DROP SCHEMA IF EXISTS `ordering`"));
        // Executable comments run on the server; a `--` without a space is a minus sign.
        assert!(tables.statement_touches_outbox("", "/*!40000 ALTER TABLE ordering.outbox DISABLE KEYS */"));
        assert!(tables.statement_touches_outbox("", "/*M!100101 ALTER TABLE ordering.outbox FORCE */"));
        assert!(tables.statement_touches_outbox("ordering", "ALTER TABLE outbox ADD x INT DEFAULT 1--1"));
        assert!(tables.statement_touches_outbox("ordering", "-- a note\nALTER TABLE outbox FORCE"));
    }

    #[test]
    fn statements_elsewhere_are_left_alone() {
        let tables = contexts();
        assert!(!tables.statement_touches_outbox("ordering", "BEGIN"));
        assert!(!tables.statement_touches_outbox("ordering", "CREATE TABLE product_price (id INT)"));
        assert!(!tables.statement_touches_outbox("scratch", "CREATE TABLE outbox (id INT)"));
        assert!(!tables.statement_touches_outbox("ordering", "CREATE TABLE outbox_archive (id INT)"));
        // A migration sent whole to a scratch schema: its prose names a context and the outbox.
        let migration = "-- The inventory context's transactional outbox.\n# inventory outbox\n\
                         /* ordering.outbox too */ CREATE TABLE outbox (id INT COMMENT 'payment outbox')";
        assert!(!tables.statement_touches_outbox("inventory_test_5e2f", migration));
    }

    #[test]
    fn the_touched_outbox_is_named_with_its_schema() {
        let tables = contexts();
        let named = |default: &str, query: &str| {
            tables
                .touched_outbox(default, query)
                .map(|touched| touched.to_string())
        };
        assert_eq!(
            named("", "INSERT INTO ordering.outbox (id) VALUES ('x')").as_deref(),
            Some("ordering.outbox")
        );
        assert_eq!(
            named("", "insert into `payment` . `outbox` values (1)").as_deref(),
            Some("payment.outbox")
        );
        assert_eq!(
            named("inventory", "ALTER TABLE outbox FORCE").as_deref(),
            Some("inventory.outbox")
        );
        assert_eq!(
            named("", "DROP DATABASE IF EXISTS catalog").as_deref(),
            Some("the whole catalog schema")
        );
        assert_eq!(
            named(
                "scratch",
                "INSERT INTO outbox SELECT * FROM ordering.product_price"
            )
            .as_deref(),
            Some("a table outbox (the statement also names schema ordering)")
        );
        assert_eq!(
            named("", "DELETE FROM x USING inventory.outbox.id").as_deref(),
            Some("inventory.outbox")
        );
        assert_eq!(named("", "INSERT INTO ordering.product_price VALUES (1)"), None);
    }

    #[test]
    fn a_mariadb_gtid_event_body_is_parsed() {
        let mut body = 21_u64.to_le_bytes().to_vec();
        body.extend_from_slice(&3_u32.to_le_bytes());
        body.push(gtid_flags::STANDALONE);
        assert_eq!(
            parse_mariadb_gtid(7, &body),
            Ok(StreamEvent::Gtid {
                gtid: Gtid {
                    domain: 3,
                    server: 7,
                    sequence: 21
                },
                flags: gtid_flags::STANDALONE
            })
        );
        assert!(parse_mariadb_gtid(7, &body[..12]).is_err());
    }
}
