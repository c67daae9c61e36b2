//! Reads the binlog from the relay's stored position to the transaction an operator names,
//! checking on the way that it is the one the relay stops at.
//!
//! Unlike the relay's assembler, the scan does not stop on what it cannot read: it notes it
//! against the transaction it belongs to, so the operator sees everything the transaction did.

use std::time::Duration;

use futures::StreamExt;
use mysql_async::BinlogStream;

use crate::binlog::{self, Decoded, OutboxTables, StreamEvent, TouchedOutbox, gtid_flags};
use crate::error::RelayError;
use crate::gtid::{Gtid, GtidPosition};
use crate::outbox::OutboxRow;

/// One transaction as the scan saw it.
#[derive(Debug, Clone)]
pub struct ScannedTransaction {
    pub gtid: Gtid,
    flags: u8,
    /// What it did to the outbox tables, in binlog order.
    pub parts: Vec<Part>,
    /// Events of it the relay cannot read, and other reasons it cannot pass.
    pub problems: Vec<String>,
    /// The binlog file and end offset of its last event.
    pub file: String,
    pub end_log_pos: u32,
}

/// Something a transaction did to an outbox.
#[derive(Debug, Clone)]
pub enum Part {
    /// Rows inserted, as row events carry them.
    Rows(Vec<OutboxRow>),
    /// A statement that touches an outbox, as logged.
    Statement(OutboxStatement),
}

/// A statement on an outbox, which the binlog carries as text.
#[derive(Debug, Clone)]
pub struct OutboxStatement {
    /// `statement-logged DML` or `DDL`.
    pub kind: &'static str,
    /// The statement's first word, uppercase (`INSERT`, `ALTER`, …).
    pub verb: String,
    pub touched: TouchedOutbox,
    pub default_schema: String,
    pub text: String,
}

impl std::fmt::Display for OutboxStatement {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} on {}: {}", self.kind, self.touched, self.text)
    }
}

impl ScannedTransaction {
    fn new(gtid: Gtid, flags: u8) -> Self {
        Self {
            gtid,
            flags,
            parts: Vec::new(),
            problems: Vec::new(),
            file: String::new(),
            end_log_pos: 0,
        }
    }

    pub fn rows(&self) -> impl Iterator<Item = &OutboxRow> {
        self.parts.iter().flat_map(|part| match part {
            Part::Rows(rows) => rows.as_slice(),
            Part::Statement(_) => &[],
        })
    }

    pub fn statements(&self) -> impl Iterator<Item = &OutboxStatement> {
        self.parts.iter().filter_map(|part| match part {
            Part::Statement(statement) => Some(statement),
            Part::Rows(_) => None,
        })
    }

    /// Why the relay cannot pass this transaction, or why it must publish it first; `None`
    /// when it has nothing to do with the outbox.
    fn holds_the_relay(&self) -> Option<String> {
        if let Some(problem) = self.problems.first() {
            return Some(problem.clone());
        }
        if let Some(statement) = self.statements().next() {
            return Some(statement.to_string());
        }
        let rows = self.rows().count();
        (rows > 0).then(|| {
            format!(
                "it has {rows} outbox rows that the relay has not stored as delivered; start the relay so \
                 that it publishes them and stops again where it cannot go on, then look again"
            )
        })
    }

    fn is_xa(&self) -> bool {
        self.flags & (gtid_flags::PREPARED_XA | gtid_flags::COMPLETED_XA) != 0
    }
}

/// What the scan found.
#[derive(Debug)]
pub enum Scanned {
    /// The transaction, and the position just past it.
    Found {
        transaction: ScannedTransaction,
        position_after: GtidPosition,
    },
    /// The relay stops at an earlier transaction, for the reason given.
    Earlier { transaction: Gtid, why: String },
    /// The binlog went past the transaction's place without it (a wrong server id in the
    /// GTID), or reached its end.
    Missing,
}

/// Reads `stream` (opened at `position`) until `target` has been read whole.
pub async fn find(
    stream: &mut BinlogStream,
    tables: &OutboxTables,
    mut position: GtidPosition,
    target: Gtid,
    server_at: &GtidPosition,
    silence: Duration,
) -> Result<Scanned, RelayError> {
    let mut file = String::new();
    let mut open: Option<ScannedTransaction> = None;
    loop {
        let event = match tokio::time::timeout(silence, stream.next()).await {
            Err(_) => return Err(RelayError::StreamSilent(silence)),
            Ok(None) => return Err(RelayError::StreamEnded),
            Ok(Some(event)) => event?,
        };
        let closed = match binlog::decode(&event, stream, tables) {
            Ok(Decoded {
                event: StreamEvent::Heartbeat,
                ..
            }) if open.is_none() && position.covers(server_at) => return Ok(Scanned::Missing),
            Ok(decoded) => step(&mut open, &mut file, decoded, tables)?,
            Err(error) => match open.as_mut() {
                Some(transaction) => {
                    transaction.problems.push(error.to_string());
                    None
                }
                None => return Err(error),
            },
        };
        let Some(transaction) = closed else { continue };
        if transaction.gtid == target {
            position.advance(target);
            return Ok(Scanned::Found {
                transaction,
                position_after: position,
            });
        }
        if transaction.gtid.domain == target.domain && transaction.gtid.sequence >= target.sequence {
            return Ok(Scanned::Missing);
        }
        if let Some(why) = transaction.holds_the_relay() {
            return Ok(Scanned::Earlier {
                transaction: transaction.gtid,
                why,
            });
        }
        position.advance(transaction.gtid);
    }
}

/// Feeds one decoded event; returns the transaction it closed, if any.
fn step(
    open: &mut Option<ScannedTransaction>,
    file: &mut String,
    decoded: Decoded,
    tables: &OutboxTables,
) -> Result<Option<ScannedTransaction>, RelayError> {
    let Decoded { event, log_pos, .. } = decoded;
    let close = |open: &mut Option<ScannedTransaction>, file: &str| {
        open.take().map(|mut transaction| {
            transaction.file = file.to_owned();
            transaction.end_log_pos = log_pos;
            transaction
        })
    };
    match event {
        StreamEvent::Rotate { file: name } => {
            *file = name;
            Ok(None)
        }
        StreamEvent::Gtid { gtid, flags } => {
            // A group never spans another GTID; one still open here was cut short.
            let cut = open.replace(ScannedTransaction::new(gtid, flags));
            Ok(cut.map(|mut transaction| {
                transaction
                    .problems
                    .push("the transaction was not closed before the next one began".to_owned());
                transaction
            }))
        }
        StreamEvent::OutboxInserts { rows, .. } => {
            let Some(transaction) = open.as_mut() else {
                return Err(RelayError::RowsOutsideTransaction { log_pos });
            };
            if transaction.is_xa() && !rows.is_empty() {
                transaction
                    .problems
                    .push("outbox rows in an XA transaction".to_owned());
            }
            transaction.parts.push(Part::Rows(rows));
            Ok(None)
        }
        StreamEvent::Xid | StreamEvent::XaPrepare => Ok(close(open, file.as_str())),
        StreamEvent::Query { schema, query } => {
            let Some(transaction) = open.as_mut() else {
                return Ok(None);
            };
            let statement = query.trim().trim_end_matches(';').trim();
            let verb = statement
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            if statement.eq_ignore_ascii_case("BEGIN") {
                return Ok(None);
            }
            if statement.eq_ignore_ascii_case("COMMIT") {
                return Ok(close(open, file.as_str()));
            }
            if statement.eq_ignore_ascii_case("ROLLBACK") {
                // Its transactional part, outbox rows included, did not happen.
                transaction.parts.clear();
                return Ok(close(open, file.as_str()));
            }
            if verb == "ROLLBACK" && transaction.rows().next().is_some() {
                transaction.problems.push(format!(
                    "{statement}: whether it undid outbox rows cannot be told"
                ));
            } else if verb == "XA" && transaction.rows().next().is_some() {
                transaction
                    .problems
                    .push("outbox rows in an XA transaction".to_owned());
            } else if let Some(touched) = tables.touched_outbox(&schema, statement) {
                transaction.parts.push(Part::Statement(OutboxStatement {
                    kind: crate::transaction::statement_kind(&verb),
                    verb,
                    touched,
                    default_schema: schema,
                    text: statement.to_owned(),
                }));
            }
            if transaction.flags & gtid_flags::STANDALONE != 0 {
                return Ok(close(open, file.as_str()));
            }
            Ok(None)
        }
        StreamEvent::Heartbeat | StreamEvent::Nothing => Ok(None),
    }
}
